"""RNN-RBM (Boulanger-Lewandowski, Bengio & Vincent, ICML 2012; thesis §5.3): an RNN reads the
past and gives the biases b_t, c_t of an RBM over the next frame; the RBM weights W are shared.

Explained in notebooks/03_rnn_rbm.ipynb.

    u_t = RNN(v_1 .. v_{t-1})                    (R,)
    b_t = b + W_ub u_t,  c_t = c + W_uc u_t      (88,), (H,)
    p(v_t | v_<t) = RBM(v_t; W, b_t, c_t)        W: (H, 88)
Training: CD-k on every (batch x time) position at once, the Gibbs chains of all positions run
in parallel; the gradient of F(v_t) - F(v_t^(k)) flows into the RNN through b_t and c_t.
Evaluation: log p(v_t) = -F(v_t) - log Z_t, with log Z_t exact when H <= 20, AIS otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .base import RecurrentBiases, RecurrentConfig, StepStats, stats_from_samples
from .rbm import cd_loss, free_energy, gibbs, log_partition_ais, log_partition_exact


@dataclass
class RNNRBMConfig(RecurrentConfig):
    n_hidden: int = 100      # RBM hidden units
    cd_k: int = 25           # Gibbs steps of CD-k in training
    init_std: float = 0.01
    ais_chains: int = 50     # AIS effort for evaluation (per time step)
    ais_betas: int = 500
    valid_ais_chains: int = 20   # cheaper AIS for validation during training
    valid_ais_betas: int = 200
    gibbs_eval: int = 100    # Gibbs steps per sample for frame accuracy and generation


class RNNRBM(RecurrentBiases):
    accuracy_samples = 20  # each sample is a Gibbs chain

    def __init__(self, cfg: RNNRBMConfig):
        super().__init__(cfg)  # the recurrence and the bias maps (base.RecurrentBiases)
        self.W = nn.Parameter(torch.randn(cfg.n_hidden, cfg.n_visible) * cfg.init_std)  # (H, 88)
        self.exact = cfg.n_hidden <= 20  # 2^20 hidden configurations: log Z_t summed exactly
        self.uses_ais = not self.exact
        self.method = "exact" if self.exact else "AIS"

    def training_loss(self, x, mask):
        b, c = self.biases(x)
        loss = cd_loss(x[mask], self.W, b[mask], c[mask], self.cfg.cd_k)  # all positions at once
        return loss, {"cd": loss.item()}

    @torch.no_grad()
    def log_prob(self, x, mask, validation=False, ais_chains=None, ais_betas=None, chunk=512, **_):
        """(B, T) log p(v_t | v_<t) and the variance of each estimate (AIS spread)."""
        b, c = self.biases(x)
        b, c, v = b[mask], c[mask], x[mask]  # (N, .)
        chains = ais_chains or (self.cfg.valid_ais_chains if validation else self.cfg.ais_chains)
        betas = ais_betas or (self.cfg.valid_ais_betas if validation else self.cfg.ais_betas)
        lz, var = [], []
        for bi, ci in zip(b.split(chunk), c.split(chunk)):  # bound memory: chunk x chains x 88
            if self.exact:
                lz.append(log_partition_exact(self.W, bi, ci)), var.append(bi.new_zeros(len(bi)))
            else:
                z, s = log_partition_ais(self.W, bi, ci, chains, betas)
                lz.append(z), var.append(s)
        lp = x.new_zeros(mask.shape)
        lv = x.new_zeros(mask.shape)
        lp[mask] = -free_energy(v, self.W, b, c) - torch.cat(lz)
        lv[mask] = torch.cat(var)
        return lp, lv

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=100) -> StepStats:
        b, c = self.biases(x)
        b, c = b[mask], c[mask]  # (N, .)
        v0 = b.new_zeros(n_samples, *b.shape)
        s = gibbs(v0, self.W, b, c, self.cfg.gibbs_eval)  # (S, N, 88), chains of all positions at once
        return stats_from_samples(s[:, None], x[mask][None], mask[mask][None])

    @torch.no_grad()
    def sample_frame(self, u):
        v0 = u.new_zeros(u.shape[0], self.cfg.n_visible)
        return gibbs(v0, self.W, self.to_b(u), self.to_c(u), self.cfg.gibbs_eval)
