"""How well a decoder puts pitch classes back on the keyboard: the keys it chose against the
music's, and the pitch classes it was asked for that got no key (notebook 07_octave_decoder).

Pure functions of 0/1 rolls, numpy arrays or torch tensors alike.
"""
from __future__ import annotations

from ..data.octave import compress


def key_scores(pred, true, classes) -> dict:
    """Precision (share of the chosen keys that are in the music), recall (share of the
    music's keys that were chosen), their F1, and ``lost``: the share of the asked-for pitch
    classes ``classes`` (..., 12) that got no key in ``pred`` (..., 88). ``true`` (..., 88):
    the music's keys. Floats (0-d tensors for torch input).

    Notebook: 07_octave_decoder."""
    tp = (pred * true).sum()
    lost = ((classes > 0) & (compress(pred) == 0)).sum() / classes.sum()
    p, r = tp / pred.sum(), tp / true.sum()
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r), "lost": lost}


__all__ = ["key_scores"]
