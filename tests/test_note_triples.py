"""BachProp's note triples (thesis §5.8): the 21-value grid, hand-written scores, exact
round trips on the grid, quantisation off it, bad triples, and real piano-midi.de pieces."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgen_lib.data.midi import NoteList, read_midi
from musicgen_lib.data.note_triples import (GRID, GRID_NAMES, GRID_STEPS, STEPS_PER_QUARTER,
                                            grid_report, notes_to_triples, snap_to_grid,
                                            triples_to_notes)
from musicgen_lib.errors import DataError

PIECES = ["Bach/bach_846.mid", "Chopin/chpn-p7.mid", "Schumann/scn15_4.mid",
          "Clementi/clementi_opus36_1_2.mid"]
Q = 480  # ticks per quarter note of the examples (and of every piano-midi.de file)


def _index(value: str) -> int:
    return GRID.index(Fraction(value))


def _notes(onsets, durations, pitches, tpb=Q):
    """A note list from onsets and durations in quarter notes (strings or numbers)."""
    start = [Fraction(o) * tpb for o in onsets]
    end = [s + Fraction(d) * tpb for s, d in zip(start, durations)]
    assert all(x.denominator == 1 for x in start + end)
    return NoteList.from_arrays([int(x) for x in start], [int(x) for x in end], pitches,
                                ticks_per_beat=tpb)


def _same_notes(a: NoteList, b: NoteList) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("start", "end", "pitch"))


def test_the_grid_has_21_values_including_0():
    assert len(GRID) == len(GRID_NAMES) == len(GRID_STEPS) == 21
    assert GRID[0] == 0 and list(GRID) == sorted(GRID) and len(set(GRID)) == 21
    assert (GRID_STEPS == [int(v * STEPS_PER_QUARTER) for v in GRID]).all()
    assert all((v * STEPS_PER_QUARTER).denominator == 1 for v in GRID)
    assert dict(zip(GRID_NAMES, GRID))["quarter"] == 1
    assert dict(zip(GRID_NAMES, GRID))["8th triplet"] == Fraction(1, 3)
    assert dict(zip(GRID_NAMES, GRID))["dotted quarter"] == Fraction(3, 2)


def test_a_hand_written_score():
    # A C-major chord (quarter), then an 8th-note triplet E-F-G, then a dotted half C5.
    notes = _notes(["1/4", "1/4", "1/4", "5/4", "19/12", "23/12", "9/4"],
                   [1, 1, 1, "1/3", "1/3", "1/3", 3], [64, 60, 67, 64, 65, 67, 72])
    triples = notes_to_triples(notes)
    assert triples.dtype == np.int64 and triples.shape == (7, 3)
    assert [(str(GRID[a]), str(GRID[b]), p) for a, b, p in triples.tolist()] == [
        ("1/4", "1", 60), ("0", "1", 64), ("0", "1", 67),  # from the start; chord upwards
        ("1", "1/3", 64), ("1/3", "1/3", 65), ("1/3", "1/3", 67),
        ("1/3", "3", 72)]
    assert _same_notes(triples_to_notes(triples), notes)


def test_quantisation_does_not_drift():
    # Onsets a tick or two off a run of 8th-note triplets (160 ticks apart): every dT is the
    # triplet value, and each quantised onset is at most 2 ticks from the true one.
    notes = NoteList.from_arrays([0, 161, 319, 481, 642, 799], [150, 310, 470, 630, 790, 950],
                                 [60] * 6, ticks_per_beat=Q)
    triples = notes_to_triples(notes)
    assert triples[:, 0].tolist() == [0] + [_index("1/3")] * 5
    assert triples[:, 1].tolist() == [_index("1/3")] * 6  # 150 ticks -> 160
    back = triples_to_notes(triples)
    assert back.start.tolist() == [0, 160, 320, 480, 640, 800]
    report = grid_report(notes)
    assert report.max_onset_error == pytest.approx(2 / Q)
    assert report.dt_on_grid == pytest.approx(1 / 6)  # only the first (0)


def test_long_values_are_clipped_and_the_lag_caught_up():
    # A rest of 10 quarters (more than a breve, 8): that note comes 2 quarters early, and
    # the next one, half a quarter after it, is placed 8/3 later to catch up as near as the
    # grid allows (true 2 1/2).
    notes = _notes([0, 10, "21/2"], [12, "1/2", "1/2"], [60, 62, 64])
    triples = notes_to_triples(notes)
    assert [str(GRID[i]) for i in triples[:, 0]] == ["0", "8", "8/3"]
    assert str(GRID[triples[0, 1]]) == "8"  # 12 quarters last 8
    report = grid_report(notes)
    assert report.dt_over_max == pytest.approx(1 / 3)
    assert report.duration_over_max == pytest.approx(1 / 3)
    assert report.max_duration_error == pytest.approx(4)


def test_ticks_per_beat_not_divisible_by_48_rounds_from_the_start():
    triples = np.array([[_index("1/3"), _index("1/3"), 60]] * 4)
    notes = triples_to_notes(triples, ticks_per_beat=100)  # 1/3 quarter = 33.3 ticks
    assert notes.start.tolist() == [33, 67, 100, 133] and notes.end.tolist() == [67, 100, 133, 167]


def test_empty():
    empty = NoteList.from_arrays([], [], [])
    assert notes_to_triples(empty).shape == (0, 3)
    assert len(triples_to_notes(np.zeros((0, 3), np.int64))) == 0
    assert grid_report(empty).notes == 0


@pytest.mark.parametrize("triples, message", [
    ([[0, 12]], r"\(N, 3\) array"),
    ([[0.5, 12, 60]], "whole numbers"),
    ([[0, 12, 60], [21, 12, 60]], r"triple 1 \[21, 12, 60\]: dT index 21 is not 0…20"),
    ([[0, -1, 60]], "T index -1"),
    ([[0, 12, 60], [0, 0, 62]], r"triple 1 \[0, 0, 62\]: T index 0: a note cannot last 0"),
    ([[0, 12, 128]], "pitch 128 is outside MIDI 0…127"),
])
def test_bad_triples_name_the_first_bad_one(triples, message):
    with pytest.raises(DataError, match=message):
        triples_to_notes(triples)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 80),
       tpb=st.sampled_from([48, 96, 192, 384, 480, 960]))
def test_notes_on_the_grid_survive_exactly(seed, n, tpb):
    rng = np.random.default_rng(seed)
    # Onsets a sum of grid values (chords where dT is 0), durations non-zero grid values.
    onset = np.cumsum(GRID_STEPS[rng.integers(0, 21, n)] * tpb // STEPS_PER_QUARTER)
    length = GRID_STEPS[rng.integers(1, 21, n)] * tpb // STEPS_PER_QUARTER
    notes = NoteList.from_arrays(onset, onset + length, rng.integers(21, 109, n),
                                 ticks_per_beat=tpb)
    triples = notes_to_triples(notes)
    assert _same_notes(triples_to_notes(triples, tpb), notes)
    report = grid_report(notes)
    assert n == 0 or (report.exact == 1 and report.max_onset_error == 0
                      and report.max_duration_error == 0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 60))
def test_any_notes_snap_to_a_fixed_point(seed, n):
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 8 * Q, n)  # no rest over 8 quarters
    notes = NoteList.from_arrays(start, start + rng.integers(1, 6 * Q, n),
                                 rng.integers(21, 109, n), ticks_per_beat=Q)
    snapped = snap_to_grid(notes)
    assert len(snapped) == n and grid_report(snapped).exact == 1
    assert (notes_to_triples(snapped) == notes_to_triples(notes)).all()
    assert _same_notes(snap_to_grid(snapped), snapped)
    # Error feedback: no onset is further from where it was than half the largest gap
    # between grid values (6 to 8 quarters), however many notes come before it.
    assert grid_report(notes).max_onset_error <= 1 + 1e-9


@pytest.mark.parametrize("piece", PIECES)
def test_piano_midi_de_pieces_survive_exactly_once_snapped(piano_midi_de, piece):
    notes = read_midi(piano_midi_de / "midis" / piece)
    triples = notes_to_triples(notes)
    snapped = triples_to_notes(triples, notes.ticks_per_beat)
    assert len(snapped) == len(notes)
    assert (notes_to_triples(snapped) == triples).all()
    assert _same_notes(triples_to_notes(notes_to_triples(snapped)), snapped)
    report = grid_report(notes)
    assert 0.5 < report.dt_on_grid <= 1 and 0 < report.duration_on_grid <= 1
    assert report.mean_onset_error < 0.05  # quarter notes
    assert grid_report(snapped).exact == 1
