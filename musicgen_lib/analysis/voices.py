"""What the voices of the thesis' voice sampler decide: how often each plays a note and how
often it bans one (thesis §6.4, Fig. 16).

Notebook: 06_voice_sampler, 10_discussion.

Pure functions of the arrays a :class:`~musicgen_lib.sample.Sample` carries: ``decisions``
(each voice's decision per step) and ``x`` (the pitch classes that sound).
"""
from __future__ import annotations

import numpy as np


def plays_per_voice(decisions, x) -> tuple:
    """Share of steps on which each voice plays a note, and on which it bans one.

    ``decisions``: ``(..., V)`` integers, each voice's decision at each step: ``c`` in 0..11
    is "play pitch class c", 12..23 "ban class c - 12" (with the note-pause alphabet, 12 is
    "pause"); ``x``: ``(..., 12)`` 0/1, the pitch classes that sound, with the same leading
    shape (``Sample.decisions`` and ``Sample.x``: ``(B, T, V)`` and ``(B, T, 12)``). A play
    counts only if its class sounds. Returns ``(plays, bans)``: two ``(V,)`` float arrays,
    the means over all the leading axes (pieces and steps).

    Notebook: 06_voice_sampler, 10_discussion.
    """
    d = np.asarray(decisions)
    x = np.asarray(x)
    if x.shape[:-1] != d.shape[:-1] or x.shape[-1:] != (12,):
        raise ValueError(f"decisions {d.shape} and x {x.shape}: expected (..., V) and (..., 12)")
    plays = (d < 12) & np.take_along_axis(x, np.minimum(d, 11), axis=-1).astype(bool)
    bans = d >= 12
    axes = tuple(range(d.ndim - 1))
    return plays.mean(axes), bans.mean(axes)


def silence_after_first(decisions, x) -> dict:
    """The thesis' observation (§7.4) that when the first voice adds no note, the later ones
    do not either: of the steps on which voice 1 plays no sounding note, the share on which
    no voice does (``after_first_silent``), beside that share over all steps
    (``no_voice_plays``), the share of steps on which voice 1 is silent (``first_silent``),
    and, for comparison, the share of steps with no play among the steps on which some other
    single voice is silent (``after_other_silent``: its mean over voices 2..V). Arrays as
    for :func:`plays_per_voice`; floats (nan where a condition never holds).

    Notebook: 06_voice_sampler."""
    d = np.asarray(decisions)
    x = np.asarray(x)
    plays = (d < 12) & np.take_along_axis(x, np.minimum(d, 11), axis=-1).astype(bool)
    silent = ~plays                                     # (..., V): the voice added no note
    nobody = ~plays.any(-1)                             # (...): no voice did

    def share(where):
        return float(nobody[where].mean()) if where.any() else float("nan")

    others = [share(silent[..., v]) for v in range(1, d.shape[-1])]
    return {"after_first_silent": share(silent[..., 0]), "no_voice_plays": float(nobody.mean()),
            "first_silent": float(silent[..., 0].mean()),
            "after_other_silent": float(np.nanmean(others)) if others else float("nan")}

