"""Rhythm of a piano roll from its onsets: the intervals between struck steps, and the onset
patterns of the beats (thesis §7.4: "the model learnt eighths and sixteenths, rarely a dotted
rhythm", and a sixteenth-eighth-sixteenth figure on the beat that it attributes to quantised
triplets in its prime).

Pure functions of an onset roll ``(T, K)`` (any key struck counts) on a grid of
``steps_per_beat`` steps per quarter note (4: sixteenth notes).

Notebook: 10_discussion.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

#: The beat patterns named in the text (4 steps, x = struck): the dotted figure and the
#: sixteenth-eighth-sixteenth figure of §7.4.
PATTERNS = {"x x . x": (1, 1, 0, 1), "x . . x": (1, 0, 0, 1), "x . x .": (1, 0, 1, 0),
            "x x x x": (1, 1, 1, 1)}


def inter_onset_intervals(onsets) -> np.ndarray:
    """The steps between consecutive struck steps (a step on which any key is struck).

    Notebook: 10_discussion."""
    struck = np.flatnonzero(np.asarray(onsets).any(axis=1))
    return np.diff(struck)


def ioi_shares(onset_rolls, longest: int = 4) -> dict:
    """Shares of the inter-onset intervals of 1 .. ``longest`` steps, and of longer ones
    (``f">{longest}"``), pooled over the rolls (at 4 steps per beat: sixteenths, eighths,
    dotted eighths, quarters, longer).

    Notebook: 10_discussion."""
    iois = np.concatenate([inter_onset_intervals(o) for o in onset_rolls] or [np.zeros(0, int)])
    n = max(len(iois), 1)
    out = {str(k): float(np.mean(iois == k)) if len(iois) else float("nan")
           for k in range(1, longest + 1)}
    out[f">{longest}"] = float(np.sum(iois > longest) / n) if len(iois) else float("nan")
    return out


def beat_patterns(onset_rolls, steps_per_beat: int = 4) -> Counter:
    """How often each onset pattern fills a beat (the steps of a beat from step 0 of each
    roll; beats with no onset left out), pooled over the rolls: a Counter of 0/1 tuples.

    Notebook: 10_discussion."""
    counts = Counter()
    for o in onset_rolls:
        struck = np.asarray(o).any(axis=1).astype(int)
        n = len(struck) // steps_per_beat * steps_per_beat
        for beat in struck[:n].reshape(-1, steps_per_beat):
            if beat.any():
                counts[tuple(int(b) for b in beat)] += 1
    return counts


def pattern_shares(onset_rolls, patterns: dict = PATTERNS, steps_per_beat: int = 4) -> dict:
    """The share of the struck beats that each named pattern fills.

    Notebook: 10_discussion."""
    counts = beat_patterns(onset_rolls, steps_per_beat)
    total = sum(counts.values())
    return {name: counts[p] / total if total else float("nan") for name, p in patterns.items()}


__all__ = ["PATTERNS", "inter_onset_intervals", "ioi_shares", "beat_patterns", "pattern_shares"]
