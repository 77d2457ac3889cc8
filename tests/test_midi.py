"""MIDI reading/writing, piano rolls in both semantics, and bad files."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgen_lib.data import (NoteList, midi_to_roll, notes_to_roll, onset_to_sounding,
                               read_midi, roll_to_midi, roll_to_notes, write_midi)
from musicgen_lib.data.midi import MAX_NOTE_QUARTERS, MAX_QUARTERS
from musicgen_lib.errors import MidiError

TPB = 480


def _notes(triples, tpb=TPB, step=TPB // 4):
    """NoteList from (start_step, end_step, pitch) triples on the 16th grid."""
    s, e, p = zip(*triples)
    return NoteList.from_arrays(np.array(s) * step, np.array(e) * step, p, ticks_per_beat=tpb)


def test_sounding_and_onset_rolls():
    notes = _notes([(0, 4, 60), (2, 3, 64), (4, 8, 60)])
    sounding = notes_to_roll(notes)
    onset = notes_to_roll(notes, semantics="onset")
    assert sounding.shape == onset.shape == (8, 88)
    assert sounding[:, 60 - 21].tolist() == [1] * 8  # two notes, one continuous run
    assert sounding[:, 64 - 21].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    assert np.flatnonzero(onset[:, 60 - 21]).tolist() == [0, 4]  # the re-strike survives


def test_onset_not_erased_by_note_off_on_same_step():
    # The author's loader erased an onset when the previous note of the key ended on
    # the same step; ours builds onsets from note starts only.
    notes = _notes([(0, 2, 60), (2, 4, 60), (2, 4, 67)])
    onset = notes_to_roll(notes, semantics="onset")
    assert onset[2, 60 - 21] == 1 and onset[0, 60 - 21] == 1


def test_velocity_channel():
    notes = NoteList.from_arrays([0, 480], [480, 960], [60, 62], [100, 30])
    roll, vel = notes_to_roll(notes, velocity=True)
    assert vel[0, 60 - 21] == 100 and vel[3, 62 - 21] == 0 and vel[4, 62 - 21] == 30
    assert ((vel > 0) == (roll > 0)).all()
    back = roll_to_notes(roll, velocity=vel)
    assert back.velocity.tolist() == [100, 30]


def test_onset_playback_holds_until_next_onset():
    onset = np.zeros((8, 88), np.uint8)
    onset[0, 39] = onset[0, 43] = 1
    onset[5, 46] = 1
    heard = onset_to_sounding(onset)
    assert np.flatnonzero(heard[:, 39]).tolist() == [0, 1, 2, 3, 4]
    assert np.flatnonzero(heard[:, 46]).tolist() == [5, 6, 7]


def _random_roll(draw_bits, T):
    rng = np.random.default_rng(draw_bits)
    roll = (rng.random((T, 88)) < 0.08).astype(np.uint8)
    return roll


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), T=st.integers(1, 64),
       semantics=st.sampled_from(["sounding", "onset"]), spb=st.sampled_from([1, 2, 4]))
def test_roll_midi_roll_is_exact(tmp_path_factory, seed, T, semantics, spb):
    roll = _random_roll(seed, T)
    if semantics == "sounding":
        roll[-1, 0] = 1  # pin the length: a sounding roll ends with its last note
    path = tmp_path_factory.mktemp("rt") / "x.mid"
    roll_to_midi(roll, path, steps_per_beat=spb, semantics=semantics)
    back = midi_to_roll(path, steps_per_beat=spb, semantics=semantics)
    if semantics == "onset":  # trailing onset-free steps are not stored in MIDI
        back = np.pad(back, ((0, T - len(back)), (0, 0)))[:T]
    np.testing.assert_array_equal(back, roll)


def test_midi_roll_midi_roll_on_real_file(tmp_path):
    from music21 import corpus  # a real score, written out as MIDI by music21
    s = corpus.parse("bach/bwv269")
    src = tmp_path / "bwv269.mid"
    s.write("midi", fp=str(src))
    for semantics in ("sounding", "onset"):
        roll = midi_to_roll(src, semantics=semantics)
        roll_to_midi(roll, tmp_path / "back.mid", semantics=semantics)
        again = midi_to_roll(tmp_path / "back.mid", semantics=semantics)
        np.testing.assert_array_equal(again, roll[:len(again)])
        assert not roll[len(again):].any()


def test_write_and_read_keep_ticks(tmp_path):
    notes = _notes([(0, 4, 60), (1, 9, 72), (3, 4, 21), (3, 5, 108)])
    write_midi(notes, tmp_path / "a.mid")
    back = read_midi(tmp_path / "a.mid")
    assert back.start.tolist() == notes.start.tolist()
    assert back.end.tolist() == notes.end.tolist()
    assert back.pitch.tolist() == notes.pitch.tolist()


GOOD_HEADER = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0"


@pytest.mark.parametrize("content, problem", [
    (b"", "empty file"),
    (b"hello, I am not a MIDI file at all", "not a MIDI file"),
    (b"MThd\x00\x00", "truncated MIDI header"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\xe7\x28", "SMPTE"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x00", "time division 0"),
    (GOOD_HEADER + b"MTrk\x00\x00\x01\x00\x00\x90", "truncated file"),
    (GOOD_HEADER, "truncated file (header announces 1 tracks, found 0)"),
    (GOOD_HEADER + b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", "no notes"),
])
def test_bad_files_give_one_line(tmp_path, content, problem):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MidiError) as e:
        read_midi(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)) and problem in msg


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MidiError, match="no such file"):
        read_midi(tmp_path / "nope.mid")
    with pytest.raises(MidiError, match="is a directory"):
        read_midi(tmp_path)


def test_pipes_and_huge_files_are_refused_before_reading(tmp_path, monkeypatch):
    import os

    import musicgen_lib.data.midi as midi

    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    with pytest.raises(MidiError, match="not a regular file"):  # opening it would hang
        read_midi(fifo)
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + bytes(2000))
    monkeypatch.setattr(midi, "MAX_FILE_BYTES", 1000)
    with pytest.raises(MidiError, match="too large"):
        read_midi(big)


def test_absurd_length_is_refused_without_allocating(tmp_path):
    notes = NoteList.from_arrays([0, 10 ** 9], [480, 10 ** 9 + 480], [60, 60])
    write_midi(notes, tmp_path / "long.mid")
    with pytest.raises(MidiError, match="too long"):
        read_midi(tmp_path / "long.mid")


def test_chord_held_for_hours_is_refused_without_allocating(tmp_path):
    # Found by scripts/fuzz_midi.py: 88 keys held for just under MAX_QUARTERS passed the
    # length check, and the piano roll built from every step of every note took gigabytes.
    d = (MAX_QUARTERS - 1) * TPB
    write_midi(NoteList.from_arrays([0] * 88, [d] * 88, range(21, 109)), tmp_path / "c.mid")
    with pytest.raises(MidiError, match="notes too long in all"):
        midi_to_roll(tmp_path / "c.mid")
    n = MAX_NOTE_QUARTERS // (MAX_QUARTERS - 1)  # as many such notes as the limit allows
    write_midi(NoteList.from_arrays([0] * n, [d] * n, range(60, 60 + n)), tmp_path / "ok.mid")
    assert len(read_midi(tmp_path / "ok.mid")) == n


def test_a_roll_longer_than_the_bound_is_refused_before_allocation(tmp_path):
    """A tiny valid file whose one note lasts for hours becomes a roll of millions of steps
    at a fine grid: refused with one line naming the file (and skipped by datasets), not
    allocated."""
    from musicgen_lib.data import NoteList, load_dataset, notes_to_roll, write_midi
    from musicgen_lib.data.pianoroll import MAX_ROLL_STEPS
    from musicgen_lib.errors import MidiError

    folder = tmp_path / "midi"
    folder.mkdir()
    write_midi(NoteList.from_arrays([0], [480 * 30_000], [60]), folder / "endless.mid")
    write_midi(NoteList.from_arrays([0, 480], [480, 960], [60, 64]), folder / "short.mid")
    notes = NoteList.from_arrays([0], [480 * 30_000], [60], source="endless.mid")
    with pytest.raises(MidiError, match=r"endless.mid: 2,880,000 steps long at 96 steps per beat"):
        notes_to_roll(notes, 96)
    assert len(notes_to_roll(notes, 4)) == 120_000 <= MAX_ROLL_STEPS  # a coarser grid is fine
    ds = load_dataset("midi", folder, steps_per_beat=96, cache=False)
    assert [p.name for p in ds.pieces()] == ["short.mid"]
    assert [(s.file.endswith("endless.mid"), "steps per beat" in s.reason) for s in ds.skipped] \
        == [(True, True)]
