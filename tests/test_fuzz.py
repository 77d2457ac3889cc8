"""A short, seeded run of the MIDI fuzzer (scripts/fuzz_midi.py runs 10 000 mutants): every
mutant of three small files loads, is filtered, or fails with a one-line MidiError."""
import resource
import struct
from collections import Counter

import pytest
from symusic import ControlChange, Note, PitchBend, Score, Tempo, TimeSignature, Track

from musicgen_lib.data import NoteList, load_dataset, write_midi

import midi_chunks
import midi_fuzz as fuzz

N_MUTANTS = 200


@pytest.fixture(autouse=True)
def small_copies(monkeypatch):
    """Thousands of copied tracks, not tens of thousands: the same paths, in a few seconds."""
    monkeypatch.setattr(fuzz, "MANY_TRACKS_BYTES", 100_000)


def _running_status_file() -> bytes:
    """Format 0, one track written with running status (note-offs as velocity-0 note-ons)."""
    ev = [[0, b"\xff\x51\x03\x07\xa1\x20"], [0, b"\xff\x58\x04\x03\x02\x18\x08"], [0, b"\x90\x3c\x50"]]
    body = midi_chunks.join_track(ev) + b"".join(midi_chunks.vlq(d) + e for d, e in [
        (0, b"\x40\x50"), (240, b"\x3c\x00"), (0, b"\x40\x00"), (0, b"\x3e\x60"), (480, b"\x3e\x00")])
    body += b"\x00\xff\x2f\x00"
    return midi_chunks.join_file(struct.pack(">HHH", 0, 1, 96), [[b"MTrk", body]])


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    write_midi(NoteList.from_arrays([0, 480, 960, 960], [480, 960, 1920, 1440], [60, 64, 67, 72]),
               d / "simple.mid")
    score = Score(384)
    score.tempos.extend([Tempo(0, 100.0), Tempo(768, 60.0)])
    score.time_signatures.append(TimeSignature(0, 3, 4))
    for program, pitches in [(0, [72, 74, 76]), (33, [36, 43])]:
        t = Track(program=program)
        for i, p in enumerate(pitches * 3):
            t.notes.append(Note(i * 192, 180, p, 40 + 10 * i))
        t.controls.append(ControlChange(0, 64, 127))
        t.pitch_bends.append(PitchBend(100, 2000))
        score.tracks.append(t)
    score.dump_midi(str(d / "two_tracks.mid"))
    (d / "running_status.mid").write_bytes(_running_status_file())
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_structure_round_trip(sources):
    for data in sources.values():
        header, chunks, tail = midi_chunks.split_file(data)
        assert midi_chunks.join_file(header, chunks, tail) == data
        for tag, body in chunks:
            events = midi_chunks.parse_track(body)
            assert events and midi_chunks.parse_track(midi_chunks.join_track(events)) == events


def test_mutants_are_seeded(sources):
    data = sources["two_tracks.mid"]
    assert fuzz.mutant(data, "0:7") == fuzz.mutant(data, "0:7")
    assert len({fuzz.mutant(data, f"0:{i}")[0] for i in range(20)}) > 15


def test_seeded_fuzz_run_gives_only_midi_errors(sources, tmp_path):
    names = sorted(sources)
    outcomes, used = Counter(), Counter()
    path = tmp_path / "mutant.mid"
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # MB
    for i in range(N_MUTANTS):
        src = names[i % len(names)]
        data, muts = fuzz.mutant(sources[src], f"test:{i}")
        used.update(muts)
        path.write_bytes(data)
        try:
            outcome, _ = fuzz.load(path)
        except Exception as e:
            pytest.fail(f"mutant {i} of {src} ({'+'.join(muts)}): {type(e).__name__}: {e}")
        outcomes[outcome] += 1
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - peak_before
    assert grew < 500, f"the loader's peak memory grew by {grew} MB"
    assert set(used) == set(fuzz.MUTATIONS)  # every mutation took part
    assert outcomes["MidiError"] > 50 and outcomes["ok"] + outcomes["filtered"] > 20


def test_load_dataset_skips_mutants_with_one_line_reasons(sources, tmp_path):
    n = 40
    for i in range(n):
        data, _ = fuzz.mutant(sources["simple.mid"], f"dataset:{i}")
        (tmp_path / f"m{i:02d}.mid").write_bytes(data)
    ds = load_dataset("midi", tmp_path, cache=False)
    assert len(ds.pieces()) + len(ds.skipped) == n and ds.skipped
    assert all(s.reason and "\n" not in s.reason for s in ds.skipped)
