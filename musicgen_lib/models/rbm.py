"""Restricted Boltzmann machine: energy, free energy, Gibbs sampling, CD-k, and the partition
function (exact by enumeration when one layer is small, annealed importance sampling otherwise).

Explained in notebooks/02_tools.ipynb (thesis §4, "RBM").

Energy of a binary pair (v, h), v in {0,1}^V, h in {0,1}^H, with W: (H, V), b: (V,), c: (H,):
    E(v, h) = -b.v - c.h - h.W v,        p(v, h) = exp(-E) / Z
Summing h out gives the free energy  F(v) = -b.v - sum_j softplus(c_j + W_j v),  p(v) = exp(-F) / Z.

The functions take the biases as tensors with leading batch dimensions (..., V) and (..., H),
so that the RNN-RBM can give every time step its own biases and use the same code batched over
all (batch x time) positions; W is shared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import SequenceModel, StepStats, stats_from_samples


# ---------------------------------------------------------------- functions of (W, b, c)

def free_energy(v: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """F(v) = -b.v - sum_j softplus(c_j + W_j v).  v: (..., V) -> (...)."""
    return -(v * b).sum(-1) - F.softplus(c + v @ W.T).sum(-1)


def energy(v, h, W, b, c) -> torch.Tensor:
    """E(v, h) = -b.v - c.h - h.W v.  v: (..., V), h: (..., H) -> (...)."""
    return -(v * b).sum(-1) - (h * c).sum(-1) - ((h @ W) * v).sum(-1)


def sample_h(v, W, c, rng=None):
    """h ~ p(h | v): (..., V) -> (..., H) binary sample and its probabilities."""
    p = torch.sigmoid(c + v @ W.T)
    return torch.bernoulli(p, generator=rng), p


def sample_v(h, W, b, rng=None):
    """v ~ p(v | h): (..., H) -> (..., V) binary sample and its probabilities."""
    p = torch.sigmoid(b + h @ W)
    return torch.bernoulli(p, generator=rng), p


def gibbs(v: torch.Tensor, W, b, c, k: int = 1, rng=None) -> torch.Tensor:
    """k steps of block Gibbs sampling v -> h -> v, started at v (..., V). Returns v_k."""
    return gibbs_chain(v, W, b, c, k, rng)[0]


def gibbs_chain(v: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, k: int,
                rng: Optional[torch.Generator] = None,
                mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`gibbs`, also returning the last visible probabilities (v_k, p(v | h_k)); visible
    units outside ``mask`` (..., V) stay 0 (the octave decoder's RBM). Compiled by
    TorchScript in the thesis model's generation step (thesis_step.DecoderStep)."""
    p = v
    for _ in range(k):
        h = torch.bernoulli(torch.sigmoid(c + v @ W.T), generator=rng)
        p = torch.sigmoid(b + h @ W)
        if mask is not None:
            p = p * mask
        v = torch.bernoulli(p, generator=rng)
    return v, p


def cd_loss(v: torch.Tensor, W, b, c, k: int = 1, weight: torch.Tensor | None = None):
    """Contrastive divergence CD-k as a loss: mean F(v_data) - mean F(v_k), v_k held constant.

    Its gradient with respect to W, b, c (and anything b, c are computed from) is the CD-k
    estimate of the gradient of the negative log-likelihood. weight (...) averages the terms.
    """
    with torch.no_grad():
        vk = gibbs(v, W.detach(), b.detach(), c.detach(), k)
    diff = free_energy(v, W, b, c) - free_energy(vk, W, b, c)  # (...)
    if weight is None:
        return diff.mean()
    return (diff * weight).sum() / weight.sum()


def all_binary(n: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """All 2^n binary vectors as rows: (2^n, n)."""
    idx = torch.arange(2 ** n, device=device)
    return ((idx[:, None] >> torch.arange(n, device=device)) & 1).to(dtype)


def log_partition_exact(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """log Z by enumerating the smaller layer (at most 2^24 states). b: (..., V), c: (..., H) -> (...).

    Enumerating h:  Z = sum_h exp(c.h) prod_i (1 + exp(b_i + (h W)_i));  likewise over v.
    """
    H, V = W.shape
    if min(H, V) > 24:
        raise ValueError(f"exact log Z needs a layer of at most 24 units, got {H} hidden and {V} visible")
    if H <= V:   # enumerate hidden states: reuse free_energy with the roles of v and h swapped
        states, Wt, x_bias, y_bias = all_binary(H, W.dtype, W.device), W.T, c, b
    else:
        states, Wt, x_bias, y_bias = all_binary(V, W.dtype, W.device), W, b, c
    batch = x_bias.shape[:-1]
    xb = x_bias.reshape(-1, 1, x_bias.shape[-1])  # (N, 1, n_enum)
    yb = y_bias.reshape(-1, 1, y_bias.shape[-1])  # (N, 1, n_other)
    chunk = max(1, 2 ** 22 // (xb.shape[0] * max(H, V)))  # bound the (N, S, .) temporaries
    parts = []
    for s in states.split(chunk):
        # -F over the enumerated layer: (N, S)
        parts.append(torch.logsumexp(-free_energy(s[None], Wt, xb, yb), dim=-1))
    return torch.logsumexp(torch.stack(parts, -1), -1).reshape(batch)


def ais_betas(n: int) -> torch.Tensor:
    """Inverse temperatures 0 = beta_0 < ... < beta_n = 1, denser near 1 (Salakhutdinov & Murray 2008)."""
    n1, n2 = max(1, n // 10), max(1, (3 * n) // 10)
    n3 = max(1, n - n1 - n2)
    return torch.cat([torch.linspace(0, 0.5, n1 + 1)[:-1], torch.linspace(0.5, 0.9, n2 + 1)[:-1],
                      torch.linspace(0.9, 1.0, n3 + 1)])


def meanfield_logits(W, b, c, iters: int = 20) -> torch.Tensor:
    """Logits of the mean-field marginals of v: mu = sigmoid(b + W^T sigmoid(c + W mu)).

    A cheap approximation of p(v_i = 1); used as the base distribution of AIS, which then has a
    much shorter way to go than from the biases alone. b: (..., V), c: (..., H) -> (..., V).
    """
    mu = torch.sigmoid(b)
    for _ in range(iters):
        mu = torch.sigmoid(b + torch.sigmoid(c + mu @ W.T) @ W)
    return torch.logit(mu.clamp(1e-4, 1 - 1e-4))


def log_partition_ais(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, n_chains: int = 100,
                      n_betas: int = 1000, b0: torch.Tensor | None = None, rng=None):
    """Annealed importance sampling estimate of log Z (Neal 2001; Salakhutdinov & Murray 2008).

    Intermediate distributions p_k(v, h) ∝ exp((1-β_k) b0.v + β_k (b.v + c.h + h.W v)); the base
    (β=0) has independent visible units with logits b0 and Z_0 = 2^H prod(1+e^b0). By default b0
    is the mean-field approximation of the RBM's marginals (meanfield_logits), which cuts the
    estimator's spread by an order of magnitude against b0 = b on music-like RBMs.
    b: (..., V), c: (..., H). Returns (log Z estimate (...), its variance (...) by the delta
    method from the spread of the chains' importance weights). The estimate is biased low in
    expectation (Jensen), so NLLs computed from it are slightly optimistic.
    """
    H, V = W.shape
    b0 = meanfield_logits(W, b, c) if b0 is None else b0.expand_as(b)
    batch = b.shape[:-1]
    c, b0 = c.reshape(-1, 1, H), b0.reshape(-1, 1, V)  # (N, 1, .)
    db = b.reshape(-1, 1, V) - b0                       # (N, 1, V)
    betas = ais_betas(n_betas).tolist()
    N = c.shape[0]

    def bernoulli(p):
        return (torch.rand(p.shape, generator=rng, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    v = bernoulli(torch.sigmoid(b0).expand(N, n_chains, V))  # (N, M, V) exact base samples
    log_w = torch.zeros(N, n_chains, dtype=W.dtype, device=W.device)
    for k in range(1, len(betas)):
        bk, bp = betas[k], betas[k - 1]
        a = c + v @ W.T  # (N, M, H)
        # log f_k(v) - log f_{k-1}(v), with log f_β(v) = b0.v + β (b - b0).v + sum softplus(β a)
        log_w += (bk - bp) * (v * db).sum(-1) + (F.softplus(bk * a) - F.softplus(bp * a)).sum(-1)
        h = bernoulli(torch.sigmoid(bk * a))       # one Gibbs transition that leaves p_k invariant
        v = bernoulli(torch.sigmoid(b0 + bk * (db + h @ W)))
    log_z0 = F.softplus(b0[:, 0]).sum(-1) + H * math.log(2.0)  # (N,)
    lse = torch.logsumexp(log_w, -1)
    log_z = log_z0 + lse - math.log(n_chains)
    w = torch.exp(log_w - lse[:, None])  # normalised weights, sum to 1 over chains
    var = (w * n_chains).var(-1) / n_chains  # var of mean(w)/mean(w) -> var of log Z (delta method)
    return log_z.reshape(batch), var.reshape(batch)


# ---------------------------------------------------------------- the RBM as a frame model

@dataclass
class RBMConfig:
    """An RBM over single frames, every step modelled independently of the past (BL 2012's "RBM")."""
    n_visible: int = 88
    n_hidden: int = 100
    cd_k: int = 1            # Gibbs steps of CD-k
    init_std: float = 0.01
    ais_chains: int = 1000   # for log Z when both layers have more than 20 units
    ais_betas: int = 10000
    valid_ais_chains: int = 100  # cheaper AIS for validation during training
    valid_ais_betas: int = 1000
    gibbs_eval: int = 200    # Gibbs steps per sample for frame accuracy


class RBM(SequenceModel):
    """p(v_t | v_<t) = p_RBM(v_t): one RBM for every frame, trained with CD-k."""

    accuracy_samples = 20  # each sample is a Gibbs chain
    shared_partition = True  # one log Z for every step: its error is common to all of them

    def __init__(self, cfg: RBMConfig):
        super().__init__()
        self.cfg = cfg
        self.W = nn.Parameter(torch.randn(cfg.n_hidden, cfg.n_visible) * cfg.init_std)  # (H, V)
        self.b = nn.Parameter(torch.zeros(cfg.n_visible))  # (V,)
        self.c = nn.Parameter(torch.zeros(cfg.n_hidden))   # (H,)
        self.exact = min(cfg.n_hidden, cfg.n_visible) <= 20  # 2^20 terms: log Z summed exactly
        self.uses_ais = not self.exact
        self.method = "exact" if self.exact else "AIS"

    def training_loss(self, x, mask):
        v = x[mask]  # (N, V) the real frames
        loss = cd_loss(v, self.W, self.b, self.c, self.cfg.cd_k)
        return loss, {"cd": loss.item()}

    @torch.no_grad()
    def log_z(self, chains=None, betas=None):
        """(log Z, variance of the estimate), computed once per weights and AIS effort."""
        key = (chains, betas, *(p._version for p in self.parameters()), *(p.data_ptr() for p in self.parameters()))
        if getattr(self, "_log_z_key", None) != key:
            if self.exact:
                val = log_partition_exact(self.W, self.b, self.c), self.W.new_zeros(())
            else:
                val = log_partition_ais(self.W, self.b, self.c, chains or self.cfg.ais_chains,
                                        betas or self.cfg.ais_betas)
            self._log_z_key, self._log_z_val = key, val
        return self._log_z_val

    @torch.no_grad()
    def log_prob(self, x, mask, validation=False, ais_chains=None, ais_betas=None, **_):
        if validation:
            ais_chains, ais_betas = ais_chains or self.cfg.valid_ais_chains, ais_betas or self.cfg.valid_ais_betas
        lz, var = self.log_z(ais_chains, ais_betas)
        lp = -free_energy(x, self.W, self.b, self.c) - lz  # (B, T)
        return lp * mask, var.expand_as(lp) * mask

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=100) -> StepStats:
        v0 = self.W.new_zeros(n_samples, self.cfg.n_visible)
        s = gibbs(v0, self.W, self.b, self.c, self.cfg.gibbs_eval)  # (S, V), same for every step
        return stats_from_samples(s[:, None, None, :].expand(-1, *x.shape), x, mask)

    @torch.no_grad()
    def generate(self, n_steps, batch=1, prime=None):
        v = self.W.new_zeros(batch * n_steps, self.cfg.n_visible)
        return gibbs(v, self.W, self.b, self.c, self.cfg.gibbs_eval).reshape(batch, n_steps, -1)


def exact_distribution(W, b, c) -> torch.Tensor:
    """p(v) for every v in all_binary(V) (small V only): (2^V,)."""
    vs = all_binary(W.shape[1], W.dtype)
    return torch.softmax(-free_energy(vs, W, b, c), 0)


def empirical_distribution(samples: torch.Tensor) -> torch.Tensor:
    """Frequencies of the binary rows of samples (N, V) in the order of all_binary(V): (2^V,)."""
    V = samples.shape[-1]
    idx = (samples.long() << torch.arange(V)).sum(-1)
    return torch.bincount(idx, minlength=2 ** V).double() / samples.shape[0]


__all__ = ["free_energy", "energy", "sample_h", "sample_v", "gibbs", "gibbs_chain", "cd_loss", "all_binary",
           "log_partition_exact", "log_partition_ais", "meanfield_logits", "ais_betas", "RBMConfig", "RBM",
           "exact_distribution", "empirical_distribution"]
