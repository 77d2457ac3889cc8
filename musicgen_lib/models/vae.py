"""A variational autoencoder over short binary vectors (thesis §4.6, Kingma & Welling 2013), small
enough that its log-likelihood is exact: the latent has 1 or 2 dimensions, so the integral
p(x) = ∫ p(x | z) p(z) dz is a sum over a fine grid of z.

Explained in notebooks/02_tools.ipynb, where it is trained on the same three chords as the RBM.

    p(z) = N(0, I_d),   p(x | z) = prod_i Bernoulli(x_i; sigmoid(f_θ(z)_i)),   d in {1, 2}
    q(z | x) = N(mu_φ(x), diag sigma_φ(x)^2)                     (the encoder)
    ELBO(x) = E_q log p(x | z) - KL(q(z | x) || p(z))             (thesis (9))
            = log p(x) - KL(q(z | x) || p(z | x))                 (thesis (8): the gap)
    IWAE_k(x) = E log (1/k sum_j p(x, z_j) / q(z_j | x)),  z_1..z_k ~ q(z | x)  (Burda et al. 2016)
              IWAE_1 = ELBO <= IWAE_k <= IWAE_{k+1} <= log p(x),  IWAE_k -> log p(x) as k -> inf
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .gaussian import (iwae_from_log_weights, kl_to_standard_normal, log_normal,
                       log_standard_normal, reparameterise)
from .rbm import all_binary


@dataclass(frozen=True)
class BernoulliVAEConfig:
    """Sizes of a :class:`BernoulliVAE`.

    Notebook: 02_tools."""

    n_visible: int = 6   # D binary units (keys of a frame)
    n_latent: int = 1    # d: 1 or 2, so that log p(x) can be integrated on a grid
    n_hidden: int = 32   # width of the encoder's and the decoder's two hidden layers


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_hidden),
                         nn.Tanh(), nn.Linear(n_hidden, n_out))


def latent_grid(n_latent: int, n_points: int, radius: float, dtype=torch.float32):
    """A uniform grid over [-radius, radius]^d and the log of its prior quadrature weights
    log p(z_g) + log(cell volume): (G, d), (G,) with G = n_points^d."""
    if n_latent not in (1, 2):
        raise ValueError(f"the latent grid needs 1 or 2 latent dimensions, not {n_latent}")
    axis = torch.linspace(-radius, radius, n_points, dtype=dtype)
    step = 2 * radius / (n_points - 1)  # in double: axis[1] - axis[0] is off by 1e-5 in float32
    z = axis[:, None] if n_latent == 1 else torch.cartesian_prod(axis, axis)  # (G, d)
    log_w = log_standard_normal(z) + n_latent * math.log(step)
    return z, log_w


class BernoulliVAE(nn.Module):
    """A VAE of binary vectors with a Gaussian encoder and a factorised Bernoulli decoder.

    Training maximises :meth:`elbo` (one reparameterised sample, as the thesis describes);
    :meth:`exact_log_prob` integrates over the latent grid and :meth:`elbo_exact` takes the
    expectation over q by Gauss–Hermite quadrature, so the gap between them is the true
    KL(q(z | x) || p(z | x)). :meth:`iwae_bound` draws the importance-weighted bound.

    Notebook: 02_tools."""

    def __init__(self, cfg: BernoulliVAEConfig = BernoulliVAEConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = _mlp(cfg.n_visible, cfg.n_hidden, 2 * cfg.n_latent)  # x -> (mu, log sigma)
        self.decoder = _mlp(cfg.n_latent, cfg.n_hidden, cfg.n_visible)      # z -> logits of x

    # ------------------------------------------------------------ the two networks

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """q(z | x): x (N, D) -> mu (N, d), log sigma (N, d)."""
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)
        return mu, log_sigma

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of p(x_i = 1 | z): z (..., d) -> (..., D)."""
        return self.decoder(z)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) for the pairs x (N, D), z (..., N, d) -> (..., N)."""
        logits = self.decode(z)  # (..., N, D)
        return (x * logits - F.softplus(logits)).sum(-1)

    def log_q(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log q(z | x): x (N, D), z (..., N, d) -> (..., N)."""
        mu, log_sigma = self.encode(x)
        return log_normal(z, mu, log_sigma)

    def kl_to_prior(self, x: torch.Tensor) -> torch.Tensor:
        """KL(q(z | x) || N(0, I)) in closed form: (N, D) -> (N,)."""
        mu, log_sigma = self.encode(x)
        return kl_to_standard_normal(mu, log_sigma)

    def sample_q(self, x: torch.Tensor, k: int, rng: Optional[torch.Generator] = None):
        """k reparameterised draws z = mu + sigma * xi, xi ~ N(0, I): (k, N, d), with mu and
        log sigma (N, d); gradients reach the encoder through mu and sigma."""
        mu, log_sigma = self.encode(x)
        return reparameterise(mu, log_sigma, k, rng), mu, log_sigma

    # ------------------------------------------------------------ bounds on log p(x)

    def elbo(self, x: torch.Tensor, n_samples: int = 1, rng: Optional[torch.Generator] = None):
        """Monte Carlo ELBO (thesis (9), (10)): mean over n_samples draws of log p(x | z) minus
        the closed-form KL to the prior. Differentiable; (N, D) -> (N,).

        Notebook: 02_tools."""
        z, _, _ = self.sample_q(x, n_samples, rng)  # (S, N, d)
        return self.log_px_given_z(x, z).mean(0) - self.kl_to_prior(x)

    def elbo_exact(self, x: torch.Tensor, n_nodes: int = 64) -> torch.Tensor:
        """The ELBO without sampling noise: E_q log p(x | z) by Gauss–Hermite quadrature with
        n_nodes per latent dimension (converged to ~1e-5 nats on the toy of notebook 02; a
        sharper decoder needs more nodes): (N,).

        Notebook: 02_tools."""
        t, w = np.polynomial.hermite.hermgauss(n_nodes)
        t = torch.as_tensor(t, dtype=x.dtype)
        log_w = torch.as_tensor(np.log(w / math.sqrt(math.pi)), dtype=x.dtype)
        d = self.cfg.n_latent
        nodes = t[:, None] if d == 1 else torch.cartesian_prod(t, t)  # (M, d)
        log_wn = log_w if d == 1 else log_w[:, None] + log_w[None, :]
        weights = torch.exp(log_wn.reshape(-1))  # (M,) sums to 1
        mu, log_sigma = self.encode(x)
        z = mu + math.sqrt(2.0) * torch.exp(log_sigma) * nodes[:, None, :]  # (M, N, d)
        expected = (weights[:, None] * self.log_px_given_z(x, z)).sum(0)
        return expected - self.kl_to_prior(x)

    def iwae_bound(self, x: torch.Tensor, k: int, rng: Optional[torch.Generator] = None):
        """One draw of the importance-weighted bound with k samples: log mean_j p(x, z_j) /
        q(z_j | x). Its expectation rises with k toward log p(x); k = 1 is a (noisier) ELBO.
        (N, D) -> (N,).

        Notebook: 02_tools."""
        z, mu, log_sigma = self.sample_q(x, k, rng)  # (k, N, d)
        log_prior = log_standard_normal(z)  # before the decoder: the order of autograd's sums
        log_w = self.log_px_given_z(x, z) + log_prior - log_normal(z, mu, log_sigma)  # (k, N)
        return iwae_from_log_weights(log_w)[0]

    # ------------------------------------------------------------ exact, on the latent grid

    def _n_points(self, n_points: Optional[int]) -> int:
        return n_points or (4001 if self.cfg.n_latent == 1 else 301)

    def log_joint_on_grid(self, x: torch.Tensor, n_points: Optional[int] = None,
                          radius: float = 8.0) -> Tuple[torch.Tensor, torch.Tensor]:
        """The grid z (G, d) and log p(x | z_g) + log of the prior's quadrature weight (N, G):
        its logsumexp over g is log p(x), its softmax the posterior p(z_g | x) per cell."""
        z, log_w = latent_grid(self.cfg.n_latent, self._n_points(n_points), radius, x.dtype)
        logits = self.decode(z)                                          # (G, D)
        log_px_z = x @ logits.T - F.softplus(logits).sum(-1)             # (N, G)
        return z, log_px_z + log_w

    def exact_log_prob(self, x: torch.Tensor, n_points: Optional[int] = None,
                       radius: float = 8.0) -> torch.Tensor:
        """log p(x) = log ∫ p(x | z) p(z) dz on a uniform grid over [-radius, radius]^d (the
        prior's mass outside is below 1e-14): (N, D) -> (N,).

        Notebook: 02_tools."""
        return torch.logsumexp(self.log_joint_on_grid(x, n_points, radius)[1], -1)

    def posterior_on_grid(self, x: torch.Tensor, n_points: Optional[int] = None,
                          radius: float = 8.0) -> Tuple[torch.Tensor, torch.Tensor]:
        """The grid z (G, d) and the log density of the exact posterior p(z | x) there (N, G).

        Notebook: 02_tools."""
        z, log_joint = self.log_joint_on_grid(x, n_points, radius)
        step = 2 * radius / (self._n_points(n_points) - 1)
        return z, torch.log_softmax(log_joint, -1) - self.cfg.n_latent * math.log(step)

    def distribution(self, **grid) -> torch.Tensor:
        """p(x) of every binary vector, in the order of rbm.all_binary(D): (2^D,).

        Notebook: 02_tools."""
        return torch.exp(self.exact_log_prob(all_binary(self.cfg.n_visible), **grid))

    @torch.no_grad()
    def sample(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """Ancestral samples: z ~ p(z), x ~ p(x | z). (n, D)."""
        z = torch.randn(n, self.cfg.n_latent, generator=rng)
        return torch.bernoulli(torch.sigmoid(self.decode(z)), generator=rng)


__all__ = ["BernoulliVAEConfig", "BernoulliVAE", "latent_grid"]
