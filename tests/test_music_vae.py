"""The hierarchical melody VAE (models/music_vae.py): its bounds, its bar structure, and its
generation against its own teacher-forced forward pass."""
import math

import numpy as np
import pytest
import torch

from musicgen_lib.analysis.likelihoods import kind_of
from musicgen_lib.data.batches import pad_batch
from musicgen_lib.data.melody import N_TOKENS
from musicgen_lib.evaluate import evaluate
from musicgen_lib.models import build
from musicgen_lib.models.music_vae import slerp
from musicgen_lib.train import make_train_config, train

SMALL = {"bars": 3, "steps_per_bar": 4, "n_latent": 3, "n_embed": 5, "n_encoder": 8,
         "n_conductor": 8, "n_decoder": 8, "dropout": 0.0, "eval_samples": 16}


def vae(cfg=SMALL, seed=0):
    torch.manual_seed(seed)
    return build("music-vae", cfg).eval()


def melody(n, seed=0):
    return np.random.default_rng(seed).integers(0, N_TOKENS, n)[:, None].astype(np.uint8)


def test_pieces_are_cut_into_segments_from_their_starts_and_put_back():
    m = vae()
    x, mask = pad_batch([melody(30), melody(12, 1)])          # L = 12: 3 + 1 segments
    seg, seg_mask, keep = m.segments(x, mask)
    assert keep.tolist() == [True, True, True, True, False, False]
    assert seg_mask.sum(1).tolist() == [12, 12, 6, 12]
    assert (seg[2, :6] == x[0, 24:, 0]).all() and (seg[3] == x[1, :12, 0]).all()
    spread = m._spread(torch.tensor([1.0, 2.0, 3.0, 4.0]), seg_mask, keep, mask.shape)
    assert torch.allclose(spread.sum(1), torch.tensor([6.0, 4.0]))
    assert (spread[~mask] == 0).all()


def test_the_encoder_ignores_padding():
    m = vae()
    seg = torch.from_numpy(melody(12)[:, 0]).long()[None].repeat(2, 1)
    seg[1, 7:] = (seg[1, 7:] + 5) % N_TOKENS                 # other tokens past the end
    mask = torch.arange(12)[None] < 7
    mu, log_sigma = m.encode(seg, mask.repeat(2, 1))
    assert torch.allclose(mu[0], mu[1], atol=1e-6) and torch.allclose(log_sigma[0], log_sigma[1], atol=1e-6)


def test_each_bar_sees_only_its_conductor_output_and_the_previous_token():
    m = vae()
    z = torch.randn(1, 3)
    seg = torch.from_numpy(melody(12)[:, 0]).long()[None]
    other = seg.clone()
    other[0, 1] = (other[0, 1] + 1) % N_TOKENS               # inside bar 1, not its last token
    a, b = m.decoder_logits(z, seg), m.decoder_logits(z, other)
    assert not torch.allclose(a[0, 2], b[0, 2])               # the same bar reads it
    assert torch.allclose(a[0, 4:], b[0, 4:])                 # the next bars start afresh


def test_greedy_decoding_follows_the_teacher_forced_logits():
    m = vae()
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    tokens = m.decode(z, temperature=0)
    assert tokens.shape == (4, 12)
    assert (m.decoder_logits(z, tokens).argmax(-1) == tokens).all()


def test_sampling_follows_the_teacher_forced_conditionals():
    """The empirical frequency of the first two tokens under ``decode`` matches
    p(x_1 | z) p(x_2 | x_1, z) from the teacher-forced forward pass."""
    m = vae()
    n = 4000
    z = torch.randn(1, 3).repeat(n, 1)
    tokens = m.decode(z, temperature=1.0, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        p = torch.softmax(m.decoder_logits(z[:1], tokens[:1]), -1)[0]
    freq = (tokens[:, 0] == tokens[0, 0]).float().mean()
    assert abs(float(freq) - float(p[0, tokens[0, 0]])) < 4 * math.sqrt(0.25 / n)


@torch.no_grad()
def _exact_log_p(m, seg):
    """log p(x) = log ∫ p(x | z) N(z; 0, 1) dz for a 1-D latent, by quadrature on a grid."""
    grid = torch.linspace(-8, 8, 4001)[:, None]
    log_px_z = -m._recon_nll(grid, seg.repeat(len(grid), 1), torch.ones(len(grid), seg.shape[1], dtype=torch.bool))
    log_prior = -0.5 * grid[:, 0] ** 2 - 0.5 * math.log(2 * math.pi) + math.log(16 / 4000)
    return float(torch.logsumexp(log_px_z + log_prior, 0))


def test_elbo_below_iwae_below_the_exact_likelihood():
    cfg = {**SMALL, "n_latent": 1, "bars": 2}
    m = vae(cfg, seed=3)
    with torch.no_grad():  # make q(z | x) poor, so that the bounds differ visibly
        m.to_latent.bias.copy_(torch.tensor([0.5, -0.5]))
    seg = torch.from_numpy(melody(8, 2)[:, 0]).long()[None]
    mask = torch.ones_like(seg, dtype=torch.bool)
    exact = _exact_log_p(m, seg)
    torch.manual_seed(0)
    elbo = float(torch.stack([m.segment_bound(seg, mask, 1)[0] for _ in range(400)]).mean())
    iwae = float(m.segment_bound(seg.repeat(50, 1), mask.repeat(50, 1), 100)[0].mean())
    big, var = m.segment_bound(seg, mask, 200_000)
    assert elbo < iwae - 0.01 and iwae < exact + 0.01
    assert abs(float(big) - exact) < 0.01 and float(var) < 1e-3


def test_evaluate_reports_a_bound_with_its_estimator_spread():
    m = vae()
    out = evaluate(m, [melody(40), melody(25, 1)])
    assert out["method"] == "IWAE bound (16 samples per segment)" and kind_of(out["method"]) == "bound"
    assert out["steps"] == 65 and out["step_unit"] == "step" and out["frame_accuracy"] is None
    assert 0 < out["estimator_std"] < 0.1 and 2 < out["nll_per_step"] < 5
    assert evaluate(m, [melody(40), melody(25, 1)])["nll_per_step"] == out["nll_per_step"]  # seeded


def test_training_lowers_the_bound_and_uses_the_latent(tmp_path):
    # four segments, each repeated: a code of two bits tells them apart
    patterns = [melody(12, s) for s in range(4)]
    data = [np.concatenate([patterns[(s + i) % 4] for i in range(4)]) for s in range(8)]
    cfg = make_train_config({"batch_size": 8, "lr": 0.01, "max_steps": 100, "valid_every": 20,
                             "max_len": 24, "crop_align": 12})
    m = vae({**SMALL, "free_nats": 2.0})
    torch.manual_seed(0)
    x, mask = pad_batch(data)
    before = -float(m.log_prob(x, mask, validation=True)[0].sum() / mask.sum())
    res = train(m, data, data, cfg, tmp_path / "run", progress=False)
    assert res.best_valid < before - 1.0
    m.train()
    _, stats = m.training_loss(x, mask)
    assert stats["kl"] > 0.5  # the free nats keep the posterior away from the prior


def test_generation_and_interpolation_shapes_and_ends():
    m = vae()
    g = torch.Generator().manual_seed(0)
    assert m.generate(30, batch=2, generator=g).shape == (2, 30)
    with pytest.raises(ValueError, match="no prime"):
        m.generate(12, prime=torch.zeros(1, 4))
    a, b = torch.randn(3), torch.randn(3)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    b = b * a.norm() / b.norm()  # between codes of equal norm the path keeps that norm
    assert torch.allclose(slerp(a, b, torch.linspace(0, 1, 5)).norm(dim=1), a.norm().expand(5))
    seg_a, seg_b = torch.from_numpy(melody(12)[:, 0]), torch.from_numpy(melody(12, 1)[:, 0])
    inter = m.interpolate(seg_a, seg_b, n=4)
    mu, _ = m.encode(torch.stack([seg_a, seg_b]).long(), torch.ones(2, 12, dtype=torch.bool))
    assert (inter[0] == m.decode(mu[:1], 0)[0]).all() and (inter[-1] == m.decode(mu[1:], 0)[0]).all()


def test_validation_can_score_the_training_objective_instead_of_the_elbo():
    x, mask = pad_batch([melody(24), melody(12, 1)])
    plain, counted = vae({**SMALL, "free_nats": 50.0}), vae({**SMALL, "free_nats": 50.0, "valid_free_nats": True})
    seg, seg_mask, _ = plain.segments(x, mask)
    with torch.no_grad():
        mu, log_sigma = plain.encode(seg, seg_mask)
        kl = 0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(-1)
    torch.manual_seed(0)
    elbo = plain.log_prob(x, mask, validation=True)[0].sum()
    torch.manual_seed(0)
    objective = counted.log_prob(x, mask, validation=True)[0].sum()
    assert torch.allclose(elbo - objective, (50.0 - kl).sum(), atol=1e-4)
    bounds = []
    for m in (counted, plain):  # the test bound is the same
        torch.manual_seed(0)
        bounds.append(m.log_prob(x, mask)[0])
    assert torch.equal(*bounds)
