"""Gaussian latents, shared by the book's VAEs (chapter 02's toy VAE, the melody VAE of chapter
04d, the classifying VAE of chapter 04f): the diagonal Gaussian density, its KL divergence to the
standard normal prior, reparameterised draws, and the importance-weighted bound computed from
log-weights with its delta-method variance.

    log N(z; mu, diag sigma^2) = sum_i -((z_i - mu_i) / sigma_i)^2 / 2 - log sigma_i - log(2 pi) / 2
    KL(N(mu, diag sigma^2) || N(0, I)) = sum_i (mu_i^2 + sigma_i^2 - 1 - 2 log sigma_i) / 2
    IWAE_k = log (1/k) sum_j w_j,   w_j = p(x, z_j) / q(z_j | x)          (Burda et al. 2016)
    Var[estimate] ~ (k sum_j w~_j^2 - 1) / k,   w~ = w / sum_j w_j           (delta method)
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

LOG_2PI = math.log(2 * math.pi)


def log_normal(z: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(2 log_sigma)), summed over the last dimension: (..., d) -> (...)."""
    return (-0.5 * ((z - mu) * torch.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * LOG_2PI).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension (the prior of every VAE of the book):
    (..., d) -> (...)."""
    return log_normal(z, torch.zeros_like(z), torch.zeros_like(z))


def kl_to_standard_normal(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(2 log_sigma)) || N(0, I)) in closed form: (..., d) -> (...)."""
    return 0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(-1)


def reparameterise(mu: torch.Tensor, log_sigma: torch.Tensor, k: Optional[int] = None,
                   rng: Optional[torch.Generator] = None) -> torch.Tensor:
    """z = mu + sigma * xi with xi ~ N(0, I): (..., d), or (k, ..., d) when k is given;
    gradients reach mu and sigma."""
    shape = mu.shape if k is None else (k, *mu.shape)
    xi = torch.randn(shape, generator=rng, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(log_sigma) * xi


def iwae_from_log_weights(log_w: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The importance-weighted bound log (1/k) sum_j w_j from the log-weights (k, ...) and the
    delta-method variance of that estimate (...), which understates the spread when a few
    weights dominate."""
    k = log_w.shape[0]
    bound = torch.logsumexp(log_w, 0) - math.log(k)
    w = torch.softmax(log_w, 0)                        # normalised importance weights
    return bound, (k * (w ** 2).sum(0) - 1) / k
