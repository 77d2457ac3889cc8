"""Note lists <-> binary piano rolls, in two semantics (notebook 01_representations).

A piano roll is a ``(T, 88)`` ``uint8`` matrix: row ``t`` is time step ``t`` on a grid of
``steps_per_beat`` steps per quarter note (4 by default: 16 steps per 4/4 bar), column
``k`` is piano key ``k`` = MIDI pitch ``21 + k`` (A0 … C8).

Two semantics are in common use and both are supported:

``"sounding"``
    1 while a key is held. Durations are kept; a repeated note cannot be told from
    a held one.
``"onset"``
    1 only on the step where a key is struck. Played back, a note sounds until the
    next step that has any onset (the thesis' ``hold_mode``).

Quantisation is by MIDI ticks: a note starting at tick ``s`` starts at step
``round(s / ticks_per_step)``. Notes shorter than one step last one step. The onset
roll is written from note starts only, so a note ending on the step where the same
key is struck again can never erase that onset (the author's loader lost 5.8 % of
onsets that way).
"""
from __future__ import annotations

import numpy as np

from ..errors import MidiError
from .midi import LOWEST_KEY, N_KEYS, NoteList

SEMANTICS = ("sounding", "onset")
#: The longest roll a note list becomes, in steps: 2**21 steps are 185 MB of uint8 roll, an
#: hour of music at 96 steps per beat and 364 bpm. A longer one (a 44-byte file whose one
#: note lasts for days becomes 845 MB at 96 steps per beat) is refused before allocation.
MAX_ROLL_STEPS = 2 ** 21


def _check_semantics(semantics: str) -> None:
    if semantics not in SEMANTICS:
        raise ValueError(f"semantics must be one of {SEMANTICS}, not {semantics!r}")


def notes_to_roll(notes: NoteList, steps_per_beat: int = 4, semantics: str = "sounding",
                  velocity: bool = False, n_steps: int | None = None):
    """Quantise a note list to a piano roll.

    Returns ``roll`` (``(T, 88)`` uint8), or ``(roll, vel)`` when ``velocity`` is true,
    where ``vel`` (``(T, 88)`` uint8, MIDI velocity 0..127) holds each note's velocity
    wherever ``roll`` is 1 (the louder note wins where two overlap).
    Notes outside the 88 keys are dropped. ``T`` is the end of the last note unless
    ``n_steps`` is given; a :class:`~musicgen_lib.errors.MidiError` naming the file refuses
    one of more than :data:`MAX_ROLL_STEPS` steps.

    Notebook: 01_representations, 04a_melody, 04c_events_and_notes, 04d_melody_vae, 09_harmony_analysis,
    10_discussion.
    """
    _check_semantics(semantics)
    tps = notes.ticks_per_beat / steps_per_beat
    start = np.rint(notes.start / tps).astype(np.int64)
    end = np.maximum(np.rint(notes.end / tps).astype(np.int64), start + 1)
    key = notes.pitch - LOWEST_KEY
    ok = (key >= 0) & (key < N_KEYS)
    start, end, key, vel = start[ok], end[ok], key[ok], notes.velocity[ok]
    T = int(end.max()) if n_steps is None and len(end) else int(n_steps or 0)
    if T > MAX_ROLL_STEPS:
        hours = T / steps_per_beat / 120 / 60
        raise MidiError(notes.source or "notes", f"{T:,} steps long at {steps_per_beat} steps "
                        f"per beat ({hours:,.1f} h at 120 bpm); a piano roll holds at most "
                        f"{MAX_ROLL_STEPS:,} steps: choose a coarser steps per beat")
    roll = np.zeros((T, N_KEYS), np.uint8)
    vroll = np.zeros((T, N_KEYS), np.uint8) if velocity else None
    if semantics == "onset":
        keep = start < T
        roll[start[keep], key[keep]] = 1
        if velocity:
            np.maximum.at(vroll, (start[keep], key[keep]), vel[keep].astype(np.uint8))
    else:
        end = np.minimum(end, T)
        lengths = np.maximum(end - start, 0)
        rows = np.repeat(start, lengths) + _ranges(lengths)
        cols = np.repeat(key, lengths)
        roll[rows, cols] = 1
        if velocity:
            np.maximum.at(vroll, (rows, cols), np.repeat(vel, lengths).astype(np.uint8))
    return (roll, vroll) if velocity else roll


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(n)`` for every ``n`` in ``lengths``, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - offsets


def roll_to_notes(roll: np.ndarray, steps_per_beat: int = 4, semantics: str = "sounding",
                  velocity: np.ndarray | None = None, ticks_per_beat: int = 480,
                  default_velocity: int = 80) -> NoteList:
    """Turn a piano roll back into notes on the tick grid.

    ``sounding``: every run of 1s in a key's column is one note.
    ``onset``: every 1 starts a note that lasts until the next step holding any onset
    (the last ones until the end of the roll, at least one step).
    ``velocity`` (same shape as ``roll``) gives each note the velocity at its first step.
    """
    _check_semantics(semantics)
    roll = np.asarray(roll).astype(bool)
    T = roll.shape[0]
    if semantics == "sounding":
        padded = np.zeros((T + 2, roll.shape[1]), np.int8)
        padded[1:-1] = roll
        diff = np.diff(padded, axis=0)  # (T+1, 88): +1 at a run's start, -1 after its end
        key, start = np.nonzero(diff.T == 1)  # sorted by key, then time: runs pair up
        _, end = np.nonzero(diff.T == -1)
    else:
        start, key = np.nonzero(roll)
        onset_steps = np.flatnonzero(roll.any(axis=1))
        nxt = np.searchsorted(onset_steps, start, side="right")
        end = np.append(onset_steps, T)[nxt]
        end = np.maximum(end, start + 1)
    if velocity is not None:
        vel = np.asarray(velocity)[start, key].astype(np.int64)
        vel = np.where(vel > 0, vel, default_velocity)
    else:
        vel = np.full(len(start), default_velocity, np.int64)
    tpb = ticks_per_beat // steps_per_beat
    return NoteList.from_arrays(start * tpb, end * tpb, key + LOWEST_KEY, vel,
                                ticks_per_beat=tpb * steps_per_beat)


def onset_to_sounding(onset_roll: np.ndarray) -> np.ndarray:
    """The sounding roll heard when an onset roll is played back (thesis' hold mode).

    Notebook: 01_representations, 08_training_and_samples, 09_harmony_analysis, 10_discussion."""
    notes = roll_to_notes(onset_roll, semantics="onset", steps_per_beat=1, ticks_per_beat=1)
    return notes_to_roll(notes, steps_per_beat=1, n_steps=len(onset_roll))


def midi_to_roll(path, steps_per_beat: int = 4, semantics: str = "sounding",
                 velocity: bool = False):
    """Read a MIDI file straight into a piano roll (see :func:`notes_to_roll`)."""
    from .midi import read_midi

    return notes_to_roll(read_midi(path), steps_per_beat, semantics, velocity)


def roll_to_midi(roll: np.ndarray, path, steps_per_beat: int = 4, semantics: str = "sounding",
                 velocity: np.ndarray | None = None, tempo_bpm: float = 120.0):
    """Write a piano roll as a MIDI file (see :func:`roll_to_notes`); returns the path."""
    from .midi import write_midi

    return write_midi(roll_to_notes(roll, steps_per_beat, semantics, velocity), path, tempo_bpm)
