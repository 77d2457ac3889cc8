"""A mixture of K sequence models with exact likelihoods, mixed at every step (notebook
04_independent_vs_dependent):

    p(v_t | v_<t) = 1/K sum_k p_k(v_t | v_<t)          each member reads the same true past

Every conditional is a proper distribution over frames, so the product over t is an exact
autoregressive likelihood — no estimate involved. The members are trained side by side (each
on its own NLL: they differ by their initial weights and dropout noise); the mixture is
better than any of them because their errors on a given step are partly independent.
Sampling picks a member per step and piece, draws the frame from it, and every member reads it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..errors import ConfigError
from .base import SequenceModel, StepStats


@dataclass
class MixtureConfig:
    member: str = "rnn-nade"     # a registered model with an exact likelihood
    n_members: int = 3
    member_config: dict = field(default_factory=dict)  # options of every member


class Mixture(SequenceModel):
    method = "exact"
    accuracy_samples = 100

    def __init__(self, cfg: MixtureConfig, members: list):
        """``members``: the K models, built by the registry from ``cfg.member`` and
        ``cfg.member_config`` (:func:`musicgen_lib.models.registry.build`)."""
        super().__init__()
        if len(members) < 1:
            raise ConfigError("model option n_members must be at least 1")
        if any(isinstance(m, Mixture) for m in members):
            raise ConfigError("a mixture cannot have mixtures as members")
        if not all(m.exact for m in members):
            raise ConfigError(f"mixture members need an exact likelihood; "
                              f"{cfg.member} uses {members[0].method}")
        self.cfg = cfg
        self.members = nn.ModuleList(members)
        self.n_visible = self.members[0].cfg.n_visible

    def training_loss(self, x, mask):
        losses = [m.training_loss(x, mask)[0] for m in self.members]  # each member on its own NLL
        return sum(losses), {f"nll{k}": loss.item() for k, loss in enumerate(losses)}

    @torch.no_grad()
    def log_prob(self, x, mask, **_):
        lp = torch.stack([m.log_prob(x, mask)[0] for m in self.members])  # (K, B, T)
        lp = (torch.logsumexp(lp, 0) - math.log(len(self.members))) * mask
        return lp, torch.zeros_like(lp)

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=100) -> StepStats:
        # the mixture's expected counts are the average of the members'
        stats = [m.frame_stats(x, mask, max(1, n_samples // len(self.members))) for m in self.members]
        K = len(stats)
        return StepStats(tp=sum(s.tp for s in stats) / K, fp=sum(s.fp for s in stats) / K,
                         fn=sum(s.fn for s in stats) / K)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n_steps, 88): at every step each piece's frame comes from a random member."""
        K = len(self.members)
        dev = next(self.parameters()).device
        states, v = [None] * K, torch.zeros(batch, self.n_visible, device=dev)
        if prime is not None:
            for k, m in enumerate(self.members):
                _, states[k] = m.rnn.rnn(torch.cat([v[:, None], prime[:, :-1]], 1))
            v = prime[:, -1]
        out = []
        for _ in range(n_steps):
            us = []
            for k, m in enumerate(self.members):
                u, states[k] = m.rnn.step(v, states[k])
                us.append(u)
            pick = torch.randint(K, (batch,)).to(dev)  # drawn on the CPU: the same stream anywhere
            v = torch.zeros(batch, self.n_visible, device=dev)
            for k, m in enumerate(self.members):
                rows = pick == k
                if rows.any():
                    v[rows] = m.sample_frame(us[k][rows])
            out.append(v)
        return torch.stack(out, 1)


__all__ = ["Mixture", "MixtureConfig"]
