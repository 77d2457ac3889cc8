"""Note lists <-> Performance RNN event sequences (thesis §5.7).

Performance RNN (Simon & Oore 2017; Oore et al. 2018, Magenta) writes a performance as a
sequence of 388 one-hot events, each an integer id here:

=========  ===========  ==========================================================
ids        kind         meaning
=========  ===========  ==========================================================
0–127      NOTE_ON      key ``id`` (MIDI pitch) is struck
128–255    NOTE_OFF     key ``id - 128`` is released
256–355    TIME_SHIFT   time moves on by ``id - 255`` steps of 10 ms (10 ms … 1 s)
356–387    VELOCITY     later NOTE_ONs have velocity bin ``id - 356`` (0–31)
=========  ===========  ==========================================================

This is Magenta's order (``PerformanceOneHotEncoding``) and its velocity bins: bin ``b``
holds MIDI velocities ``4b + 1 … 4b + 4`` and is played back as ``4b + 1``, the lowest of
them, as Magenta does (a bin of four values has no whole-number centre).

Time: 10 ms steps (:data:`STEPS_PER_SECOND`). A note list read from MIDI is in ticks; its
tempo map (``[(tick, µs per quarter)]``, :func:`~musicgen_lib.data.midi.tempo_map`) turns
ticks into steps, exactly in integers, rounding half up (Magenta's rounding too). The
notes this module gives back are a :class:`~musicgen_lib.data.midi.NoteList` *on the
performance grid*: ``ticks_per_beat = 50`` and one tick = one 10 ms step at the default
MIDI tempo of 120 bpm, so ``write_midi(notes, path)`` plays them in real time, and they
go back into :func:`notes_to_events` unchanged (no tempo map needed).

What encoding does to a note list (:func:`to_grid` alone does the same):

* times round to the nearest step; a note shorter than a step lasts one step;
* velocities go to their bin (a VELOCITY event only where the bin changes);
* **one key, several notes at once.** A piano key cannot sound twice, and an event
  stream cannot say which of two sounding notes a NOTE_OFF ends. So notes of one pitch
  starting on the same step become one (the longest end, the loudest velocity), and a
  note still sounding when its key is struck again ends there, while the new note lasts
  until the later of the two ends. Every onset is kept and the key sounds exactly as
  long as before; only the boundary between the two notes moves. (Magenta emits both
  notes and its decoder pairs NOTE_OFFs first in, first out.)
* at one step, NOTE_OFFs come before NOTE_ONs (so a re-struck key is released first),
  each by ascending pitch; a long gap becomes as many 1 s shifts as fit, then the rest.

So a note list already on the grid (10 ms times, velocities ``4b + 1``, at most one
sounding note per key) survives notes → events → notes exactly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .midi import NoteList, read_midi, tempo_map

#: Steps per second of the time grid (one step = 10 ms).
STEPS_PER_SECOND = 100
#: The longest TIME_SHIFT, in steps (1 s).
MAX_SHIFT_STEPS = 100
N_PITCHES = 128
N_VELOCITY_BINS = 32
#: MIDI velocities per bin: ceil(127 / 32), as in Magenta.
VELOCITY_BIN_SIZE = 4
#: The first id of each kind of event.
NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY = 0, 128, 256, 356
#: The number of event ids (128 + 128 + 100 + 32).
VOCAB_SIZE = 388
KINDS = ("NOTE_ON", "NOTE_OFF", "TIME_SHIFT", "VELOCITY")
#: A note list on the performance grid has this many ticks per beat: at 120 bpm, 10 ms a tick.
GRID_TICKS_PER_BEAT = 50
#: The tempo MIDI assumes when a file sets none: 500 000 µs per quarter note (120 bpm).
DEFAULT_TEMPO = 500_000
#: Velocity of notes struck before any VELOCITY event, when decoding leniently.
DEFAULT_VELOCITY = 64

_FIRST = {"NOTE_ON": NOTE_ON, "NOTE_OFF": NOTE_OFF, "TIME_SHIFT": TIME_SHIFT, "VELOCITY": VELOCITY}
_SIZE = {"NOTE_ON": N_PITCHES, "NOTE_OFF": N_PITCHES, "TIME_SHIFT": MAX_SHIFT_STEPS,
         "VELOCITY": N_VELOCITY_BINS}


def event_id(kind: str, value: int) -> int:
    """The id of one event: ``event_id("NOTE_ON", 60)``, ``event_id("TIME_SHIFT", 100)``
    (value in 10 ms steps, 1…100), ``event_id("VELOCITY", 31)`` (value a bin, 0…31)."""
    if kind not in _FIRST:
        raise DataError(f"unknown event kind {kind!r} (known: {', '.join(KINDS)})")
    low = 1 if kind == "TIME_SHIFT" else 0
    if not low <= int(value) < low + _SIZE[kind]:
        raise DataError(f"{kind} takes {low}…{low + _SIZE[kind] - 1}, not {value}")
    return _FIRST[kind] + int(value) - low


def event_kind(event: int) -> tuple:
    """``(kind, value)`` of an event id: the inverse of :func:`event_id`."""
    event = int(event)
    if not 0 <= event < VOCAB_SIZE:
        raise DataError(f"{event} is not an event id (0…{VOCAB_SIZE - 1})")
    for kind in reversed(KINDS):
        if event >= _FIRST[kind]:
            return kind, event - _FIRST[kind] + (1 if kind == "TIME_SHIFT" else 0)


def event_name(event: int) -> str:
    """A readable name of an event id: ``NOTE_ON 60``, ``NOTE_OFF 60``, ``TIME_SHIFT 250 ms``,
    ``VELOCITY 25 (MIDI 101)``.

    Notebook: 04c_events_and_notes."""
    kind, value = event_kind(event)
    if kind == "TIME_SHIFT":
        return f"TIME_SHIFT {value * 1000 // STEPS_PER_SECOND} ms"
    if kind == "VELOCITY":
        return f"VELOCITY {value} (MIDI {int(bin_velocity(value))})"
    return f"{kind} {value}"


def velocity_bin(velocity):
    """The bin (0…31) of MIDI velocities (1…127; outside, clipped to them)."""
    return (np.clip(np.asarray(velocity, np.int64), 1, 127) - 1) // VELOCITY_BIN_SIZE


def bin_velocity(bin_):
    """The MIDI velocity a bin (0…31) is played at: the lowest of the bin, ``4 * bin + 1``."""
    return np.asarray(bin_, np.int64) * VELOCITY_BIN_SIZE + 1


def ticks_to_steps(ticks, ticks_per_beat: int, tempos=None) -> np.ndarray:
    """MIDI ticks -> 10 ms steps through a tempo map, exactly (integer arithmetic), rounding
    half up. ``tempos``: ``[(tick, µs per quarter note), ...]`` as
    :func:`~musicgen_lib.data.midi.tempo_map` gives; before its first entry, and when it is
    empty or None, the tempo is 120 bpm. Shapes: ``ticks`` any, result the same."""
    ticks = np.asarray(ticks, np.int64)
    changes = sorted((int(t), int(m)) for t, m in (tempos or []) if int(m) > 0)
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, DEFAULT_TEMPO))
    at = np.array([t for t, _ in changes], np.int64)
    mspq = np.array([m for _, m in changes], np.int64)
    # Time at each change in µs * ticks_per_beat: whole numbers, so no rounding drifts along
    # a piece with hundreds of tempo events (piano-midi.de).
    elapsed = np.concatenate([[0], np.cumsum(np.diff(at) * mspq[:-1])])
    k = np.searchsorted(at, ticks, side="right") - 1
    num = elapsed[k] + (ticks - at[k]) * mspq[k]
    den = int(ticks_per_beat) * (1_000_000 // STEPS_PER_SECOND)
    return (2 * num + den) // (2 * den)


def to_grid(notes: NoteList, tempos=None) -> NoteList:
    """The note list as :func:`notes_to_events` writes it (see the module docstring): on
    the performance grid (``ticks_per_beat = 50``, ticks are 10 ms steps), velocities at
    their bin's value, at most one sounding note per key. ``tempos``: the tempo map of the
    ticks of ``notes`` (None: 120 bpm, which leaves a grid note list as it is).

    ``events_to_notes(notes_to_events(notes, tempos)) == to_grid(notes, tempos)``."""
    pitch = np.asarray(notes.pitch, np.int64)
    bad = np.flatnonzero((pitch < 0) | (pitch >= N_PITCHES))
    if len(bad):
        raise DataError(f"{notes.source or 'notes'}: note {bad[0]} has pitch {pitch[bad[0]]}, "
                        f"outside MIDI 0…127")
    start = ticks_to_steps(notes.start, notes.ticks_per_beat, tempos)
    end = np.maximum(ticks_to_steps(notes.end, notes.ticks_per_beat, tempos), start + 1)
    velocity = bin_velocity(velocity_bin(notes.velocity))
    if len(start):
        start, end, pitch, velocity = _one_note_per_key(start, end, pitch, velocity)
    return NoteList.from_arrays(start, end, pitch, velocity,
                                ticks_per_beat=GRID_TICKS_PER_BEAT, source=notes.source)


def _one_note_per_key(start, end, pitch, velocity):
    """Notes of one pitch on one step merged; a note struck again ends at the new onset,
    which lasts until the later end (arrays ``(N,)``, steps)."""
    order = np.lexsort((start, pitch))
    start, end, pitch, velocity = start[order], end[order], pitch[order], velocity[order]
    first = np.ones(len(start), bool)
    first[1:] = (pitch[1:] != pitch[:-1]) | (start[1:] != start[:-1])
    groups = np.flatnonzero(first)
    start, pitch = start[groups], pitch[groups]
    end = np.maximum.reduceat(end, groups)
    velocity = np.maximum.reduceat(velocity, groups)
    # Per key, the key is down until the latest end so far; each note ends at the next onset
    # of its key or, for the key's last note, at that latest end.
    new_key = np.ones(len(start), bool)
    new_key[1:] = pitch[1:] != pitch[:-1]
    held = end.copy()
    for k0, k1 in zip(np.flatnonzero(new_key), list(np.flatnonzero(new_key)[1:]) + [len(end)]):
        held[k0:k1] = np.maximum.accumulate(end[k0:k1])
    last_of_key = np.append(new_key[1:], True)
    next_start = np.append(start[1:], 0)
    end = np.where(last_of_key, held, np.minimum(held, next_start))
    return start, end, pitch, velocity


def notes_to_events(notes: NoteList, tempos=None) -> np.ndarray:
    """The event ids ``(E,)`` int64 of a note list (ticks; ``tempos`` its tempo map, None for
    120 bpm — right for a note list on the performance grid). Time starts at tick 0, so
    leading silence becomes time shifts; the sequence ends with the last NOTE_OFF."""
    grid = to_grid(notes, tempos)
    n = len(grid)
    # Every note is an ON at its start and an OFF at its end; sort by time, OFFs first,
    # then pitch (note lists on the grid have no two notes of one key overlapping).
    time = np.concatenate([grid.end, grid.start])
    is_on = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])
    pitch = np.concatenate([grid.pitch, grid.pitch])
    bins = np.concatenate([velocity_bin(grid.velocity)] * 2)
    order = np.lexsort((pitch, is_on, time))
    out, now, current_bin = [], 0, -1
    for t, on, p, b in zip(time[order].tolist(), is_on[order].tolist(),
                           pitch[order].tolist(), bins[order].tolist()):
        while t - now > 0:
            shift = min(t - now, MAX_SHIFT_STEPS)
            out.append(TIME_SHIFT + shift - 1)
            now += shift
        if on:
            if b != current_bin:
                out.append(VELOCITY + b)
                current_bin = b
            out.append(NOTE_ON + p)
        else:
            out.append(NOTE_OFF + p)
    return np.array(out, np.int64)


def _as_events(events) -> np.ndarray:
    """``events`` as a 1-D int64 array of valid ids, or DataError naming the first bad one."""
    arr = np.asarray(events)
    if arr.ndim != 1:
        raise DataError(f"an event sequence is 1-D, not of shape {arr.shape}")
    if len(arr) and not np.issubdtype(arr.dtype, np.integer):
        whole = np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) \
            and np.all(arr == np.round(arr))
        if not whole:
            raise DataError(f"event ids are whole numbers, not {arr.dtype} values")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= VOCAB_SIZE))
    if len(bad):
        raise DataError(f"event {bad[0]}: {arr[bad[0]]} is not an event id (0…{VOCAB_SIZE - 1})")
    return arr


def events_to_notes(events, strict: bool = True) -> NoteList:
    """The notes of an event sequence, on the performance grid (``ticks_per_beat = 50``;
    ticks are 10 ms steps, so ``write_midi`` at its default 120 bpm plays them in time).

    ``strict`` (the default, for sequences made by :func:`notes_to_events`): a
    :class:`~musicgen_lib.errors.DataError` naming the position and the problem for a
    NOTE_OFF of a silent key, a NOTE_ON of a sounding key, a NOTE_ON before any VELOCITY,
    a note released on the step it was struck, and a note never released.
    ``strict=False`` (for a model's samples) plays what it can: a stray NOTE_OFF is
    skipped, a NOTE_ON of a sounding key ends that note and strikes again, a note before
    any VELOCITY gets :data:`DEFAULT_VELOCITY`, zero-length notes are dropped, and notes
    still sounding at the end end with the last time shift (one step after their start
    if that is later). Ids outside 0…387 are an error either way.

    Notebook: 04c_events_and_notes, 10_discussion."""
    events = _as_events(events)
    starts, ends, pitches, velocities = [], [], [], []
    sounding = {}  # pitch -> (start step, velocity, position of its NOTE_ON)
    now, velocity = 0, None

    def close(pitch, at, pos):
        s, v, _ = sounding.pop(pitch)
        if at == s:
            if strict:
                raise DataError(f"event {pos} ({event_name(NOTE_OFF + pitch)}): the note "
                                f"ends on the step it started (zero length)")
            return
        starts.append(s), ends.append(at), pitches.append(pitch), velocities.append(v)

    for pos, e in enumerate(events.tolist()):
        if e >= VELOCITY:
            velocity = int(bin_velocity(e - VELOCITY))
        elif e >= TIME_SHIFT:
            now += e - TIME_SHIFT + 1
        elif e >= NOTE_OFF:
            if e - NOTE_OFF in sounding:
                close(e - NOTE_OFF, now, pos)
            elif strict:
                raise DataError(f"event {pos} ({event_name(e)}): key {e - NOTE_OFF} is not "
                                f"sounding")
        else:
            if e in sounding:
                if strict:
                    raise DataError(f"event {pos} ({event_name(e)}): key {e} is already "
                                    f"sounding (struck at event {sounding[e][2]})")
                close(e, now, pos)
            if velocity is None and strict:
                raise DataError(f"event {pos} ({event_name(e)}): a note before any VELOCITY "
                                f"event")
            sounding[e] = (now, DEFAULT_VELOCITY if velocity is None else velocity, pos)
    if sounding and strict:
        pitch, (_, _, pos) = min(sounding.items(), key=lambda kv: kv[1][2])
        raise DataError(f"event {pos} ({event_name(pitch)}): the note is never released "
                        f"({len(sounding)} still sounding at the end)")
    for pitch in sorted(sounding, key=lambda p: sounding[p][2]):
        close(pitch, max(now, sounding[pitch][0] + 1), len(events))
    return NoteList.from_arrays(starts, ends, pitches, velocities,
                                ticks_per_beat=GRID_TICKS_PER_BEAT)


def read_performance(path) -> NoteList:
    """A MIDI file's notes on the performance grid, through its own tempo map (the last of
    several tempo events on one tick wins, as in :func:`~musicgen_lib.data.midi.tempo_map`).
    Bad files raise :class:`~musicgen_lib.errors.MidiError` as :func:`read_midi` does."""
    notes = read_midi(path)
    return to_grid(notes, tempo_map(Path(path).read_bytes()))


def load_events(path=None):
    """The ``piano-events`` dataset: the piano-midi.de pieces that pass the thesis' filters
    (those of ``piano-midi-de``, in the same splits) as Performance RNN event sequences,
    each a :class:`~musicgen_lib.data.tokens.TokenPiece` whose ``roll`` is ``(N, 1)`` int16
    event ids, read through the file's own tempo map (``path`` left out: the data home's
    ``piano-midi-de`` folder). Unreadable or filtered files are skipped with their reason.

    Notebook: 04c_events_and_notes."""
    from .corpus import SPLITS, Skipped, midi_files, split_of
    from .filters import THESIS_FILTERS, rejection_reason
    from .tokens import TokenDataset, TokenPiece
    from ..errors import MidiError

    if path is None:
        from .home import require

        path = require("piano-midi-de")
    root = Path(path)
    if not root.exists():
        raise DataError(f"{root}: no such file or directory")
    splits, skipped = {s: [] for s in SPLITS}, []
    for label, f in midi_files(root):
        try:
            notes = read_midi(f)  # checks the file before its bytes are read again
            reason = rejection_reason(notes, THESIS_FILTERS)
            if not reason:
                events = notes_to_events(notes, tempo_map(f.read_bytes()))
        except MidiError as e:
            reason = e.problem
        if reason:
            skipped.append(Skipped(label, reason))
        else:
            splits[split_of(label)].append(TokenPiece(label, events.astype(np.int16)[:, None]))
    return TokenDataset("piano-events", splits, token_model="performance-rnn", unit="event",
                        skipped=skipped)


def event_stats(events) -> dict:
    """Counts of an event sequence: ``events``, one per kind (``note_on``, ``note_off``,
    ``time_shift``, ``velocity``), ``seconds`` (the time its shifts add up to) and
    ``events_per_second`` (what a model must predict for each second of music).

    Notebook: 04c_events_and_notes, 10_discussion."""
    events = _as_events(events)
    kind = np.searchsorted([NOTE_OFF, TIME_SHIFT, VELOCITY], events, side="right")
    counts = np.bincount(kind, minlength=4)
    shifts = events[kind == 2]
    seconds = float((shifts - TIME_SHIFT + 1).sum()) / STEPS_PER_SECOND
    out = {"events": int(len(events))}
    out.update({k.lower(): int(c) for k, c in zip(KINDS, counts)})
    out["seconds"] = seconds
    out["events_per_second"] = len(events) / seconds if seconds else float("nan")
    return out
