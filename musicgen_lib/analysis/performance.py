"""Timing and dynamics of performances — note lists on the Performance RNN grid (10 ms ticks,
data/events.py) — as pure functions, to compare a model's samples with the music it learnt
from (thesis §5.7: Performance RNN learnt "small slowings and quickenings of tempo and short
rises and falls of loudness", and plays near-simultaneous notes that sound as chords).

Notebook: 04c_events_and_notes.
"""
from __future__ import annotations

import numpy as np

from ..data.events import STEPS_PER_SECOND

#: Onsets this close (in 10 ms steps) count as struck together: a chord, possibly spread.
CHORD_STEPS = 3
#: A note held longer than this (in seconds) counts as long.
LONG_SECONDS = 2.0


def onset_groups(notes, within: int = CHORD_STEPS) -> np.ndarray:
    """The group index of each note (notes sorted by onset): a new group starts where an
    onset lies more than ``within`` steps after the previous onset."""
    start = np.sort(np.asarray(notes.start, np.int64))
    return np.concatenate([[0], np.cumsum(np.diff(start) > within)]) if len(start) else start


def performance_stats(notes, within: int = CHORD_STEPS) -> dict:
    """Numbers of one performance (a NoteList on the 10 ms grid):

    * ``seconds`` (to the last release), ``notes_per_second``;
    * ``chord_share``: share of the notes struck within ``within`` steps (30 ms) of another
      note; ``spread_share``: of those groups of several notes, the share whose onsets are
      not all on one step (a chord spread over 10–30 ms, as a pianist's hands do);
    * ``ioi_median_ms``: the median interval between successive onset groups, in ms;
      ``ioi_cv``: its coefficient of variation between groups (std / mean);
    * ``duration_median_ms``; ``long_share``: share of notes held over :data:`LONG_SECONDS`
      (a model that forgets to release a key holds it on);
    * ``velocity_mean``, ``velocity_std`` (MIDI velocities), ``velocity_changes``: share of
      successive onset groups whose mean velocity differs by 4 or more (another bin).

    Notebook: 04c_events_and_notes."""
    n = len(notes)
    if n == 0:
        return {"notes": 0}
    order = np.argsort(notes.start, kind="stable")
    start = np.asarray(notes.start, np.int64)[order]
    vel = np.asarray(notes.velocity, np.float64)[order]
    group = onset_groups(notes, within)
    sizes = np.bincount(group)
    first = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1])
    last = np.concatenate([first[1:], [n]]) - 1
    spread = (start[last] != start[first])[sizes > 1]
    ioi = np.diff(start[first]) * 1000 / STEPS_PER_SECOND
    gvel = np.bincount(group, weights=vel) / sizes
    seconds = int(np.max(notes.end)) / STEPS_PER_SECOND
    length = (np.asarray(notes.end, np.int64) - np.asarray(notes.start, np.int64)) / STEPS_PER_SECOND
    return {"notes": n, "seconds": seconds, "notes_per_second": n / seconds,
            "chord_share": float(sizes[sizes > 1].sum() / n),
            "spread_share": float(spread.mean()) if len(spread) else 0.0,
            "ioi_median_ms": float(np.median(ioi)) if len(ioi) else float("nan"),
            "ioi_cv": float(ioi.std() / ioi.mean()) if len(ioi) > 1 and ioi.mean() else float("nan"),
            "duration_median_ms": float(np.median(length) * 1000),
            "long_share": float((length > LONG_SECONDS).mean()),
            "velocity_mean": float(vel.mean()), "velocity_std": float(vel.std()),
            "velocity_changes": float((np.abs(np.diff(gvel)) >= 4).mean()) if len(gvel) > 1 else 0.0}


__all__ = ["CHORD_STEPS", "LONG_SECONDS", "onset_groups", "performance_stats"]
