"""Note lists <-> BachProp's note triples (thesis §5.8).

BachProp (Colombo & Gerstner 2018) writes a score as one triple per note, in order of
onset (ascending pitch within a chord)::

    (dT, T, P) = (time since the previous note's onset, duration, MIDI pitch)

The thesis (§5.8): dT and T each take one of a finite set of **21** values including 0,
in discrete time steps, and P one of 88; "empty events" do not exist, so every time
interval of a piece must be quantised onto the set. The thesis does not list the 21
values, and BachProp's published code (github.com/FlorianColombo/BachProp,
``src/BachProp.py``, ``processData``) has no fixed list either: it snaps times to the
nearest multiple of 1/16 or 1/12 of a quarter note (a 64th note, a 32nd-note triplet),
up to 64 quarters, and keeps the values its corpus uses, so the count depends on the
corpus (snapped that way, music21's chorales use 12 values of dT and 24 of T, by our
count). :data:`GRID` is therefore this project's fixed choice of 21 values, in quarter
notes, built on the same finest units:

* 0 (a note struck with the previous one);
* the plain note values from a 64th to a breve: 1/16, 1/8, 1/4, 1/2, 1, 2, 4, 8;
* the dotted ones from a dotted 32nd to a dotted whole: 3/16, 3/8, 3/4, 3/2, 3, 6;
* the triplet ones from a 32nd triplet to a whole-note triplet: 1/12, 1/6, 1/3, 2/3,
  4/3, 8/3.

All are multiples of 1/48 quarter note (:data:`GRID_STEPS`), so at any ``ticks_per_beat``
divisible by 48 (480, the piano-midi.de files' value, is) they are whole ticks and a note
list whose onset intervals and durations lie on the grid survives notes → triples →
notes exactly. Triples are class indices (what a model predicts): ``(N, 3)`` int64 of
``[dT index, T index, pitch]``, indices into :data:`GRID`; a model with 88 pitch classes
subtracts :data:`~musicgen_lib.data.midi.LOWEST_KEY`.

Quantisation of a note list that is off the grid:

* dT with error feedback: each note's dT is the grid value nearest to the distance from
  the previous note's *quantised* onset to its own true onset, so errors do not add up
  along the piece; a gap over 8 quarters (the largest value) is caught up by the notes
  after it.
* T: the nearest non-zero grid value (longer notes last 8 quarters).
* nearest is linear distance, ties to the shorter value, as BachProp's ``findClosest``.

:func:`grid_report` says how far a piece is from the grid.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from ..errors import DataError
from .midi import NoteList

#: The 21 values of dT and T, in quarter notes (see the module docstring).
GRID = tuple(Fraction(v) for v in (
    "0", "1/16", "1/12", "1/8", "1/6", "3/16", "1/4", "1/3", "3/8", "1/2", "2/3", "3/4",
    "1", "4/3", "3/2", "2", "8/3", "3", "4", "6", "8"))
#: What each value of :data:`GRID` is as a note value.
GRID_NAMES = (
    "0", "64th", "32nd triplet", "32nd", "16th triplet", "dotted 32nd", "16th",
    "8th triplet", "dotted 16th", "8th", "quarter triplet", "dotted 8th", "quarter",
    "half triplet", "dotted quarter", "half", "whole triplet", "dotted half", "whole",
    "dotted whole", "breve")
#: Steps per quarter note of the finest common grid of :data:`GRID` (lcm of 16 and 12).
STEPS_PER_QUARTER = 48
#: :data:`GRID` in steps of 1/48 quarter note: ``(21,)`` int64.
GRID_STEPS = np.array([int(v * STEPS_PER_QUARTER) for v in GRID], np.int64)
N_VALUES = len(GRID)
#: The velocity of the notes :func:`triples_to_notes` makes (triples carry none).
DEFAULT_VELOCITY = 64


def _nearest(values, allowed) -> np.ndarray:
    """Index into ``allowed`` (sorted ``(K,)``) of the value nearest to each of ``values``
    (any shape, same unit); ties go to the smaller value."""
    values = np.asarray(values, np.float64)
    hi = np.clip(np.searchsorted(allowed, values), 1, len(allowed) - 1)
    lo = hi - 1
    return np.where(values - allowed[lo] <= allowed[hi] - values, lo, hi)


def _in_steps(ticks, ticks_per_beat: int) -> np.ndarray:
    """Ticks -> 1/48-quarter steps, as float64 (exact for on-grid ticks: both are whole
    numbers times 48 / ticks_per_beat, and float64 holds them exactly at these sizes)."""
    return np.asarray(ticks, np.int64) * STEPS_PER_QUARTER / int(ticks_per_beat)


def _quantise(notes: NoteList):
    """``(dt index (N,), duration index (N,), quantised onset in steps (N,), order (N,))``
    of a note list, ``order`` sorting the notes by (quantised onset, pitch)."""
    onset = _in_steps(notes.start, notes.ticks_per_beat)
    length = _in_steps(notes.end, notes.ticks_per_beat) - onset
    dt_index = np.empty(len(notes), np.int64)
    placed = np.empty(len(notes), np.int64)
    grid = GRID_STEPS.astype(np.float64)
    steps = GRID_STEPS.tolist()
    at = 0
    # Sequential: each dT is chosen from where the previous note was *placed*, not where it
    # was, so that rounding errors cancel instead of adding up. (Plain Python: a numpy call
    # per note would cost more than the arithmetic.)
    for i, want in enumerate(onset.tolist()):
        want -= at
        hi = min(max(bisect_left(steps, want), 1), N_VALUES - 1)
        k = hi - 1 if want - steps[hi - 1] <= steps[hi] - want else hi
        dt_index[i] = k
        at += steps[k]
        placed[i] = at
    duration_index = 1 + _nearest(length, grid[1:])  # a note lasts: never the 0 value
    order = np.lexsort((notes.pitch, placed))
    return dt_index, duration_index, placed, order


def notes_to_triples(notes: NoteList) -> np.ndarray:
    """BachProp's triples ``(N, 3)`` int64 ``[dT index, T index, MIDI pitch]`` of a note
    list (ticks), one per note, by onset then ascending pitch; indices into :data:`GRID`.
    dT of the first note is its onset from the start of the piece (tick 0)."""
    dt_index, duration_index, _, order = _quantise(notes)
    # Re-sorting only permutes notes within one quantised onset: dT stays where it is
    # (the first of a chord keeps the step to it, the rest 0).
    return np.stack([dt_index, duration_index[order], np.asarray(notes.pitch)[order]],
                    axis=1).astype(np.int64).reshape(-1, 3)


def _as_triples(triples) -> np.ndarray:
    """``triples`` as an ``(N, 3)`` int64 array of valid triples, or DataError naming the
    first bad one."""
    arr = np.asarray(triples)
    if arr.size == 0:
        return np.zeros((0, 3), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise DataError(f"triples are an (N, 3) array of [dT index, T index, pitch], not of "
                        f"shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"triples are whole numbers (grid indices and MIDI pitches), not "
                        f"{arr.dtype} values")
    arr = arr.astype(np.int64)
    top = N_VALUES - 1
    problems = [
        ((arr[:, 0] < 0) | (arr[:, 0] > top), lambda r: f"dT index {r[0]} is not 0…{top}"),
        ((arr[:, 1] < 0) | (arr[:, 1] > top), lambda r: f"T index {r[1]} is not 0…{top}"),
        (arr[:, 1] == 0, lambda r: "T index 0: a note cannot last 0 quarter notes"),
        ((arr[:, 2] < 0) | (arr[:, 2] > 127), lambda r: f"pitch {r[2]} is outside MIDI 0…127"),
    ]
    first = [(int(np.flatnonzero(bad)[0]), say) for bad, say in problems if bad.any()]
    if first:
        i, say = min(first, key=lambda p: p[0])
        raise DataError(f"triple {i} {arr[i].tolist()}: {say(arr[i])}")
    return arr


def triples_to_notes(triples, ticks_per_beat: int = 480,
                     velocity: int = DEFAULT_VELOCITY) -> NoteList:
    """The note list (ticks, ``ticks_per_beat`` per quarter note, all at ``velocity``) of
    BachProp triples ``(N, 3)``. Exact when ``ticks_per_beat`` is a multiple of 48; otherwise
    onsets and ends round to the nearest tick (half up), each from the piece's start, so
    rounding never accumulates. Bad triples raise :class:`~musicgen_lib.errors.DataError`
    naming the first one.

    Notebook: 04c_events_and_notes, 10_discussion."""
    triples = _as_triples(triples)
    if int(ticks_per_beat) <= 0:
        raise DataError(f"ticks_per_beat must be positive, not {ticks_per_beat}")
    onset = np.cumsum(GRID_STEPS[triples[:, 0]])
    end = onset + GRID_STEPS[triples[:, 1]]
    tpb = int(ticks_per_beat)

    def ticks(steps):  # steps * tpb / 48, rounded half up, in integers
        return (2 * steps * tpb + STEPS_PER_QUARTER) // (2 * STEPS_PER_QUARTER)

    n = len(triples)
    return NoteList.from_arrays(ticks(onset), ticks(end), triples[:, 2],
                                np.full(n, int(velocity), np.int64), ticks_per_beat=tpb)


def snap_to_grid(notes: NoteList) -> NoteList:
    """The note list as BachProp's triples keep it (same ``ticks_per_beat``; velocities and
    tracks are lost, every note at :data:`DEFAULT_VELOCITY`)."""
    return triples_to_notes(notes_to_triples(notes), notes.ticks_per_beat)


@dataclass
class GridReport:
    """How far a note list is from the triples' grid. Shares are fractions of its notes;
    errors are in quarter notes (``onset_error``: quantised onset against the true one,
    after error feedback; ``duration_error``: quantised duration against the true one)."""

    notes: int
    dt_on_grid: float  # share of notes whose true dT is a grid value
    duration_on_grid: float  # share of notes whose true duration is a non-zero grid value
    exact: float  # share of notes with both
    dt_over_max: float  # share with a true dT over 8 quarters
    duration_over_max: float  # share with a true duration over 8 quarters
    mean_onset_error: float
    max_onset_error: float
    mean_duration_error: float
    max_duration_error: float

    def as_dict(self) -> dict:
        return asdict(self)


def grid_report(notes: NoteList) -> GridReport:
    """How far ``notes`` (ticks) lie from :data:`GRID`: see :class:`GridReport`. An empty
    note list reports zeros."""
    n = len(notes)
    if n == 0:
        return GridReport(0, *([0.0] * 9))
    onset = _in_steps(notes.start, notes.ticks_per_beat)
    length = _in_steps(notes.end, notes.ticks_per_beat) - onset
    true_dt = np.diff(np.concatenate([[0.0], onset]))
    # Exact membership, in integers: a tick count is on the grid when steps * tpb / 48 is a
    # grid value times tpb / 48, i.e. ticks * 48 equals a grid step times tpb.
    tpb = int(notes.ticks_per_beat)
    dt_ticks48 = np.diff(np.concatenate([[0], np.asarray(notes.start, np.int64)])) * 48
    len_ticks48 = (np.asarray(notes.end, np.int64) - np.asarray(notes.start, np.int64)) * 48
    dt_ok = np.isin(dt_ticks48, GRID_STEPS * tpb)
    len_ok = np.isin(len_ticks48, GRID_STEPS[1:] * tpb)
    dt_index, duration_index, placed, _ = _quantise(notes)
    q = float(STEPS_PER_QUARTER)
    onset_error = np.abs(placed - onset) / q
    duration_error = np.abs(GRID_STEPS[duration_index] - length) / q
    top = float(GRID_STEPS[-1])
    return GridReport(
        notes=n, dt_on_grid=float(dt_ok.mean()), duration_on_grid=float(len_ok.mean()),
        exact=float((dt_ok & len_ok).mean()), dt_over_max=float((true_dt > top).mean()),
        duration_over_max=float((length > top).mean()),
        mean_onset_error=float(onset_error.mean()), max_onset_error=float(onset_error.max()),
        mean_duration_error=float(duration_error.mean()),
        max_duration_error=float(duration_error.max()))


def _chorale_triples(job):
    """``(triples, None)`` of one music21 chorale, or ``(None, reason)`` (a process pool maps it)."""
    from ..errors import MidiError
    from .corpus import chorale_notes

    try:
        return notes_to_triples(chorale_notes(job)), None
    except MidiError as e:
        return None, e.problem


def load_triples(*, cache: bool = True, cache_dir=None, show_progress: bool = False):
    """The ``chorale-triples`` dataset: the 350 Bach chorales bundled with music21 (the
    ``chorales`` dataset's pieces, in its splits) as BachProp triples, each a
    :class:`~musicgen_lib.data.tokens.TokenPiece` whose ``roll`` is ``(N, 3)`` int16
    ``[dT index, T index, MIDI pitch]``. Parsed in parallel processes the first time and
    cached like the other datasets (keyed by the content of every file).

    Notebook: 04c_events_and_notes."""
    import json
    import os

    from ..files import atomic_write
    from .corpus import SPLITS, Skipped, cache_path, chorale_files, progress, split_of
    from .tokens import TokenDataset, TokenPiece

    files = chorale_files()
    file = cache_path("chorale-triples", files, {"grid": [str(v) for v in GRID]}, cache_dir) \
        if cache else None
    if file is not None and file.exists():
        try:
            with np.load(file) as z:
                meta, flat, lengths = json.loads(str(z["meta"])), z["triples"], z["lengths"]
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            found = [(label, flat[bounds[i]:bounds[i + 1]], None)
                     for i, label in enumerate(meta["pieces"])]
            found += [(label, None, reason) for label, reason in meta["skipped"]]
        except Exception:  # an unreadable cache: parse again and overwrite it
            found = None
    else:
        found = None
    if found is None:
        paths = [f for _, f in files]
        workers = min(os.cpu_count() or 1, 8)
        if workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers) as pool:
                results = list(progress(pool.map(_chorale_triples, paths, chunksize=8), show_progress,
                                         "reading chorales", total=len(paths)))
        else:
            results = [_chorale_triples(p) for p in progress(paths, show_progress, "reading chorales")]
        found = [(label, t, r) for (label, _), (t, r) in zip(files, results)]
        if file is not None:
            good = [(label, t) for label, t, r in found if r is None]
            meta = {"pieces": [label for label, _ in good],
                    "skipped": [[label, r] for label, _, r in found if r is not None]}
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(file, lambda fh: np.savez_compressed(
                    fh, meta=np.array(json.dumps(meta)),
                    triples=np.concatenate([t for _, t in good]).astype(np.int16),
                    lengths=np.array([len(t) for _, t in good], np.int64)))
            except OSError:  # a read-only cache folder only costs speed
                pass
    splits, skipped = {s: [] for s in SPLITS}, []
    for label, triples, reason in found:
        if reason is not None:
            skipped.append(Skipped(label, reason))
        else:
            splits[split_of(label)].append(TokenPiece(label, np.asarray(triples, np.int16)))
    return TokenDataset("chorale-triples", splits, token_model="bachprop", unit="note",
                        skipped=skipped)
