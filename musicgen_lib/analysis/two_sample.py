"""Classifier two-sample test: can a small fixed classifier tell real fragments from
generated ones? (notebooks 09_harmony_analysis and 10_discussion)

The pieces of both sets are cut into fragments of ``length`` steps; each fragment becomes
a fixed vector of musical features (below); an L2-regularised logistic regression is
fitted on the fragments of a seeded half of the pieces and scored on the fragments of the
other half, so no piece is on both sides. Both classes are balanced by seeded subsampling,
so chance is exactly 50 %. The held-out accuracy comes with an interval from resampling
the held-out pieces (fragments of one piece are not independent): 50 % means
the classifier cannot tell the sets apart, 100 % that every fragment gives itself away.

Features of a ``(L, 88)`` fragment (transposition-invariant where it matters):

* pitch-class distribution sorted by weight (12), its entropy, the out-of-key share under
  the fragment's best Krumhansl–Schmuckler key;
* histogram of keys sounding at once, 0..9 and more (11);
* onsets per position in the bar (16), notes per onset step, share of steps with onsets;
* mean, spread and range of the sounding pitches (3);
* frame self-similarity at lags 4, 8 and 16 (3).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.midi import LOWEST_KEY
from ..data.octave import FOLD
from .harmony import onsets_of
from .keys import key_scores, scale_mask


@dataclass(frozen=True)
class TwoSampleConfig:
    """``length``: fragment length in steps (a multiple of 16 keeps bars aligned);
    ``test_fraction`` of the pieces are held out; ``l2``: ridge penalty of the logistic
    regression (on standardised features); ``max_per_class`` caps the fragments per class
    (seeded subsample); ``level`` of the accuracy's interval.

    Notebook: 04e_musegan, 09_harmony_analysis, 10_discussion."""

    length: int = 64
    test_fraction: float = 0.5
    l2: float = 1.0
    max_per_class: int = 4000
    level: float = 0.95
    seed: int = 0


@dataclass
class TwoSampleResult:
    accuracy: float
    ci_low: float
    ci_high: float
    n_train: int          # fragments per class in training
    n_test: int           # fragments per class held out

    def __str__(self) -> str:
        return (f"held-out accuracy {self.accuracy:.1%} "
                f"(95% CI {self.ci_low:.1%}-{self.ci_high:.1%}; "
                f"{self.n_test} + {self.n_test} test fragments)")

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "n_train": self.n_train, "n_test": self.n_test}


def fragments(rolls, length: int) -> tuple:
    """Non-overlapping ``length``-step fragments of every roll that sound at all:
    ``(frags (N, length, 88) bool, piece index (N,))``."""
    out, idx = [], []
    for i, r in enumerate(rolls):
        r = np.asarray(r).astype(bool)
        n = len(r) // length
        if n == 0:
            continue
        f = r[:n * length].reshape(n, length, r.shape[1])
        keep = f.any(axis=(1, 2))
        out.append(f[keep])
        idx.append(np.full(int(keep.sum()), i))
    if not out:
        return np.zeros((0, length, 88), bool), np.zeros(0, np.int64)
    return np.concatenate(out), np.concatenate(idx)


def fragment_features(frags) -> np.ndarray:
    """``(N, L, 88)`` bool fragments -> ``(N, F)`` float features (see the module doc)."""
    frags = np.asarray(frags).astype(bool)
    N, L, K = frags.shape
    f32 = frags.astype(np.float32)
    pcs = f32.sum(axis=1) @ FOLD.astype(np.float32)                     # (N, 12)
    total = np.maximum(pcs.sum(axis=1, keepdims=True), 1e-9)
    p = pcs / total
    sorted_p = -np.sort(-p, axis=1)                                     # (N, 12)
    ent = -(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0)).sum(axis=1)
    keys = key_scores(pcs).argmax(axis=1)                               # (N,)
    in_scale = scale_mask(keys)                                         # (N, 12)
    ons = onsets_of(frags.reshape(N * L, K)).reshape(N, L, K) if N else frags
    ons_pc = ons.sum(axis=1).astype(np.float32) @ FOLD.astype(np.float32)
    out_key = (ons_pc * ~in_scale).sum(axis=1) / np.maximum(ons_pc.sum(axis=1), 1)
    poly = np.minimum(frags.sum(axis=2), 10)                            # (N, L)
    poly_hist = np.stack([(poly == k).mean(axis=1) for k in range(11)], axis=1)
    per_step = ons.sum(axis=2)                                          # (N, L)
    pos = per_step.reshape(N, L // 16, 16).sum(axis=1) if L % 16 == 0 else \
        np.zeros((N, 16))
    pos = pos / np.maximum(pos.sum(axis=1, keepdims=True), 1)
    npo = per_step.sum(axis=1) / np.maximum((per_step > 0).sum(axis=1), 1)
    density = (per_step > 0).mean(axis=1)
    pitch = np.arange(K) + LOWEST_KEY
    w = f32.sum(axis=1)                                                 # (N, K)
    wsum = np.maximum(w.sum(axis=1), 1e-9)
    mean_p = (w * pitch).sum(axis=1) / wsum
    sd_p = np.sqrt(np.maximum((w * (pitch - mean_p[:, None]) ** 2).sum(axis=1) / wsum, 0))
    on_keys = w > 0
    span = np.where(on_keys.any(axis=1),
                    K - 1 - np.argmax(on_keys[:, ::-1], axis=1) - np.argmax(on_keys, axis=1), 0)
    reps = []
    for lag in (4, 8, 16):
        a, b = frags[:, lag:], frags[:, :-lag]
        union = (a | b).sum(axis=2)
        inter = (a & b).sum(axis=2)
        reps.append((inter / np.maximum(union, 1)).sum(axis=1) / np.maximum((union > 0).sum(axis=1), 1))
    return np.column_stack([sorted_p, ent, out_key, poly_hist, pos, npo, density,
                            mean_p / 100, sd_p / 10, span / 50, *reps]).astype(np.float64)


def fit_logistic(X, y, l2: float = 1.0, iters: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method; returns ``(F + 1,)`` weights
    (the last is the bias, not penalised). Deterministic."""
    Xb = np.column_stack([X, np.ones(len(X))])
    w = np.zeros(Xb.shape[1])
    reg = np.full(Xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        z = np.clip(Xb @ w, -30, 30)
        p = 1 / (1 + np.exp(-z))
        grad = Xb.T @ (p - y) + reg * w
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple:
    """Wilson score interval for a proportion ``k / n``."""
    if n == 0:
        return float("nan"), float("nan")
    from statistics import NormalDist

    z = NormalDist().inv_cdf((1 + level) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def _split_pieces(n_pieces: int, test_fraction: float, rng) -> np.ndarray:
    """Bool ``(n_pieces,)``: which pieces are held out (at least one on each side)."""
    test = np.zeros(n_pieces, bool)
    n_test = min(max(int(round(n_pieces * test_fraction)), 1), max(n_pieces - 1, 1))
    test[rng.permutation(n_pieces)[:n_test]] = True
    return test


def _sides(rolls, config, rng):
    """Train and test fragments of one set, with their piece indices. With a single piece
    (e.g. one long file) its fragments are split in two contiguous halves instead."""
    frags, piece = fragments(rolls, config.length)
    if len(set(piece.tolist())) >= 2:
        held = _split_pieces(len(rolls), config.test_fraction, rng)[piece]
    else:
        held = np.arange(len(frags)) >= len(frags) * (1 - config.test_fraction)
        piece = np.arange(len(frags))  # no pieces to group by: fragments count alone
    return (frags[~held], piece[~held]), (frags[held], piece[held])


def piece_bootstrap_interval(correct, piece, label, level: float = 0.95, n_boot: int = 2000,
                             seed: int = 0) -> tuple:
    """Interval for the accuracy that respects that fragments of one piece are not
    independent: resample the held-out *pieces* of each class (with their fragments)."""
    rng = np.random.default_rng(seed)
    accs = np.zeros(n_boot)
    groups = []
    for c in (0, 1):
        ids = np.unique(piece[label == c])
        k = np.array([correct[(label == c) & (piece == i)].sum() for i in ids], float)
        n = np.array([((label == c) & (piece == i)).sum() for i in ids], float)
        groups.append((k, n))
    for b in range(n_boot):
        kk = nn = 0.0
        for k, n in groups:
            j = rng.integers(0, len(k), len(k))
            kk += k[j].sum()
            nn += n[j].sum()
        accs[b] = kk / nn
    lo, hi = np.quantile(accs, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def two_sample_test(real, generated, config: TwoSampleConfig = TwoSampleConfig()) -> TwoSampleResult:
    """Held-out accuracy of a logistic regression telling fragments of ``real`` rolls from
    fragments of ``generated`` rolls (both lists of ``(T, 88)`` sounding rolls).

    The interval resamples held-out pieces (:func:`piece_bootstrap_interval`), since the
    fragments of one piece share its key, texture and composer; with one piece per set it
    is the Wilson interval over fragments.

    Notebook: 04e_musegan, 09_harmony_analysis, 10_discussion."""
    rng = np.random.default_rng(config.seed)
    (r_train, _), (r_test, r_piece) = _sides(real, config, rng)
    (g_train, _), (g_test, g_piece) = _sides(generated, config, rng)
    n_train = min(len(r_train), len(g_train), config.max_per_class)
    n_test = min(len(r_test), len(g_test), config.max_per_class)
    if n_train < 2 or n_test < 1:
        raise ValueError(f"too little music for a two-sample test with {config.length}-step "
                         f"fragments ({len(r_train) + len(r_test)} real, "
                         f"{len(g_train) + len(g_test)} generated)")

    def pick(n, *arrays):
        idx = np.sort(rng.permutation(len(arrays[0]))[:n])
        return [a[idx] for a in arrays]

    (rtr,), (gtr,) = pick(n_train, r_train), pick(n_train, g_train)
    rte, rpc = pick(n_test, r_test, r_piece)
    gte, gpc = pick(n_test, g_test, g_piece)
    Xtr = fragment_features(np.concatenate([rtr, gtr]))
    Xte = fragment_features(np.concatenate([rte, gte]))
    ytr = np.r_[np.zeros(n_train), np.ones(n_train)]
    yte = np.r_[np.zeros(n_test), np.ones(n_test)]
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-6
    w = fit_logistic((Xtr - mu) / sd, ytr, config.l2)
    pred = np.column_stack([(Xte - mu) / sd, np.ones(len(Xte))]) @ w > 0
    correct = pred == yte
    if len(np.unique(rpc)) >= 2 and len(np.unique(gpc)) >= 2:
        lo, hi = piece_bootstrap_interval(correct, np.r_[rpc, gpc], yte, config.level,
                                          seed=config.seed)
    else:
        lo, hi = wilson_interval(int(correct.sum()), len(yte), config.level)
    return TwoSampleResult(float(correct.mean()), lo, hi, n_train, n_test)
