"""LSTM with independent Bernoulli outputs: p(v_t | v_<t) = prod_i p_i(v_t,i), p = sigmoid(Linear(u_t)).

The naive baseline of thesis §4.1: every key is sampled on its own, so the notes of a chord are
chosen without knowing each other. Explained in notebooks/04_independent_vs_dependent.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .base import BernoulliLogits, Recurrence, StepStats, stats_from_probs


@dataclass
class LSTMBernoulliConfig:
    n_visible: int = 88
    n_hidden: int = 256
    n_layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.0


class LSTMBernoulli(BernoulliLogits):
    def __init__(self, cfg: LSTMBernoulliConfig):
        super().__init__()
        self.cfg = cfg
        self.rnn = Recurrence(cfg.n_visible, cfg.n_hidden, cfg.cell, cfg.n_layers, cfg.dropout)
        self.out = nn.Linear(cfg.n_hidden, cfg.n_visible)

    def logits(self, x):
        u, _ = self.rnn(x)   # (B, T, H), u_t sees v_<t
        return self.out(u)   # (B, T, 88)

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=0) -> StepStats:
        return stats_from_probs(torch.sigmoid(self.logits(x)), x, mask)  # exact expectation

    @torch.no_grad()
    def sample_frame(self, u):
        return torch.bernoulli(torch.sigmoid(self.out(u)))  # (B, 88) independent keys
