"""Metrics as pure functions of piano rolls (notebooks 01_representations, 10_discussion).

Every function takes a ``(T, 88)`` (or ``(T, 12)``) 0/1 roll and returns numbers or
arrays; none reads files or keeps state.
"""
from __future__ import annotations

import numpy as np

from ..data.octave import compress


def polyphony(roll) -> np.ndarray:
    """Number of keys sounding at each step, shape ``(T,)``."""
    return np.asarray(roll).astype(bool).sum(axis=-1)


def pitch_class_counts(roll) -> np.ndarray:
    """Number of distinct pitch classes sounding at each step, shape ``(T,)`` (the thesis'
    "at most 5–7 pitch classes at once", §3.2)."""
    roll = np.asarray(roll)
    return (compress(roll) if roll.shape[-1] == 88 else roll).astype(bool).sum(axis=-1)


def histogram(values, max_value: int | None = None) -> np.ndarray:
    """Counts of each integer value 0..max_value."""
    values = np.asarray(values, dtype=np.int64)
    return np.bincount(values, minlength=(max_value or int(values.max(initial=0))) + 1)
