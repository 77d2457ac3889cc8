"""Performance RNN's event representation (thesis §5.7): vocabulary, hand-written
sequences, the overlap policy, exact round trips on the 10 ms grid, bad sequences, and
real piano-midi.de pieces."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgen_lib.data.events import (GRID_TICKS_PER_BEAT, MAX_SHIFT_STEPS, NOTE_OFF, NOTE_ON,
                                      TIME_SHIFT, VELOCITY, VOCAB_SIZE, bin_velocity,
                                      event_id, event_kind, event_name, event_stats,
                                      events_to_notes, notes_to_events, read_performance,
                                      ticks_to_steps, to_grid, velocity_bin)
from musicgen_lib.data.midi import NoteList, read_midi, tempo_map
from musicgen_lib.errors import DataError

PIECES = ["Bach/bach_846.mid", "Chopin/chpn-p7.mid", "Schumann/scn15_4.mid",
          "Clementi/clementi_opus36_1_2.mid"]


def _grid(start, end, pitch, velocity=None):
    """A note list on the performance grid (ticks are 10 ms steps)."""
    return NoteList.from_arrays(start, end, pitch, velocity, ticks_per_beat=GRID_TICKS_PER_BEAT)


def _names(events):
    return [event_name(e) for e in events]


def _same(a: NoteList, b: NoteList) -> bool:
    return (a.ticks_per_beat == b.ticks_per_beat and len(a) == len(b)
            and all(np.array_equal(getattr(a, k), getattr(b, k))
                    for k in ("start", "end", "pitch", "velocity")))


# ---------------------------------------------------------------- vocabulary

def test_vocabulary_has_388_events_in_magentas_order():
    assert VOCAB_SIZE == 128 + 128 + 100 + 32 == 388
    assert (NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY) == (0, 128, 256, 356)
    for e in range(VOCAB_SIZE):
        assert event_id(*event_kind(e)) == e
    assert _names([0, 127, 128, 255, 256, 355, 356, 387]) == [
        "NOTE_ON 0", "NOTE_ON 127", "NOTE_OFF 0", "NOTE_OFF 127", "TIME_SHIFT 10 ms",
        "TIME_SHIFT 1000 ms", "VELOCITY 0 (MIDI 1)", "VELOCITY 31 (MIDI 125)"]
    with pytest.raises(DataError, match="TIME_SHIFT takes 1…100, not 0"):
        event_id("TIME_SHIFT", 0)
    with pytest.raises(DataError, match="388 is not an event id"):
        event_name(388)


def test_velocity_bins_of_four():
    assert velocity_bin([1, 4, 5, 100, 124, 125, 127]).tolist() == [0, 0, 1, 24, 30, 31, 31]
    assert velocity_bin([0, 200]).tolist() == [0, 31]  # clipped to MIDI's 1…127
    assert bin_velocity(np.arange(32)).tolist() == list(range(1, 128, 4))
    assert (velocity_bin(bin_velocity(np.arange(32))) == np.arange(32)).all()


# ---------------------------------------------------------------- hand-written sequences

def test_two_overlapping_notes():
    # C4 at 0–300 ms (velocity 100), E4 at 100–200 ms (velocity 40).
    events = notes_to_events(_grid([0, 10], [30, 20], [60, 64], [100, 40]))
    assert _names(events) == [
        "VELOCITY 24 (MIDI 97)", "NOTE_ON 60", "TIME_SHIFT 100 ms",
        "VELOCITY 9 (MIDI 37)", "NOTE_ON 64", "TIME_SHIFT 100 ms", "NOTE_OFF 64",
        "TIME_SHIFT 100 ms", "NOTE_OFF 60"]
    assert events.dtype == np.int64
    back = events_to_notes(events)
    assert back.start.tolist() == [0, 10] and back.end.tolist() == [30, 20]
    assert back.velocity.tolist() == [97, 37]  # the lowest velocity of each bin


def test_chord_offs_before_ons_and_by_pitch():
    # A chord G-C (ends at 50 ms) followed at once by a chord that re-strikes G.
    events = notes_to_events(_grid([0, 0, 5, 5], [5, 5, 9, 9], [67, 60, 67, 64], [80] * 4))
    assert _names(events) == [
        "VELOCITY 19 (MIDI 77)", "NOTE_ON 60", "NOTE_ON 67", "TIME_SHIFT 50 ms",
        "NOTE_OFF 60", "NOTE_OFF 67", "NOTE_ON 64", "NOTE_ON 67", "TIME_SHIFT 40 ms",
        "NOTE_OFF 64", "NOTE_OFF 67"]


def test_long_gaps_become_one_second_shifts_then_the_rest():
    events = notes_to_events(_grid([250, 501], [251, 502], [60, 62], [1, 1]))
    shifts = [event_kind(e)[1] for e in events if event_kind(e)[0] == "TIME_SHIFT"]
    assert shifts == [100, 100, 50, 1, 100, 100, 50, 1]
    assert MAX_SHIFT_STEPS == 100
    back = events_to_notes(events)
    assert back.start.tolist() == [250, 501]


def test_velocity_event_only_when_the_bin_changes():
    events = notes_to_events(_grid([0, 1, 2, 3], [1, 2, 3, 4], [60] * 4, [97, 100, 97, 20]))
    assert [e - VELOCITY for e in events if e >= VELOCITY] == [24, 4]


def test_one_key_struck_while_sounding_keeps_onsets_and_sounding_time():
    # A (0–100) is struck again by B (20–40), then C (60–70): the key sounds 0–100 in all.
    notes = _grid([0, 20, 60], [100, 40, 70], [60, 60, 60], [100, 50, 50])
    events = notes_to_events(notes)
    assert _names(events) == [
        "VELOCITY 24 (MIDI 97)", "NOTE_ON 60", "TIME_SHIFT 200 ms", "NOTE_OFF 60",
        "VELOCITY 12 (MIDI 49)", "NOTE_ON 60", "TIME_SHIFT 400 ms", "NOTE_OFF 60",
        "NOTE_ON 60", "TIME_SHIFT 400 ms", "NOTE_OFF 60"]
    back = events_to_notes(events)
    assert list(zip(back.start.tolist(), back.end.tolist())) == [(0, 20), (20, 60), (60, 100)]


def test_same_key_same_step_merges_to_longest_and_loudest():
    back = to_grid(_grid([0, 0, 0], [5, 9, 3], [60, 60, 61], [30, 90, 50]))
    assert list(zip(back.start.tolist(), back.end.tolist(), back.pitch.tolist(),
                    back.velocity.tolist())) == [(0, 9, 60, 89), (0, 3, 61, 49)]


def test_ticks_to_steps_through_a_tempo_map():
    tempos = [(0, 500_000), (960, 1_000_000)]  # 120 bpm for two beats, then 60 bpm
    steps = ticks_to_steps([0, 4, 5, 960, 1200, 1440], 480, tempos)
    # 4 ticks = 4.17 ms -> 0; 5 ticks = 5.21 ms -> 1 step; two beats = 1 s; then 1 s a beat.
    assert steps.tolist() == [0, 0, 1, 100, 150, 200]
    assert ticks_to_steps([0, 480], 480).tolist() == [0, 50]  # no map: 120 bpm
    assert ticks_to_steps([480], 480, [(480, 250_000)]).tolist() == [50]  # 120 bpm before it


def test_notes_in_ticks_are_quantised_and_short_notes_last_a_step():
    notes = NoteList.from_arrays([0, 480, 481], [1, 960, 482], [60, 62, 64], [64, 64, 64])
    grid = to_grid(notes)  # 480 ticks a beat at 120 bpm: 50 steps a beat
    assert grid.start.tolist() == [0, 50, 50] and grid.end.tolist() == [1, 100, 51]
    assert grid.velocity.tolist() == [61, 61, 61] and grid.ticks_per_beat == 50
    assert _same(events_to_notes(notes_to_events(notes)), grid)


def test_empty_and_stats():
    empty = _grid([], [], [])
    assert notes_to_events(empty).tolist() == []
    assert len(events_to_notes([])) == 0
    stats = event_stats(notes_to_events(_grid([0, 10], [30, 20], [60, 64], [100, 40])))
    assert stats == {"events": 9, "note_on": 2, "note_off": 2, "time_shift": 3, "velocity": 2,
                     "seconds": 0.3, "events_per_second": 30.0}


# ---------------------------------------------------------------- bad sequences

ON, OFF, V, S = NOTE_ON + 60, NOTE_OFF + 60, VELOCITY + 20, TIME_SHIFT + 4


@pytest.mark.parametrize("events, message", [
    ([V, ON, S, 400], "event 3: 400 is not an event id"),
    ([V, ON, -1], "event 2: -1 is not an event id"),
    ([[V, ON]], "1-D"),
    ([356.5], "whole numbers"),
    ([V, ON, S, OFF, OFF], r"event 4 \(NOTE_OFF 60\): key 60 is not sounding"),
    ([V, ON, S, ON, S, OFF], r"event 3 \(NOTE_ON 60\): key 60 is already sounding "
                             r"\(struck at event 1\)"),
    ([ON, S, OFF], r"event 0 \(NOTE_ON 60\): a note before any VELOCITY"),
    ([V, ON, OFF], r"event 2 \(NOTE_OFF 60\): the note ends on the step it started"),
    ([V, ON, S, NOTE_ON + 64, S, OFF], r"event 3 \(NOTE_ON 64\): the note is never released"),
])
def test_invalid_sequences_name_the_position(events, message):
    with pytest.raises(DataError, match=message):
        events_to_notes(events)


def test_lenient_decoding_plays_what_it_can():
    notes = events_to_notes([OFF, ON, S, ON, S, V, NOTE_ON + 64, OFF, OFF, S], strict=False)
    # stray OFF skipped; ON before VELOCITY at 64; re-strike ends the first note at step 5;
    # 64 never released: ends with the last shift (step 15).
    assert list(zip(notes.start.tolist(), notes.end.tolist(), notes.pitch.tolist(),
                    notes.velocity.tolist())) == [(0, 5, 60, 64), (5, 10, 60, 64),
                                                  (10, 15, 64, 81)]
    with pytest.raises(DataError, match="not an event id"):
        events_to_notes([V, 388], strict=False)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 60))
def test_any_sequence_decodes_leniently(seed, n):
    events = np.random.default_rng(seed).integers(0, VOCAB_SIZE, n)
    notes = events_to_notes(events, strict=False)
    assert (notes.end > notes.start).all()
    assert _same(events_to_notes(notes_to_events(notes)), to_grid(notes))


# ---------------------------------------------------------------- round trips

def _random_grid_notes(rng, n):
    """Notes on the grid with at most one sounding note per key, built without the library:
    random notes, then of one key's overlapping notes only the first is kept."""
    start = rng.integers(0, 3000, n)
    end = start + rng.integers(1, 300, n)
    pitch = rng.integers(0, 128, n)
    velocity = 1 + 4 * rng.integers(0, 32, n)
    keep, free_from = [], {}
    for i in np.lexsort((start, pitch)):
        if start[i] >= free_from.get(pitch[i], 0):
            keep.append(i)
            free_from[pitch[i]] = end[i]
    keep = np.array(keep, np.int64)
    return _grid(start[keep], end[keep], pitch[keep], velocity[keep])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 80))
def test_grid_notes_survive_exactly(seed, n):
    notes = _random_grid_notes(np.random.default_rng(seed), n)
    events = notes_to_events(notes)
    assert _same(events_to_notes(events), notes)
    assert (notes_to_events(events_to_notes(events)) == events).all()


def _sounding_and_onsets(notes: NoteList, steps_start, steps_end):
    """Per key: the set of steps it sounds and the set of steps it is struck."""
    sounding, onsets = {}, {}
    for s, e, p in zip(steps_start.tolist(), steps_end.tolist(), notes.pitch.tolist()):
        sounding.setdefault(p, set()).update(range(s, max(e, s + 1)))
        onsets.setdefault(p, set()).add(s)
    return sounding, onsets


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 60))
def test_any_notes_keep_each_keys_onsets_and_sounding_time(seed, n):
    # Off the grid, overlapping, through a tempo map: what each key does survives.
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 4000, n)
    notes = NoteList.from_arrays(start, start + rng.integers(1, 900, n), rng.integers(58, 63, n),
                                 rng.integers(1, 128, n), ticks_per_beat=480)
    tempos = [(0, 400_000), (int(rng.integers(1, 4000)), int(rng.integers(200_000, 2_000_000)))]
    grid = to_grid(notes, tempos)
    assert _same(events_to_notes(notes_to_events(notes, tempos)), grid)
    assert _same(to_grid(grid), grid)
    before = _sounding_and_onsets(notes, ticks_to_steps(notes.start, 480, tempos),
                                  ticks_to_steps(notes.end, 480, tempos))
    assert _sounding_and_onsets(grid, grid.start, grid.end) == before


# ---------------------------------------------------------------- real pieces

@pytest.mark.parametrize("piece", PIECES)
def test_piano_midi_de_pieces_survive_exactly_on_the_grid(piano_midi_de, piece):
    path = piano_midi_de / "midis" / piece
    grid = read_performance(path)
    events = notes_to_events(grid)
    assert _same(events_to_notes(events), grid)
    assert (notes_to_events(read_midi(path), tempo_map(path.read_bytes())) == events).all()
    stats = event_stats(events)
    assert stats["note_on"] == len(grid) and 5 < stats["events_per_second"] < 200


def test_steps_agree_with_mido_seconds(piano_midi_de):
    # mido walks the tempo map in float64 seconds: our integer steps are within half a step.
    import mido

    path = piano_midi_de / "midis" / PIECES[0]
    now, onsets = 0.0, []
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append(now)
    notes = read_midi(path)
    steps = ticks_to_steps(notes.start, notes.ticks_per_beat, tempo_map(path.read_bytes()))
    assert len(onsets) == len(steps)
    assert np.abs(np.sort(steps) / 100 - np.sort(onsets)).max() <= 0.005 + 1e-9
