"""RNN-NADE (Boulanger-Lewandowski, Bengio & Vincent, ICML 2012): an RNN reads the past and gives
the biases of a NADE that models the 88 keys of the next frame *jointly*, with exact likelihood.

Explained in notebooks/04_independent_vs_dependent.ipynb.

NADE (Larochelle & Murray 2011) over v in {0,1}^88 in the order of the keys (low to high):
    h_i = sigmoid(c + W[:, :i] v_<i)                (Hn,)      W: (Hn, 88)
    p(v_i = 1 | v_<i) = sigmoid(b_i + V[i] . h_i)               V: (88, Hn)
RNN-NADE: b_t = b + W_ub u_t, c_t = c + W_uc u_t, where u_t is the RNN state after v_<t.
Training maximises the exact log-likelihood; all (batch x time x key) terms come from two
batched matmuls (see NADE.logits), so there is no Python loop in training (sampling loops over
the 88 keys, vectorised over batch x time).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import (ClosedFormLogProb, RecurrentBiases, RecurrentConfig, StepStats,
                   stats_from_samples)


@dataclass
class RNNNADEConfig(RecurrentConfig):
    """The RNN-NADE's options: n_hidden NADE hidden units (BL 2012: 150)."""


class NADE(nn.Module):
    """The NADE weights shared across time; the biases come from outside, batched as (N, .)."""

    def __init__(self, n_visible: int, n_hidden: int):
        super().__init__()
        self.W = nn.Parameter(torch.randn(n_hidden, n_visible) * 0.01)  # (Hn, V) input weights
        self.V = nn.Parameter(torch.randn(n_visible, n_hidden) * 0.01)  # (V, Hn) output weights

    def logits(self, v, b, c):
        """Teacher-forced logits of p(v_i = 1 | v_<i) for all i at once. v, b: (N, V), c: (N, Hn).

        h_i only changes after a key that is on, so a row with n notes on has n + 1 distinct
        hidden vectors: A_k = c + (sum of W's columns of its first k notes), k = 0..n. Key i
        uses A_{rank_i}, rank_i = notes on below i. Two small matmuls replace 88 steps.
        """
        rank = v.cumsum(-1) - v                                    # (N, V) notes on below key i
        ks = torch.arange(int(v.sum(-1).max()) + 1, dtype=v.dtype, device=v.device)  # (K,) K = max notes + 1
        M = v[:, None, :] * (rank[:, None, :] < ks[:, None])        # (N, K, V) first k notes
        A = c[:, None, :] + M @ self.W.T                            # (N, K, Hn)
        G = torch.sigmoid(A) @ self.V.T                             # (N, K, V) logits if h = A_k
        return b + G.gather(1, rank.long()[:, None, :]).squeeze(1)   # (N, V)

    def log_prob(self, v, b, c):
        """log p(v) for each row: (N,)."""
        return -F.binary_cross_entropy_with_logits(self.logits(v, b, c), v, reduction="none").sum(-1)

    def logits_loop(self, v, b, c):
        """Reference: the same logits with a loop over the keys (used by benchmarks and tests)."""
        a, out = c.clone(), []
        for i in range(v.shape[-1]):
            out.append(b[:, i] + torch.sigmoid(a) @ self.V[i])  # (N,)
            a = a + v[:, i:i + 1] * self.W[:, i]
        return torch.stack(out, -1)

    @torch.no_grad()
    def sample(self, b, c):
        """v ~ NADE(b, c), loop over the keys, vectorised over rows. b: (N, V), c: (N, Hn)."""
        a, v = c.clone(), torch.zeros_like(b)
        for i in range(b.shape[-1]):
            p = torch.sigmoid(b[:, i] + torch.sigmoid(a) @ self.V[i])  # (N,)
            v[:, i] = torch.bernoulli(p)
            a += v[:, i:i + 1] * self.W[:, i]
        return v


class NADEFrames(ClosedFormLogProb):
    """Base of the models whose every frame is a NADE (``self.nade``) with the biases
    ``self.biases(x)`` -> b (B, T, 88), c (B, T, Hn) that the past sets: the RNN-NADE and the
    Transformer over frames (models/transformer_nade.py)."""

    def _log_prob(self, x, mask):
        b, c = self.biases(x)
        lp = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        lp[mask] = self.nade.log_prob(x[mask], b[mask], c[mask])  # only the real steps: (N,)
        return lp

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=100) -> StepStats:
        b, c = self.biases(x)
        b, c = b[mask], c[mask]  # (N, .)
        s = self.nade.sample(b.repeat(n_samples, 1), c.repeat(n_samples, 1))  # (S*N, 88)
        return stats_from_samples(s.reshape(n_samples, 1, -1, x.shape[-1]), x[mask][None], mask[mask][None])


class RNNNADE(NADEFrames, RecurrentBiases):
    def __init__(self, cfg: RNNNADEConfig):
        super().__init__(cfg)  # the recurrence and the bias maps (base.RecurrentBiases)
        self.nade = NADE(cfg.n_visible, cfg.n_hidden)

    @torch.no_grad()
    def sample_frame(self, u):
        return self.nade.sample(self.to_b(u), self.to_c(u))  # (B, 88) keys depend on each other
