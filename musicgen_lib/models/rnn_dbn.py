"""RNN-DBN (Goel, Vohra & Sahoo, ICANN 2014; thesis §5.3, second half): the RNN-RBM with its
RBM replaced by a two-layer deep belief network, whose every bias the RNN gives at each step.

Explained in notebooks/03_rnn_rbm.ipynb.

    u_t = RNN(v_1 .. v_{t-1})                                  (R,)
    b_t, c_t, b2_t, c2_t = linear maps of u_t                  (88,), (H,), (H,), (K,)
    p(h1_t, h2_t) = RBM(h1, h2; W2, b2_t, c2_t)                 the top RBM, W2: (K, H)
    p(v_t | h1_t) = prod_i Bernoulli(sigmoid(b_t + h1_t W1)_i)  the directed bottom layer, W1: (H, 88)
    q(h1_t | v_t) = prod_j Bernoulli(sigmoid(c_t + W1 v_t)_j)   the bottom RBM's up-pass

Training is greedy, as the thesis describes it (Hinton, Osindero & Teh 2006): the bottom is a
trained RNN-RBM (:meth:`RNNDBN.grow_from`), and the top RBM starts as its mirror image (W2 =
W1^T, b2_t = c_t, c2_t = b_t, so K = 88). Then p(h1) is the RNN-RBM's own marginal of its
hidden units, the DBN *is* the RNN-RBM, and q(h1 | v) is its exact posterior. With the bottom
frozen (``train_bottom`` False), CD-k teaches the top the samples h1 ~ q(h1 | v_t) of the
training frames; the biases b2_t, c2_t follow the past through their own maps of u_t.

Likelihood: log p(v_t | v_<t) = log sum_h1 p(v_t | h1) p(h1) is bounded below by the
importance-weighted bound with q(h1 | v_t) as proposal (Burda et al. 2016),
    IWAE_k = log (1/k) sum_j p(v_t | h1_j) p(h1_j) / q(h1_j | v_t),   h1_j ~ q(h1 | v_t),
with p(h1) = exp(-F2(h1)) / Z2_t. While the top mirrors the bottom every weight equals the
RNN-RBM's log p(v_t) (the bound is tight); training the top can only raise
E_q log p(h1), the one term of the k = 1 bound it changes (Hinton et al.'s argument). log Z2_t
is summed exactly when the top has at most 20 units on one side; otherwise it is an AIS
estimate, and the number is an AIS estimate of a bound (AIS's log Z is low in expectation, so
it can err on the optimistic side by about the estimator's spread, which evaluate reports).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import RecurrentBiases, RecurrentConfig, StepStats, stats_from_samples
from .gaussian import iwae_from_log_weights
from .rbm import cd_loss, free_energy, gibbs, log_partition_ais, log_partition_exact
from .rnn_rbm import RNNRBM


@dataclass
class RNNDBNConfig(RecurrentConfig):
    n_top: int = 88          # K top units: 88 lets the top start as the bottom's mirror
    cd_k: int = 15           # Gibbs steps of CD-k
    train_bottom: bool = False   # False: greedy, the RNN and the bottom RBM stay as grown
    init_std: float = 0.01
    eval_samples: int = 100  # k of the importance-weighted bound in evaluation
    valid_eval_samples: int = 10
    ais_chains: int = 50     # AIS effort for log Z2 when it cannot be summed
    ais_betas: int = 500
    valid_ais_chains: int = 10
    valid_ais_betas: int = 100
    gibbs_eval: int = 100    # Gibbs steps of the top RBM per sample (accuracy, generation)


def _log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """sum_i log Bernoulli(x_i; sigmoid(logits_i)), x and logits broadcast: (..., D) -> (...)."""
    logits, x = torch.broadcast_tensors(logits, x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


class RNNDBN(RecurrentBiases):
    accuracy_samples = 20     # each sample is a Gibbs chain of the top RBM

    def __init__(self, cfg: RNNDBNConfig):
        super().__init__(cfg)  # the recurrence, b_t (to_b) and the bottom hidden bias c_t (to_c)
        H, K = cfg.n_hidden, cfg.n_top
        self.W1 = nn.Parameter(torch.randn(H, cfg.n_visible) * cfg.init_std)  # (H, 88)
        self.W2 = nn.Parameter(torch.randn(K, H) * cfg.init_std)              # (K, H)
        self.to_b2 = nn.Linear(cfg.n_recurrent, H)   # the top RBM's bias of h1
        self.to_c2 = nn.Linear(cfg.n_recurrent, K)   # the top RBM's bias of h2
        self.exact_z = min(H, K) <= 20   # log Z2 summed over the smaller layer
        self.exact = False
        self.uses_ais = not self.exact_z
        self.method = "IWAE" if self.exact_z else "IWAE with AIS"
        # why a fresh run must start from a trained RNN-RBM (the training engine's check)
        self.needs_init = ("" if cfg.train_bottom else "trains its top RBM only (train_bottom false): "
                           "give the training option init a trained rnn-rbm run's folder")

    @torch.no_grad()
    def grow_from(self, rnn_rbm) -> None:
        """Take a trained RNN-RBM as the bottom (its recurrence, W and bias maps) and make the
        top its mirror image, so that this DBN is that RNN-RBM (needs n_top = 88).

        Notebook: 03_rnn_rbm."""
        if not isinstance(rnn_rbm, RNNRBM):
            raise ValueError(f"an RNN-DBN grows from a trained RNN-RBM, not a {type(rnn_rbm).__name__}")
        if self.cfg.n_top != self.cfg.n_visible:
            raise ValueError(f"the top mirrors the bottom only with n_top = {self.cfg.n_visible}, "
                             f"not {self.cfg.n_top}")
        mine = {k: v for k, v in self.state_dict().items()
                if k.startswith(("rnn.", "to_b.", "to_c."))}
        theirs = {k: v for k, v in rnn_rbm.state_dict().items() if k != "W"}
        if set(mine) != set(theirs) or any(mine[k].shape != theirs[k].shape for k in mine):
            raise ValueError("the RNN-RBM's recurrence and sizes differ from this RNN-DBN's")
        self.load_state_dict({**self.state_dict(), **theirs})
        self.W1.copy_(rnn_rbm.W)
        self.W2.copy_(rnn_rbm.W.T)
        self.to_b2.load_state_dict(rnn_rbm.to_c.state_dict())   # b2_t = c_t
        self.to_c2.load_state_dict(rnn_rbm.to_b.state_dict())   # c2_t = b_t

    def all_biases(self, x):
        """Teacher-forced biases of every step: (B, T, 88) -> b (B, T, 88), c, b2 (B, T, H),
        c2 (B, T, K)."""
        u, _ = self.rnn(x)
        return self.to_b(u), self.to_c(u), self.to_b2(u), self.to_c2(u)

    def training_loss(self, x, mask):
        v = x[mask]
        with torch.set_grad_enabled(self.cfg.train_bottom and torch.is_grad_enabled()):
            u = self.rnn(x)[0][mask]                                        # (N, R)
            b, c = self.to_b(u), self.to_c(u)                                # no graph when frozen
        stats, loss = {}, 0.0
        if self.cfg.train_bottom:
            loss = cd_loss(v, self.W1, b, c, self.cfg.cd_k)
            stats["cd_bottom"] = loss.item()
        with torch.no_grad():   # the top's data: the bottom's hidden units, sampled
            h1 = torch.bernoulli(torch.sigmoid(c + v @ self.W1.T))
        top = cd_loss(h1, self.W2, self.to_b2(u), self.to_c2(u), self.cfg.cd_k)
        stats["cd_top"] = top.item()
        return loss + top, stats

    def _log_z2(self, b2, c2, chains, betas):
        """log Z2 of every step's top RBM and its variance: exact, or AIS."""
        if self.exact_z:
            z = log_partition_exact(self.W2, b2, c2)
            return z, torch.zeros_like(z)
        return log_partition_ais(self.W2, b2, c2, chains, betas)

    @torch.no_grad()
    def log_prob(self, x, mask, validation=False, eval_samples=None, ais_chains=None,
                 ais_betas=None, chunk=256, **_):
        """(B, T) one draw of the importance-weighted bound on log p(v_t | v_<t) with k =
        ``eval_samples`` proposals of h1, and the variance of each step's number: the delta
        method's over the k weights (which understates it when a few dominate) plus AIS's."""
        k = eval_samples or (self.cfg.valid_eval_samples if validation else self.cfg.eval_samples)
        chains = ais_chains or (self.cfg.valid_ais_chains if validation else self.cfg.ais_chains)
        betas = ais_betas or (self.cfg.valid_ais_betas if validation else self.cfg.ais_betas)
        b, c, b2, c2 = (t[mask] for t in self.all_biases(x))
        v = x[mask]
        bounds, variances = [], []
        for sl in torch.arange(len(v)).split(chunk):   # memory: k x chunk x H
            vi, bi, ci, b2i, c2i = v[sl], b[sl], c[sl], b2[sl], c2[sl]
            log_z2, var_z2 = self._log_z2(b2i, c2i, chains, betas)          # (n,)
            q_logits = ci + vi @ self.W1.T                                  # (n, H)
            h1 = torch.bernoulli(torch.sigmoid(q_logits).expand(k, *q_logits.shape))  # (k, n, H)
            log_w = (_log_bernoulli(vi, bi + h1 @ self.W1)                 # log p(v | h1)
                     - free_energy(h1, self.W2, b2i, c2i)                  # log p(h1) + log Z2
                     - _log_bernoulli(h1, q_logits))                        # log q(h1 | v)
            bound, var = iwae_from_log_weights(log_w)
            bounds.append(bound - log_z2), variances.append(var + var_z2)
        lp, lv = x.new_zeros(mask.shape), x.new_zeros(mask.shape)
        lp[mask], lv[mask] = torch.cat(bounds), torch.cat(variances)
        return lp, lv

    def _sample_v(self, b, b2, c2, n_samples=None):
        """Ancestral sampling: h1 from the top RBM by Gibbs (gibbs_eval steps from zeros), then
        v ~ p(v | h1). b (N, 88), b2 (N, H), c2 (N, K) -> (N, 88), or (S, N, 88)."""
        shape = b2.shape if n_samples is None else (n_samples, *b2.shape)
        h1 = gibbs(b2.new_zeros(shape), self.W2, b2, c2, self.cfg.gibbs_eval)
        return torch.bernoulli(torch.sigmoid(b + h1 @ self.W1))

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=100) -> StepStats:
        b, _, b2, c2 = (t[mask] for t in self.all_biases(x))
        s = self._sample_v(b, b2, c2, n_samples)   # (S, N, 88)
        return stats_from_samples(s[:, None], x[mask][None], mask[mask][None])

    @torch.no_grad()
    def sample_frame(self, u):
        return self._sample_v(self.to_b(u), self.to_b2(u), self.to_c2(u))
