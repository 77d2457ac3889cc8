"""What a continuation keeps of its prime (thesis §7.4: "the model rarely continues the prime
as such, but takes from it the key and the simplest rhythmic figures").

Each measure is taken on every (prime, continuation) pair and, as the baseline, on the same
continuations paired with *other* pieces' primes (a fixed derangement): what is kept is the
excess of the matched over the shuffled value.

Notebook: 10_discussion.
"""
from __future__ import annotations

import numpy as np

from ..data.pianoroll import onset_to_sounding
from .keys import NO_KEY, global_key, scale_pcs


def _derangement(n: int, seed: int) -> np.ndarray:
    """A permutation of 0..n-1 that moves every index (n >= 2)."""
    rng = np.random.default_rng(seed)
    while True:
        p = rng.permutation(n)
        if n < 2 or (p != np.arange(n)).all():
            return p


def same_scale(a: int, b: int) -> bool:
    """Whether keys ``a`` and ``b`` put the same 7 notes in force (the same key, or a major
    key and its relative minor)."""
    return a != NO_KEY and b != NO_KEY and set(scale_pcs(a)) == set(scale_pcs(b))


def key_kept(primes, continuations, steps: int = 64, seed: int = 0) -> dict:
    """The share of continuations whose first ``steps`` steps are in the scale of their own
    prime (both as onset rolls; keys by Krumhansl–Schmuckler on the sounding rolls), and the
    share with another piece's prime: ``{"matched", "shuffled", "pairs"}``.

    Notebook: 10_discussion."""
    pk = [global_key(onset_to_sounding(np.asarray(p))) for p in primes]
    ck = [global_key(onset_to_sounding(np.asarray(c)[:steps])) for c in continuations]
    other = _derangement(len(pk), seed)
    matched = np.mean([same_scale(a, b) for a, b in zip(pk, ck)])
    shuffled = np.mean([same_scale(pk[j], b) for j, b in zip(other, ck)])
    return {"matched": float(matched), "shuffled": float(shuffled), "pairs": len(pk)}


def density_kept(primes, continuations, steps: int = 64, seed: int = 0) -> dict:
    """How close each continuation's onset density (share of steps with an onset, first
    ``steps`` steps) is to its own prime's, against another piece's prime: the mean absolute
    differences ``{"matched", "shuffled", "pairs"}`` (smaller: closer).

    Notebook: 10_discussion."""
    dp = np.array([np.asarray(p).any(axis=1).mean() for p in primes])
    dc = np.array([np.asarray(c)[:steps].any(axis=1).mean() for c in continuations])
    other = _derangement(len(dp), seed)
    return {"matched": float(np.abs(dp - dc).mean()), "shuffled": float(np.abs(dp[other] - dc).mean()),
            "pairs": len(dp)}


__all__ = ["same_scale", "key_kept", "density_kept"]
