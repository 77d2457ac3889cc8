"""The classifying VAE (models/classifying_vae.py): its key labels, its bounds and its key control."""
import math

import numpy as np
import torch

from musicgen_lib.analysis.keys import KeyConfig, window_keys
from musicgen_lib.data.batches import pad_batch, transpose_batch
from musicgen_lib.evaluate import evaluate
from musicgen_lib.models import build
from musicgen_lib.train import make_train_config, train

SMALL = {"n_recurrent": 8, "n_latent": 1, "n_hidden": 12, "n_key_embed": 3, "key_window": 4, "eval_samples": 16}


def cvae(cfg=SMALL, seed=0):
    torch.manual_seed(seed)
    return build("classifying-vae", cfg).eval()


def triads(n_steps, seed=0, scale=(0, 2, 4, 5, 7, 9, 11), tonic=0, chords=range(7)):
    """A (T, 88) roll of random triads on the degrees ``chords`` of one scale, around middle C."""
    rng = np.random.default_rng(seed)
    roll = np.zeros((n_steps, 88), np.uint8)
    degrees = np.array(scale)
    for t in range(n_steps):
        d = rng.choice(list(chords))
        for j in (0, 2, 4):
            roll[t, 39 + tonic + degrees[(d + j) % 7] + 12 * ((d + j) // 7)] = 1   # key 39 = C4
    return roll


def test_key_labels_are_the_window_keys_of_analysis_keys():
    m = cvae({**SMALL, "key_window": 16})
    rng = np.random.default_rng(0)
    rolls = [(rng.random((n, 88)) < 0.05).astype(np.uint8) for n in (40, 64, 17)]
    rolls[1][16:32] = 0                                             # a silent window
    x, mask = pad_batch(rolls)
    labels = m.key_labels(x)
    for i, r in enumerate(rolls):
        ref = window_keys(r, KeyConfig(window=16, hop=16))
        assert (labels[i, :len(r)].numpy() == np.repeat(ref, 16)[:len(r)]).all()
    assert (labels[1, 16:32] == -1).all()


def test_key_labels_follow_a_transposition():
    m = cvae({**SMALL, "key_window": 8})
    x, _ = pad_batch([triads(32, s, tonic=0) for s in range(3)])
    a, b = m.key_labels(x), m.key_labels(transpose_batch(x, 2))
    moved = torch.where(a < 12, (a + 2) % 12, 12 + (a - 12 + 2) % 12)
    assert (a >= 0).all() and torch.equal(b, moved)


@torch.no_grad()
def test_elbo_below_iwae_below_the_exact_likelihood_of_the_first_frame():
    m = cvae(seed=2)
    with torch.no_grad():  # make q(z | .) poor, so that the bounds differ visibly
        m.encoder[-1].bias[:2] = torch.tensor([0.3, -0.3])
    x = torch.from_numpy(triads(1, 5)).float()[None]            # one frame: u_1 from a zero input
    mask = torch.ones(1, 1, dtype=torch.bool)
    u, *_ , log_pw = m._parts(x)
    grid = torch.linspace(-8, 8, 4001)[:, None]                  # z on a grid: log p by quadrature
    log_px = torch.logsumexp(log_pw[0, 0] + m._log_px_every_key(x[0, 0].expand(4001, -1), grid,
                                                                u[0, 0].expand(4001, -1)), -1)
    exact = float(torch.logsumexp(log_px - 0.5 * grid[:, 0] ** 2 - 0.5 * math.log(2 * math.pi), 0)
                  + math.log(16 / 4000))
    torch.manual_seed(0)
    elbo = float(torch.stack([m.log_prob(x, mask, validation=True)[0] for _ in range(300)]).mean())
    iwae = float(torch.stack([m.log_prob(x, mask)[0] for _ in range(50)]).mean())
    big = build("classifying-vae", {**SMALL, "eval_samples": 20000})
    big.load_state_dict(m.state_dict())
    assert elbo < iwae - 0.01 and iwae < exact + 0.05  # an estimate of a bound: noise either way
    assert abs(float(big.eval().log_prob(x, mask)[0]) - exact) < 0.02


def test_evaluate_reports_a_bound_and_no_frame_accuracy():
    out = evaluate(cvae(), [triads(20), triads(9, 1)])
    assert out["method"].startswith("IWAE bound (16 codes per step") and out["frame_accuracy"] is None
    assert out["steps"] == 29 and 0 < out["estimator_std"] < 1


def test_training_learns_the_frames_and_the_key(tmp_path):
    # I, IV and V of C major and of F# major, labelled by the key of the whole piece
    data = [triads(48, s, chords=(0, 3, 4), tonic=k) for k in (0, 6) for s in range(6)]
    assert {int(k) for k in cvae({**SMALL, "key_window": 48}).key_labels(pad_batch(data)[0]).unique()} == {0, 6}
    cfg = make_train_config({"batch_size": 12, "lr": 0.01, "max_steps": 80, "valid_every": 40, "max_len": 0})
    m = cvae({**SMALL, "n_recurrent": 16, "n_hidden": 32, "key_window": 48})
    x, mask = pad_batch(data)
    m.train()
    before, stats_before = m.training_loss(x, mask)
    res = train(m, data, data, cfg, tmp_path / "run", progress=False)
    m.train()
    after, stats_after = m.training_loss(x, mask)
    assert res.best_valid < 20 and stats_after["neg_elbo"] < stats_before["neg_elbo"] - 10
    assert stats_after["key_accuracy"] > 0.9 > stats_before["key_accuracy"]


def test_generation_with_a_fixed_key():
    m = cvae()
    g = lambda: torch.Generator().manual_seed(0)
    a = m.generate(12, batch=3, key=0, generator=g())
    assert a.shape == (3, 12, 88) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, m.generate(12, batch=3, key=0, generator=g()))
    assert not torch.equal(a, m.generate(12, batch=3, key=7, generator=g()))
    assert torch.equal(a, m.generate(12, batch=3, key=torch.tensor([0, 0, 0]), generator=g()))
    primed = m.generate(5, batch=2, prime=torch.from_numpy(np.stack([triads(4), triads(4, 1)])).float(), generator=g())
    assert primed.shape == (2, 5, 88)
