"""The VAE and the GAN of notebook 02_tools (thesis §4.5–4.6): each is checked against an answer
known without it — exact likelihoods by enumeration and quadrature, the closed-form optimal
discriminator, Jensen–Shannon divergences of known distributions."""
import math

import pytest
import torch

from musicgen_lib.models.gan import (Discriminator, GaussianMixture1D, Generator, gan_step,
                                     generator_bin_probs, js_divergence, optimal_discriminator,
                                     value_on_bins)
from musicgen_lib.models.rbm import all_binary
from musicgen_lib.models.vae import BernoulliVAE, BernoulliVAEConfig, latent_grid

CHORDS = torch.tensor([[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=torch.float)


def random_vae(seed: int, n_latent: int = 1, scale: float = 1.0) -> BernoulliVAE:
    """A VAE with random weights; ``scale`` > 1 makes the decoder sharper (harder to integrate)."""
    torch.manual_seed(seed)
    vae = BernoulliVAE(BernoulliVAEConfig(n_visible=6, n_latent=n_latent, n_hidden=16))
    with torch.no_grad():
        for p in vae.parameters():
            p.mul_(scale)
    return vae


# ---------------------------------------------------------------- VAE

@pytest.mark.parametrize("n_latent", [1, 2])
def test_latent_grid_weights_are_the_prior(n_latent):
    z, log_w = latent_grid(n_latent, 201 if n_latent == 1 else 81, 8.0)
    assert z.shape == ((201, 1) if n_latent == 1 else (81 * 81, 2))
    assert abs(float(torch.logsumexp(log_w, 0))) < 1e-5  # the prior's mass: 1


@pytest.mark.parametrize("n_latent,scale", [(1, 1.0), (1, 3.0), (2, 1.0), (2, 2.0)])
def test_exact_log_prob_is_a_distribution_over_all_frames(n_latent, scale):
    vae = random_vae(n_latent + 10 * int(scale), n_latent, scale)
    with torch.no_grad():
        log_p = vae.exact_log_prob(all_binary(6))  # (64,)
        assert abs(float(torch.logsumexp(log_p, 0))) < 1e-5
        assert abs(float(vae.distribution().sum()) - 1) < 1e-5


def test_exact_log_prob_agrees_with_monte_carlo_over_the_prior():
    vae = random_vae(1, 1, 2.0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.randn(200_000, 1, 1, generator=g).expand(-1, 3, 1)  # (S, 3, 1)
        log_mc = torch.logsumexp(vae.log_px_given_z(CHORDS, z), 0) - math.log(200_000)
        exact = vae.exact_log_prob(CHORDS)
    assert torch.allclose(log_mc, exact, atol=0.02), (log_mc, exact)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_latent", [1, 2])
def test_elbo_is_below_the_exact_log_likelihood(seed, n_latent):
    vae = random_vae(seed, n_latent, 2.0)
    x = all_binary(6)[torch.randperm(64, generator=torch.Generator().manual_seed(seed))[:8]]
    with torch.no_grad():
        exact, elbo = vae.exact_log_prob(x), vae.elbo_exact(x)
    assert (elbo <= exact + 1e-4).all(), (elbo, exact)
    assert (exact - elbo).max() > 1e-3  # a random encoder is not the posterior: a real gap


def test_elbo_exact_matches_its_monte_carlo_estimate():
    vae = random_vae(2, 1, 2.0)
    with torch.no_grad():
        mc = vae.elbo(CHORDS, 200_000, torch.Generator().manual_seed(1))
        assert torch.allclose(mc, vae.elbo_exact(CHORDS), atol=0.02)


def test_the_gap_is_the_kl_to_the_exact_posterior():
    """Thesis (8): log p(x) - ELBO = KL(q(z | x) || p(z | x)), the KL computed on the grid."""
    vae = random_vae(3, 1, 2.0)
    with torch.no_grad():
        z, log_post = vae.posterior_on_grid(CHORDS)  # (G, 1), (3, G)
        log_q = vae.log_q(CHORDS, z[:, None, :].expand(-1, 3, -1)).T  # (3, G)
        kl = (torch.exp(log_q) * (log_q - log_post)).sum(-1) * float(z[1, 0] - z[0, 0])
        gap = vae.exact_log_prob(CHORDS) - vae.elbo_exact(CHORDS)
    assert torch.allclose(kl, gap, atol=2e-3), (kl, gap)


def test_iwae_bound_rises_with_k_toward_the_exact_value():
    vae = random_vae(4, 1, 2.0)
    g = torch.Generator().manual_seed(2)
    n = 2000
    with torch.no_grad():
        exact = vae.exact_log_prob(CHORDS)
        draws = {k: vae.iwae_bound(CHORDS.repeat(n, 1), k, g).view(n, 3) for k in (1, 10, 100)}
        elbo = vae.elbo_exact(CHORDS)
    mean = {k: d.mean(0) for k, d in draws.items()}
    se = {k: d.std(0) / math.sqrt(n) for k, d in draws.items()}
    assert ((mean[1] - elbo).abs() < 4 * se[1] + 1e-3).all()  # k = 1 is the ELBO
    assert (mean[1] < mean[10]).all() and (mean[10] < mean[100]).all()
    assert (mean[100] <= exact + 4 * se[100]).all()
    assert ((exact - mean[100]) < 0.25 * (exact - mean[1])).all()  # most of the gap closed


def test_training_on_the_elbo_raises_the_likelihood_and_is_deterministic():
    data = CHORDS.repeat(10, 1)

    def run():
        torch.manual_seed(0)
        vae = BernoulliVAE(BernoulliVAEConfig(6, 1, 16))
        rng = torch.Generator().manual_seed(0)
        opt = torch.optim.Adam(vae.parameters(), lr=0.01)
        with torch.no_grad():
            before = vae.exact_log_prob(CHORDS).mean()
        for _ in range(150):
            loss = -vae.elbo(data, 1, rng).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return before, vae.exact_log_prob(CHORDS).mean(), vae.sample(20, torch.Generator().manual_seed(1))

    before, after, samples = run()
    assert after > before + 1.0, (before, after)
    again = run()
    assert after == again[1] and torch.equal(samples, again[2])


# ---------------------------------------------------------------- GAN

def test_optimal_discriminator_of_two_known_gaussians():
    """p_data = N(0, 1), p_g = N(1, 1): D*(x) = p / (p + q) = sigmoid(1/2 - x)."""
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    p = GaussianMixture1D((0.0,), (1.0,), (1.0,)).pdf(x)
    q = GaussianMixture1D((1.0,), (1.0,), (1.0,)).pdf(x)
    assert torch.allclose(optimal_discriminator(p, q), torch.sigmoid(0.5 - x), atol=1e-12)
    both_zero = optimal_discriminator(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.0]))
    assert both_zero.tolist() == [0.5, 1.0]


def test_js_divergence_known_values():
    p, q = torch.tensor([0.5, 0.5, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.3, 0.7])
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(p, q) == pytest.approx(math.log(2), abs=1e-12)  # disjoint supports
    r = torch.tensor([0.25, 0.25, 0.25, 0.25])
    # p vs uniform: m = (3/8, 3/8, 1/8, 1/8)
    expected = 0.5 * (math.log(0.5 / 0.375)) + 0.5 * (0.5 * math.log(0.25 / 0.375) + 0.5 * math.log(2))
    assert js_divergence(p, r) == pytest.approx(expected, abs=1e-12)
    assert js_divergence(r, p) == pytest.approx(expected, abs=1e-12)


def test_mixture_bins_sum_to_one_and_match_its_samples():
    mix = GaussianMixture1D((-2.0, 1.0), (0.5, 0.8), (0.3, 0.7))
    edges = torch.linspace(-5, 5, 51)
    probs = mix.bin_probs(edges)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-12)
    x = mix.sample(100_000, torch.Generator().manual_seed(0))
    counts = torch.bucketize(x, edges, right=True).sub(1).clamp(0, 49).bincount(minlength=50)
    assert 0.5 * float((counts / 1e5 - probs).abs().sum()) < 0.01


def test_generator_bin_probs_of_an_affine_generator_is_the_normal_law():
    """G(z) = 2z + 1 pushes N(0, 1) to N(1, 4), whose bin probabilities are known."""
    G = Generator(n_latent=1)
    G.net = torch.nn.Linear(1, 1)
    with torch.no_grad():
        G.net.weight.fill_(2.0)
        G.net.bias.fill_(1.0)
    edges = torch.linspace(-6, 8, 141)
    expected = GaussianMixture1D((1.0,), (2.0,), (1.0,)).bin_probs(edges)
    assert (generator_bin_probs(G, edges) - expected).abs().max() < 1e-4


def test_generator_bin_probs_match_a_random_generators_samples():
    torch.manual_seed(0)
    G = Generator(n_latent=1, n_hidden=16)
    edges = torch.linspace(-3, 3, 61)
    probs = generator_bin_probs(G, edges)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-9)
    with torch.no_grad():
        x = G.sample(100_000, torch.Generator().manual_seed(1))
    counts = torch.bucketize(x, edges, right=True).sub(1).clamp(0, 59).bincount(minlength=60)
    assert 0.5 * float((counts / 1e5 - probs).abs().sum()) < 0.02


def test_the_value_at_the_optimal_discriminator_is_2js_minus_log4():
    mix, other = GaussianMixture1D(), GaussianMixture1D((0.0,), (1.5,), (1.0,))
    edges = torch.linspace(-6, 6, 121)
    centers = (edges[1:] + edges[:-1]) / 2
    p, q = mix.bin_probs(edges), other.bin_probs(edges)
    d_star = optimal_discriminator(p, q)
    best = value_on_bins(lambda x: torch.logit(d_star), centers, p, q)  # D* as a function of the bin
    assert best == pytest.approx(2 * js_divergence(p, q) - math.log(4), abs=1e-9)
    torch.manual_seed(0)
    for _ in range(3):  # any other discriminator does worse
        assert value_on_bins(Discriminator(16), centers, p, q) < best


def _game(seed: int, rounds: int, train_g: bool = True):
    torch.manual_seed(seed)
    G, D = Generator(1, 16), Discriminator(16)
    rng = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    mix = GaussianMixture1D()
    losses = [gan_step(G, D, opt_g, opt_d, mix.sample(128, rng), rng, train_g=train_g)
              for _ in range(rounds)]
    return G, D, losses


def test_discriminator_steps_reduce_its_loss_against_a_frozen_generator():
    G, D, losses = _game(0, 150, train_g=False)
    first, last = sum(l[0] for l in losses[:10]) / 10, sum(l[0] for l in losses[-10:]) / 10
    assert first == pytest.approx(math.log(4), abs=0.1)  # D ≈ 1/2 at the start
    assert last < 0.5 * first
    assert all(l[1] == 0.0 for l in losses)  # G was not trained


def test_the_game_moves_the_generator_toward_the_data_and_is_deterministic():
    edges = torch.linspace(-6, 6, 241)
    p_data = GaussianMixture1D().bin_probs(edges)
    torch.manual_seed(0)
    js_start = js_divergence(p_data, generator_bin_probs(Generator(1, 16), edges))
    G, _, losses = _game(0, 300)
    js_end = js_divergence(p_data, generator_bin_probs(G, edges))
    assert js_end < 0.5 * js_start, (js_start, js_end)
    G2, _, losses2 = _game(0, 300)
    assert losses == losses2
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), G2.parameters()))
