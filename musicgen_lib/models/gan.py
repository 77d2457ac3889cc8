"""A generative adversarial network on 1-D data (thesis §4.5, Goodfellow et al. 2014), small
enough that everything the theory speaks about can be computed: the data density is a known
mixture of Gaussians, the generator's density follows from pushing a fine grid of its 1-D
prior through it (no sampling noise), and so the optimal discriminator and the Jensen–Shannon
divergence are numbers, not estimates.

Explained in notebooks/02_tools.ipynb.

    L(G, D) = E_{x ~ p_data} log D(x) + E_{z ~ p(z)} log(1 - D(G(z)))      (thesis (6))
    D*(x) = p_data(x) / (p_data(x) + p_g(x)),   max_D L(G, D) = 2 JS(p_data || p_g) - log 4
    with JS(p || q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, between 0 and log 2.

The generator minimises the "non-saturating" -E log D(G(z)) by default, the heuristic the
thesis describes (its gradient does not vanish while D easily rejects the samples).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GaussianMixture1D:
    """p_data(x) = sum_k w_k N(x; mean_k, std_k^2): the known data distribution.

    Notebook: 02_tools."""

    means: Sequence[float] = (-2.0, 2.0)
    stds: Sequence[float] = (0.5, 0.5)
    weights: Sequence[float] = (0.5, 0.5)

    def _params(self, dtype=torch.float64):
        return (torch.tensor(self.means, dtype=dtype), torch.tensor(self.stds, dtype=dtype),
                torch.tensor(self.weights, dtype=dtype) / sum(self.weights))

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        """The density at x (...) -> (...)."""
        m, s, w = self._params(x.dtype)
        z = (x[..., None] - m) / s
        return (w * torch.exp(-0.5 * z ** 2) / (s * math.sqrt(2 * math.pi))).sum(-1)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        """P(X <= x): (...) -> (...)."""
        m, s, w = self._params(x.dtype)
        return (w * 0.5 * (1 + torch.erf((x[..., None] - m) / (s * math.sqrt(2))))).sum(-1)

    def bin_probs(self, edges: torch.Tensor) -> torch.Tensor:
        """The probability of each bin [edges_i, edges_i+1), the tails added to the end bins:
        (B + 1,) -> (B,)."""
        c = self.cdf(edges.double())
        p = c[1:] - c[:-1]
        p[0] += c[0]
        p[-1] += 1 - c[-1]
        return p

    def sample(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """n draws: (n,) float32."""
        m, s, w = self._params(torch.float32)
        k = torch.multinomial(w, n, replacement=True, generator=rng)
        return m[k] + s[k] * torch.randn(n, generator=rng)


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    # SiLU rather than ReLU: a smooth G has a density without the steps of a piecewise-linear map
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.SiLU(), nn.Linear(n_hidden, n_hidden),
                         nn.SiLU(), nn.Linear(n_hidden, n_out))


class Generator(nn.Module):
    """G(z): a two-hidden-layer MLP from z ~ N(0, I_d) to a real number.

    Notebook: 02_tools."""

    def __init__(self, n_latent: int = 1, n_hidden: int = 32):
        super().__init__()
        self.n_latent = n_latent
        self.net = _mlp(n_latent, n_hidden, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, d) -> x (N,)."""
        return self.net(z).squeeze(-1)

    def sample(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """n samples G(z), z ~ N(0, I): (n,)."""
        return self(torch.randn(n, self.n_latent, generator=rng))


class Discriminator(nn.Module):
    """D(x) = sigmoid(logit(x)): a two-hidden-layer MLP; forward returns the logit.

    Notebook: 02_tools."""

    def __init__(self, n_hidden: int = 32):
        super().__init__()
        self.net = _mlp(1, n_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N,) -> logit of D(x) (N,)."""
        return self.net(x[:, None]).squeeze(-1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x), the probability that x is real: (N,) -> (N,)."""
        return torch.sigmoid(self(x))


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_g), elementwise on densities (or bin probabilities) at the
    same points; 1/2 where both vanish (there any D is optimal).

    Notebook: 02_tools."""
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(1e-300), torch.full_like(total, 0.5))


def discriminator_loss(D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-L(G, D) estimated on the batches real (N,) and fake (M,): what D minimises.

    Notebook: 02_tools."""
    lr, lf = D(real), D(fake)
    # -log D(x) = softplus(-logit), -log(1 - D(x)) = softplus(logit): stable for large logits
    return F.softplus(-lr).mean() + F.softplus(lf).mean()


def generator_loss(D: Discriminator, fake: torch.Tensor, non_saturating: bool = True):
    """-E log D(G(z)) (the thesis' heuristic, default) or E log(1 - D(G(z))) (the minimax
    game itself) on a batch of generated samples fake (M,).

    Notebook: 02_tools."""
    logits = D(fake)
    return F.softplus(-logits).mean() if non_saturating else -F.softplus(logits).mean()


def gan_step(G: Generator, D: Discriminator, opt_g, opt_d, real: torch.Tensor,
             rng: Optional[torch.Generator] = None, non_saturating: bool = True,
             train_g: bool = True) -> Tuple[float, float]:
    """One round of the game: an optimiser step of D on a real batch (N,) and as many generated
    samples, then (if train_g) one of G on fresh samples (opt_g may be None if not).
    Returns (D's loss, G's loss; 0 if G was not trained).

    Notebook: 02_tools."""
    n = real.shape[0]
    with torch.no_grad():
        fake = G.sample(n, rng)
    d_loss = discriminator_loss(D, real, fake)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = torch.zeros(())
    if train_g:
        g_loss = generator_loss(D, G.sample(n, rng), non_saturating)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    return d_loss.item(), g_loss.item()


@torch.no_grad()
def generator_bin_probs(G: Generator, edges: torch.Tensor, n_points: int = 2001,
                        radius: float = 8.0) -> torch.Tensor:
    """The probability that G(z) falls in each bin [edges_i, edges_i+1), without sampling: G is
    evaluated on a uniform grid of z over [-radius, radius] (d = 1) and taken as linear between
    neighbouring points; each cell's prior mass is spread evenly over the interval of x it maps
    to. The error shrinks as the square of the grid's step; mass beyond the edges is added to
    the end bins. (B + 1,) -> (B,) float64.

    Notebook: 02_tools."""
    if G.n_latent != 1:
        raise ValueError("generator_bin_probs integrates over a 1-D latent only")
    z = torch.linspace(-radius, radius, n_points, dtype=torch.float64)
    mass = torch.special.ndtr(z[1:]) - torch.special.ndtr(z[:-1])  # (n - 1,) prior per cell
    mass = mass / mass.sum()  # the tails beyond the radius (< 1e-15) go to the end cells
    x = G(z[:, None].float()).double()
    lo, hi = torch.minimum(x[:-1], x[1:]), torch.maximum(x[:-1], x[1:])  # (n - 1,) each
    e = edges.double()
    # the part of each cell's interval below each edge: (n - 1, B + 1); a flat cell is a step
    below = ((e[None, :] - lo[:, None]) / (hi - lo).clamp_min(1e-12)[:, None]).clamp(0, 1)
    cdf = mass @ below  # (B + 1,) P(G(z) <= edge)
    p = cdf[1:] - cdf[:-1]
    p[0] += cdf[0]
    p[-1] += 1 - cdf[-1]
    return p


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """JS(p || q) in nats between two discrete distributions on the same bins (0 .. log 2).
    On bins it is a lower bound of the JS of the densities and tends to it as bins shrink.

    Notebook: 02_tools."""
    p, q = p.double() / p.sum(), q.double() / q.sum()
    m = 0.5 * (p + q)

    def kl(a):
        on = a > 0
        return (a[on] * (a[on] / m[on]).log()).sum()
    return float(0.5 * kl(p) + 0.5 * kl(q))


def value_on_bins(D: Discriminator, centers: torch.Tensor, p_data: torch.Tensor,
                  p_g: torch.Tensor) -> float:
    """L(G, D) = sum_bins p_data log D + p_g log(1 - D), D evaluated at the bin centers: the
    game's value with the expectations taken over the binned distributions. With D = D* of the
    bins it equals 2 JS(p_data || p_g) - log 4 exactly.

    Notebook: 02_tools."""
    with torch.no_grad():
        logit = D(centers.float()).double()
    return float((p_data * -F.softplus(-logit) + p_g * -F.softplus(logit)).sum())


__all__ = ["GaussianMixture1D", "Generator", "Discriminator", "optimal_discriminator",
           "discriminator_loss", "generator_loss", "gan_step", "generator_bin_probs",
           "js_divergence", "value_on_bins"]
