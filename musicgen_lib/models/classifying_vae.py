"""A classifying VAE: the key as a latent variable of every frame (thesis §5.4; Hennig,
Umakantha & Williamson 2017), small, over piano-roll frames.

Explained in notebooks/04f_classifying_vae.ipynb.

At step t an LSTM summarises the past frames, u_t = f(v_<t), and the frame is generated from
two latent variables, as in the thesis' p(x, z, w) = p(x | z, w) p(z) p(w):

    w_t ~ p(w | u_t)            one of 24 keys (12 major, 12 minor): categorical, from the past
    z_t ~ N(0, I_d)             the rest of what the frame holds
    v_t ~ prod_k Bernoulli(v_tk; sigmoid(g(z_t, w_t, u_t))_k)   keys independent given z, w

and the encoder q(z | v_t, u_t) q(w | v_t, u_t) reads the frame and the past. The thesis
describes the original's relaxation of w (a logistic normal, so that w can be reparameterised).
Here there are only 24 keys, so every sum over w is **exact**: the ELBO takes the expectation
over q(w) in closed form,

    ELBO_t = sum_w q(w) E_q(z) log p(v_t | z, w, u_t) - KL(q(w) || p(w | u_t)) - KL(q(z) || p(z)),

and training adds alpha * CE(q(w | v_t, u_t), w_t*), the thesis' "ELBO - alpha L(w, w_bar)":
w_t* is the Krumhansl–Schmuckler key of the window of ``key_window`` steps that holds t,
computed on the (transposed) batch itself. ``log_prob`` reports an IWAE bound over z with w
summed out, a lower bound on log p(v_t | v_<t): the NLL it gives is a **bound**.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.octave import FOLD, key_profiles
from .base import Recurrence, SequenceModel
from .gaussian import (iwae_from_log_weights, kl_to_standard_normal, log_normal,
                       log_standard_normal)

N_KEYS = 24


@dataclass
class ClassifyingVAEConfig:
    """Sizes of a :class:`ClassifyingVAE`.

    Notebook: 04f_classifying_vae."""
    n_visible: int = 88
    n_recurrent: int = 128     # the LSTM over past frames
    n_latent: int = 8          # d, the size of z
    n_hidden: int = 128        # width of the encoder's and the decoder's hidden layer
    n_key_embed: int = 16      # the decoder's embedding of w
    key_window: int = 16       # steps of the window whose Krumhansl–Schmuckler key labels a step
    alpha: float = 1.0         # weight of the key classification loss
    cell: str = "lstm"
    dropout: float = 0.0
    eval_samples: int = 32     # codes z per step of the IWAE bound that log_prob reports


def _mlp(n_in, n_hidden, n_out):
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_out))


class ClassifyingVAE(SequenceModel):
    """p(v_t | v_<t) = sum_w p(w | u_t) ∫ p(v_t | z, w, u_t) p(z) dz, with a key classifier
    q(w | v_t, u_t); log_prob is an IWAE bound.

    Notebook: 04f_classifying_vae.
    """
    exact = False
    has_frame_accuracy = False

    def __init__(self, cfg: ClassifyingVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.method = (f"IWAE bound ({cfg.eval_samples} codes per step, the key summed exactly)"
                       if cfg.eval_samples > 1 else "ELBO (1 code per step, the key summed exactly)")
        V, R, d = cfg.n_visible, cfg.n_recurrent, cfg.n_latent
        self.rnn = Recurrence(V, R, cfg.cell, 1, cfg.dropout)
        self.prior_w = nn.Linear(R, N_KEYS)                              # p(w | u_t)
        self.encoder = _mlp(V + R, cfg.n_hidden, 2 * d + N_KEYS)         # q(z | .), q(w | .)
        self.key_embed = nn.Embedding(N_KEYS, cfg.n_key_embed)
        self.decoder = _mlp(d + cfg.n_key_embed + R, cfg.n_hidden, V)   # logits of p(v | z, w, u)
        prof = torch.tensor(key_profiles(), dtype=torch.float32)
        prof = prof - prof.mean(-1, keepdim=True)
        self.register_buffer("profiles", prof / prof.norm(dim=-1, keepdim=True), persistent=False)
        self.register_buffer("fold", torch.as_tensor(FOLD[:V], dtype=torch.float32), persistent=False)

    # ------------------------------------------------------------ the key labels

    @torch.no_grad()
    def key_labels(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) the Krumhansl–Schmuckler key (0..23) of the window of ``key_window`` steps
        holding each step (windows from step 0, as analysis.keys.window_keys cuts them), -1
        where nothing sounds in the window. x: (B, T, 88) frames."""
        B, T, _ = x.shape
        W = self.cfg.key_window
        pcs = F.pad(x.float() @ self.fold, (0, 0, 0, -T % W))              # (B, T', 12)
        weights = pcs.reshape(B, -1, W, 12).sum(2)                          # (B, n_windows, 12)
        centred = weights - weights.mean(-1, keepdim=True)
        scores = centred @ self.profiles.T                                  # Pearson, up to a scale
        labels = torch.where(weights.sum(-1) > 0, scores.argmax(-1), -1)
        return labels.repeat_interleave(W, 1)[:, :T]

    # ------------------------------------------------------------ the networks

    def _parts(self, x):
        """Teacher-forced: u (B, T, R), q(z) mean and log sd (B, T, d), q(w) logits and
        log p(w | u) (B, T, 24)."""
        u, _ = self.rnn(x)
        h = self.encoder(torch.cat([x, u], -1))
        d = self.cfg.n_latent
        return u, h[..., :d], h[..., d:2 * d], h[..., 2 * d:], F.log_softmax(self.prior_w(u), -1)

    def _log_px_every_key(self, x, z, u):
        """log p(v_t | z, w, u_t) for each of the 24 keys w: (..., 24), from x (..., 88),
        z (..., d), u (..., R)."""
        shape = z.shape[:-1]
        keys = self.key_embed.weight.expand(*shape, N_KEYS, -1)               # (..., 24, E)
        inp = torch.cat([z[..., None, :].expand(*shape, N_KEYS, -1), keys,
                         u[..., None, :].expand(*shape, N_KEYS, -1)], -1)
        logits = self.decoder(inp)                                           # (..., 24, 88)
        return -F.binary_cross_entropy_with_logits(
            logits, x[..., None, :].expand_as(logits), reduction="none").sum(-1)

    # ------------------------------------------------------------ losses and bounds

    def _elbo(self, x, u, mu, log_sigma, q_logits, log_pw):
        """The ELBO of each step (B, T): keys summed exactly, one z by reparameterisation."""
        z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        log_qw = F.log_softmax(q_logits, -1)
        qw = log_qw.exp()
        recon = (qw * self._log_px_every_key(x, z, u)).sum(-1)                    # (B, T)
        kl_w = (qw * (log_qw - log_pw)).sum(-1)
        return recon - kl_w - kl_to_standard_normal(mu, log_sigma)

    def training_loss(self, x, mask):
        """Negative ELBO per step (keys summed exactly, one z by reparameterisation) plus
        alpha times the key classifier's cross-entropy against the window keys."""
        u, mu, log_sigma, q_logits, log_pw = self._parts(x)
        elbo = self._elbo(x, u, mu, log_sigma, q_logits, log_pw)
        labels = self.key_labels(x)
        labelled = mask & (labels >= 0)
        ce = F.cross_entropy(q_logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
        n = mask.sum()
        neg_elbo = -(elbo * mask).sum() / n
        ce_mean = (ce * labelled).sum() / labelled.sum().clamp(min=1)
        accuracy = ((q_logits.argmax(-1) == labels) & labelled).sum() / labelled.sum().clamp(min=1)
        return neg_elbo + self.cfg.alpha * ce_mean, {"neg_elbo": neg_elbo.item(), "key_ce": ce_mean.item(),
                                                     "key_accuracy": accuracy.item()}

    @torch.no_grad()
    def log_prob(self, x, mask, validation: bool = False, **_):
        """(B, T) the IWAE bound on log p(v_t | v_<t) with ``eval_samples`` codes (the ELBO
        with one code when ``validation``), and the delta-method variance of each step's
        estimate (which understates it when a few weights dominate)."""
        u, mu, log_sigma, q_logits, log_pw = self._parts(x)
        k = 1 if validation else self.cfg.eval_samples
        if k == 1:
            elbo = self._elbo(x, u, mu, log_sigma, q_logits, log_pw)
            return elbo * mask, torch.zeros_like(elbo)
        log_w = []
        for _ in range(k):
            z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
            log_px = torch.logsumexp(log_pw + self._log_px_every_key(x, z, u), -1)    # w summed out
            log_w.append(log_px + log_standard_normal(z) - log_normal(z, mu, log_sigma))
        bound, var = iwae_from_log_weights(torch.stack(log_w))                         # (k, B, T)
        return bound * mask, var * mask

    # ------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None,
                 key=None, generator=None) -> torch.Tensor:
        """(batch, n_steps, 88) frames after the prime (batch, P, 88): at each step a key w from
        p(w | u_t) — or the given ``key`` at every step (0..23, or one per piece: (batch,)) —,
        a code z from the prior, and each of the 88 keys independently given them.

        Notebook: 04f_classifying_vae."""
        self.eval()
        dev = self.prior_w.weight.device
        state, v = None, torch.zeros(batch, self.cfg.n_visible, device=dev)
        if prime is not None:
            prime = prime.to(dev).float()
            _, state = self.rnn.rnn(torch.cat([v[:, None], prime[:, :-1]], 1))
            v = prime[:, -1]
        out = []
        for _ in range(n_steps):
            u, state = self.rnn.step(v, state)
            if key is None:
                w = torch.multinomial(F.softmax(self.prior_w(u), -1), 1, generator=generator)[:, 0]
            else:
                w = torch.as_tensor(key, dtype=torch.long, device=dev).expand(batch)
            z = torch.randn(batch, self.cfg.n_latent, generator=generator).to(dev)
            p = torch.sigmoid(self.decoder(torch.cat([z, self.key_embed(w), u], -1)))
            v = torch.bernoulli(p, generator=generator)
            out.append(v)
        return torch.stack(out, 1)
