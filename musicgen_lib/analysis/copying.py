"""Copying in free sampling: where the data repeats itself exactly, how far a model's own
samples carry the repeat on (thesis §3.2, §6.3).

Notebook: 05_attention.

The thesis' argument (§3.2): a model that is 99 % sure of each next frame keeps a 32-step
repeat intact with probability 0.99³² ≈ 0.73 — copying has to be near-certain at every step
to last. And its experience (§6.3): the attention caught exact repeats in the training data,
yet in generation copying lasted no more than 4–8 steps. These functions measure both on
12-dim frames (any ``(..., T, 12)`` array of 0/1): where a piece repeats its own past
exactly at a lag, and for how many steps a continuation goes on copying.

As long as a sample has copied, its past *is* the data's, so the probability that it copies
at least ``i`` steps is the product of the model's teacher-forced probabilities of the first
``i`` true frames — the survival curve of :func:`copy_survival` — and the free-sampling
counts of :func:`copy_lengths` must agree with it.
"""
from __future__ import annotations

import numpy as np


def copy_lengths(x, lag: int, start: int) -> np.ndarray:
    """For each sequence of ``x`` (B, T, 12), the number of consecutive steps from ``start``
    whose frame equals the frame ``lag`` steps earlier (0: the first step already differs;
    ``T - start``: copied to the end). Needs ``start >= lag``.

    Notebook: 05_attention."""
    x = np.asarray(x).astype(bool)
    if x.ndim == 2:
        x = x[None]
    if not lag <= start <= x.shape[1]:
        raise ValueError(f"start {start} must lie in [lag {lag}, T {x.shape[1]}]")
    same = (x[:, start:] == x[:, start - lag:x.shape[1] - lag]).all(-1)  # (B, T - start)
    broken = np.concatenate([~same, np.ones((len(x), 1), bool)], 1)  # a break after the end
    first_break = broken.argmax(1)
    return first_break.astype(np.int64)


def repeat_positions(x, lag: int, length: int, min_struck: float = 0.5,
                     first: int | None = None) -> np.ndarray:
    """Steps ``t0`` at which a sequence ``x`` (T, 12) repeats itself exactly at ``lag`` for
    ``length`` steps (frames ``t0 .. t0+length-1`` equal the frames ``lag`` earlier), with
    sound on at least ``min_struck`` of those frames (silence repeating is no repeat), from
    step ``first`` on (default ``lag``). Non-overlapping: each repeat counts once, at its
    first step.

    Notebook: 05_attention."""
    x = np.asarray(x).astype(bool)
    first = lag if first is None else max(first, lag)
    same = np.zeros(len(x), bool)
    same[lag:] = (x[lag:] == x[:-lag]).all(-1) if lag < len(x) else False
    struck = x.any(-1)
    out, t = [], first
    while t + length <= len(x):
        if same[t:t + length].all() and struck[t:t + length].mean() >= min_struck:
            out.append(t)
            t += length
        else:
            t += 1
    return np.array(out, np.int64)


def copy_survival(log_p) -> np.ndarray:
    """``(..., T+1)``: the probability of copying at least ``i`` steps, ``i = 0..T``, from
    the model's teacher-forced log-probabilities of the true frames ``log_p`` (..., T):
    ``exp(Σ_{j<i} log p_j)``.

    Notebook: 05_attention."""
    log_p = np.asarray(log_p, dtype=np.float64)
    zero = np.zeros(log_p.shape[:-1] + (1,))
    return np.exp(np.concatenate([zero, np.cumsum(log_p, -1)], -1))


def empirical_survival(lengths, horizon: int) -> np.ndarray:
    """``(horizon+1,)``: the share of copy lengths ``>= i`` for ``i = 0..horizon``.

    Notebook: 05_attention."""
    lengths = np.asarray(lengths).ravel()
    return (lengths[None] >= np.arange(horizon + 1)[:, None]).mean(1)


def repetition_by_lag(sequences, lags) -> np.ndarray:
    """``(len(lags),)``: over ``sequences`` (an iterable of ``(T, 12)`` frames), the share of
    steps ``t`` whose frame equals the frame ``t - h`` exactly, for each lag ``h`` — over the
    steps that sound (silence equal to silence is no repeat).

    Notebook: 05_attention."""
    sequences = [np.asarray(x).astype(bool) for x in sequences]
    out = []
    for h in lags:
        same = n = 0
        for x in sequences:
            a, b = x[h:], x[:-h]
            on = a.any(-1)
            same += int((a == b).all(-1)[on].sum())
            n += int(on.sum())
        out.append(same / max(n, 1))
    return np.array(out)
