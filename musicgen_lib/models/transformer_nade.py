"""A Transformer over piano-roll frames with relative position attention (Music Transformer,
Huang et al. 2018), whose every step gives the biases of a NADE over the 88 keys: the RNN-NADE
with the RNN replaced by causal self-attention, so the likelihood stays exact.

Explained in notebooks/10b_beyond_the_thesis.ipynb.

    e_t = W_in v_{t-1} (e_1 from a zero frame)                                      (d,)
    L blocks, pre-norm:  e <- e + Attn(LN(e)),  e <- e + FF(LN(e))
    Attn, per head:  a_ij = (q_i . k_j + q_i . r_{min(i-j, D)}) / sqrt(d_h)  for j <= i, else -inf
                     out_i = sum_j softmax_j(a_ij) v_j
    b_t, c_t = linear maps of LN(e_t)         (88,), (Hn,)
    p(v_t | v_<t) = NADE(v_t; b_t, c_t)      (rnn_nade.NADE: exact, keys low to high)

The relative term q_i . r_{i-j} is Shaw et al. (2018)'s, as the Music Transformer uses it: one
learned vector per head dimension and distance, distances beyond D sharing the last. It is
computed as Q R^T (B, H, T, D + 1) and gathered at each pair's distance, which costs T^2 memory
(Huang et al.'s "skewing" avoids that; music of a few hundred steps does not need it). All
steps train at once (teacher forcing); generation reruns the network on the growing piece.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from .base import shift_right
from .rnn_nade import NADE, NADEFrames


@dataclass
class TransformerNADEConfig:
    n_visible: int = 88
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 256
    max_distance: int = 64   # D: relative distances beyond it share one vector
    dropout: float = 0.2
    n_hidden: int = 150      # the NADE's hidden units


class RelativeSelfAttention(nn.Module):
    """Causal multi-head self-attention with Shaw-style relative position vectors."""

    def __init__(self, d_model: int, n_heads: int, max_distance: int, dropout: float):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        self.h, self.dh, self.D = n_heads, d_model // n_heads, max_distance
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.rel = nn.Parameter(torch.randn(max_distance + 1, self.dh) * 0.02)  # (D+1, d_h)
        self.out = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, d = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)  # (B, H, T, dh) each
        i = torch.arange(T, device=x.device)
        dist = (i[:, None] - i[None, :]).clamp(0, self.D)                         # (T, T)
        rel = (q @ self.rel.T).gather(-1, dist.expand(B, self.h, T, T))           # (B, H, T, T)
        scores = (q @ k.transpose(-1, -2) + rel) / math.sqrt(self.dh)
        scores = scores.masked_fill(i[None, :] > i[:, None], float("-inf"))      # no future
        att = self.drop(torch.softmax(scores, -1))
        return self.out((att @ v).transpose(1, 2).reshape(B, T, d))


class Block(nn.Module):
    """Pre-norm Transformer block: attention, then a feed-forward layer, each residual."""

    def __init__(self, cfg: TransformerNADEConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = RelativeSelfAttention(cfg.d_model, cfg.n_heads, cfg.max_distance, cfg.dropout)
        self.ff = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.ff(self.ln2(x)))


class TransformerNADE(NADEFrames):
    def __init__(self, cfg: TransformerNADEConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.n_visible, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.to_b = nn.Linear(cfg.d_model, cfg.n_visible)
        self.to_c = nn.Linear(cfg.d_model, cfg.n_hidden)
        self.nade = NADE(cfg.n_visible, cfg.n_hidden)
        self.drop = nn.Dropout(cfg.dropout)

    def context(self, x):
        """The summary of v_<t for every step: (B, T, 88) -> (B, T, d)."""
        e = self.drop(self.embed(shift_right(x)))
        for block in self.blocks:
            e = block(e)
        return self.ln(e)

    def biases(self, x):
        """Teacher-forced NADE biases of every step: b (B, T, 88), c (B, T, Hn)."""
        u = self.context(x)
        return self.to_b(u), self.to_c(u)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None) -> torch.Tensor:
        """Sample (batch, n_steps, 88) frames after an optional prime (batch, P, 88): each step
        reruns the network on the piece so far (one frame more) and samples the NADE."""
        V = self.cfg.n_visible
        piece = prime if prime is not None else next(self.parameters()).new_zeros(batch, 0, V)
        for _ in range(n_steps):
            grown = torch.cat([piece, piece.new_zeros(batch, 1, V)], 1)   # the new step's frame: unread
            b, c = self.biases(grown)
            piece = torch.cat([piece, self.nade.sample(b[:, -1], c[:, -1])[:, None]], 1)
        return piece[:, piece.shape[1] - n_steps:]
