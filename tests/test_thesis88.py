"""The thesis generator without octave compression (the §6.2 ablation, checkpoints/ablation-6.2):
the same main module and voices over the 88 keys themselves — nothing but the compression
assumes 12 classes. Training, incremental state, the SMC likelihood (against enumeration
on a 4-class toy) and generation without a decoder."""
import math

import numpy as np
import pytest
import torch

from musicgen_lib.errors import ConfigError
from musicgen_lib.models import registry
from musicgen_lib.models.thesis import ThesisConfig, ThesisGenerator
from musicgen_lib.models.thesis_nll import log_likelihood, nll_per_step
from musicgen_lib.models.thesis_seq import ThesisPair, frames
from musicgen_lib.sample import generate
from thesis_exact import exact_log_p

SMALL = {"local_size": 12, "reader_size": 8, "aggregation_size": 16, "voice_size": 12,
         "n_voices": 4, "lags": "2,4,8"}


def _rolls(B, T, seed=0, p=0.03):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, T, 88, generator=g) < p).float()


def test_the_88_key_generator_reads_the_keys_and_trains():
    torch.manual_seed(0)
    model = registry.build("thesis", {**SMALL, "n_classes": 88, "history": 4})
    assert model.net.cfg.n_classes == 88 and torch.equal(model.net.to_model, torch.arange(88))
    x = torch.zeros(2, 24, 88)
    x[:, :, [27, 39]] = 1  # C3 and C4: one pitch class, two keys
    assert torch.equal(frames(x, 88), x) and frames(x).shape[-1] == 12
    mask = torch.ones(2, 24, dtype=torch.bool)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(12):
        loss, info = model.training_loss(x, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(info["loss"])
    assert losses[-1] < losses[0] - 1  # a summed BCE over 88 keys: it learns the two keys
    # validation (the surrogate) and the SMC likelihood over the keys, both (B, T)
    model.eval()
    lv, _ = model.log_prob(x, mask, validation=True)
    lp, var = model.log_prob(x, mask, particles=4)
    assert lv.shape == lp.shape == (2, 24) and torch.isfinite(lp).all() and (lp < 0).all()
    assert (var >= 0).all() and "88-key" in model.method
    # five keys for four voices: impossible, -inf (evaluate() reports it)
    x[0, 3, [40, 44, 47, 50, 60]] = 1
    assert torch.isinf(model.log_prob(x, mask, particles=4)[0][0, 3])
    with pytest.raises(ConfigError):
        registry.build("thesis", {"n_classes": 24})


def test_evaluate_scores_the_88_key_generator_alone(tmp_path):
    from musicgen_lib.evaluate import evaluate

    torch.manual_seed(0)
    model = registry.build("thesis", {**SMALL, "n_classes": 88, "history": 0})
    piece = np.zeros((12, 88), np.uint8)
    piece[np.arange(12), 30 + np.arange(12)] = 1
    piece[4, [27, 39, 51, 63]] = 1  # four keys of one class (and the step's own): 5 keys
    res = evaluate(model, [piece], accuracy=False)
    assert res["steps"] == 11 and res["impossible_steps"] == 1
    assert 0 < res["nll_per_step"] < 88 * math.log(2) + 20 and res["estimator_std"] >= 0
    with pytest.raises(ConfigError):  # no octave decoder for the keys
        ThesisPair(model, registry.build("thesis-decoder", {"hidden_size": 4, "rbm_hidden": 2}))


def test_smc_likelihood_matches_exact_enumeration_with_4_classes():
    torch.manual_seed(0)
    model = ThesisGenerator(ThesisConfig(n_classes=4, local_size=8, reader_size=8,
                                         aggregation_size=10, voice_size=6, n_voices=2,
                                         lags=(1, 2)))
    hist = torch.tensor([[[1., 0, 0, 1], [0, 1, 0, 0]]])
    x = torch.tensor([[[1., 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1], [1, 1, 0, 0]]])
    exact = exact_log_p(model, hist, x)
    runs = [log_likelihood(model, hist, x, particles=300, seed=k)[0].sum().item() for k in range(4)]
    assert abs(np.mean(runs) - exact) < 0.1, (runs, exact)  # a wrong weight is off by > 1 nat
    x[0, 1, :3] = 1  # three classes, two voices
    est = nll_per_step(model, [(hist, x, None)], particles=8, runs=2)
    assert est.impossible_steps == 1 and est.steps == 3
    # with a fallback, an impossible frame of 88 keys costs log(ε / 2**88)
    model = ThesisGenerator(ThesisConfig(n_classes=88, n_voices=2, fallback=0.05, lags=(1, 2)))
    y = torch.zeros(1, 2, 88)
    y[0, 1, [10, 20, 30]] = 1
    lp, ok, _ = log_likelihood(model, torch.zeros(1, 2, 88), y, particles=4)
    assert bool(ok.all()) and abs(lp[0, 1].item() - (math.log(0.05) - 88 * math.log(2))) < 1e-4


def test_generation_without_a_decoder_gives_88_key_frames():
    torch.manual_seed(0)
    gen = ThesisGenerator(ThesisConfig(n_classes=88, n_voices=4, local_size=16, reader_size=8,
                                       aggregation_size=20, voice_size=12, lags=(2, 4))).eval()
    prime = _rolls(2, 6, 3, p=0.04).numpy()
    s = generate(gen, None, prime, steps=10, seed=1)
    assert s.roll.shape == (2, 10, 88) and set(np.unique(s.roll)) <= {0, 1}
    assert s.roll.sum(-1).max() <= 4 and s.roll.sum() > 0
    assert np.array_equal(s.x, s.roll) and not s.velocity.any()
    assert s.decisions.shape == (2, 10, 4) and s.decisions.max() < 176
    assert s.decision_probs.shape == (2, 10, 4, 176)
    eager = generate(gen, None, prime, steps=10, seed=1, script=False)
    assert np.array_equal(eager.roll, s.roll) and np.array_equal(eager.decisions, s.decisions)
    with pytest.raises(ValueError):  # a pitch-class generator needs its decoder
        generate(ThesisGenerator(ThesisConfig()), None, prime, steps=2)
