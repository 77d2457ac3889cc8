"""The RNN-DBN (models/rnn_dbn.py): grown from an RNN-RBM it is that RNN-RBM, its bound lies
below its exact likelihood and reaches it, greedy training leaves the bottom alone and raises
the bound on its data, and AIS replaces the exact log Z2 when the top is large."""
import numpy as np
import pytest
import torch

from musicgen_lib.analysis.likelihoods import kind_of
from musicgen_lib.data.batches import pad_batch
from musicgen_lib.errors import CheckpointError, MusicgenError
from musicgen_lib.models import build
from musicgen_lib.models.rbm import all_binary, free_energy, log_partition_exact
from musicgen_lib.train import TrainConfig, train

V, H = 5, 4   # five keys, four hidden units: every sum below can be done exactly


def rnn_rbm(seed=0):
    torch.manual_seed(seed)
    m = build("rnn-rbm", {"n_visible": V, "n_hidden": H, "n_recurrent": 8, "init_std": 0.8})
    with torch.no_grad():
        m.to_b.bias.normal_(0, 0.5), m.to_c.bias.normal_(0, 0.5)
    return m.eval()


def grown(seed=0, **cfg):
    dbn = build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": V, "n_recurrent": 8,
                            "gibbs_eval": 200, **cfg})
    dbn.grow_from(rnn_rbm(seed))
    return dbn.eval()


def every_next_frame(seed=0):
    """(32, 4, V): one random past of three frames followed by each of the 2^V frames."""
    torch.manual_seed(seed)
    past = (torch.rand(1, 3, V) < 0.4).float()
    return torch.cat([past.expand(32, 3, V), all_binary(V)[:, None]], 1)


def exact_log_prob(dbn, x):
    """log p(v_t | v_<t) of the DBN by enumerating h1 (2^H states): (B, T)."""
    b, _, b2, c2 = dbn.all_biases(x)
    h1 = all_binary(H)[:, None, None]                                       # (16, 1, 1, H)
    log_pv = -torch.nn.functional.binary_cross_entropy_with_logits(
        (b + h1 @ dbn.W1), x.expand(16, *x.shape), reduction="none").sum(-1)  # (16, B, T)
    log_ph = -free_energy(h1, dbn.W2, b2, c2) - log_partition_exact(dbn.W2, b2, c2)
    return torch.logsumexp(log_pv + log_ph, 0)


@torch.no_grad()
def test_grown_from_an_rnn_rbm_it_is_that_rnn_rbm():
    rbm, dbn = rnn_rbm(), grown()
    x = every_next_frame()
    mask = torch.ones(32, 4, dtype=torch.bool)
    ref, _ = rbm.log_prob(x, mask)
    lp, var = dbn.log_prob(x, mask, eval_samples=7)
    assert torch.allclose(lp, ref, atol=1e-4)        # the bound is tight: q is the posterior
    assert var.abs().max() < 1e-5                      # every importance weight is the same
    assert torch.logsumexp(lp[:, 3], 0).abs() < 1e-4
    assert dbn.method == "IWAE" and kind_of(dbn.method) == "bound"


@torch.no_grad()
def test_bound_is_below_the_exact_likelihood_and_reaches_it():
    dbn = grown(seed=1)
    torch.manual_seed(3)
    dbn.W2.add_(0.5 * torch.randn_like(dbn.W2))       # the top no longer mirrors the bottom
    dbn.to_b2.bias.add_(0.5 * torch.randn(H))
    x = every_next_frame(1)
    mask = torch.ones(32, 4, dtype=torch.bool)
    exact = exact_log_prob(dbn, x)
    assert torch.logsumexp(exact[:, 3], 0).abs() < 1e-4       # the enumeration is a distribution
    draws = torch.stack([dbn.log_prob(x, mask, eval_samples=1)[0] for _ in range(200)])
    gap = exact - draws.mean(0)
    assert (gap > -0.05).all() and gap.mean() > 0.1           # a bound, visibly loose with k = 1
    big = dbn.log_prob(x, mask, eval_samples=20000)[0]
    assert (exact - big).abs().max() < 0.02


def test_greedy_training_keeps_the_bottom_and_raises_the_bound_on_its_data():
    dbn = grown(seed=2, cd_k=5)
    dbn.train()
    rng = np.random.default_rng(0)
    chords = np.array([[1, 0, 1, 0, 0], [0, 1, 0, 1, 1], [1, 1, 0, 0, 1]], np.uint8)
    x, mask = pad_batch([chords[rng.integers(0, 3, 12)] for _ in range(8)])
    bottom = {k: v.clone() for k, v in dbn.state_dict().items() if k.startswith(("rnn.", "to_b.", "to_c.", "W1"))}
    with torch.no_grad():
        before = exact_log_prob(dbn, x)[mask].mean()
    opt = torch.optim.Adam(dbn.parameters(), lr=0.02)
    torch.manual_seed(0)
    for _ in range(150):
        loss, stats = dbn.training_loss(x, mask)
        opt.zero_grad(), loss.backward(), opt.step()
    assert set(stats) == {"cd_top"}
    after_state = dbn.state_dict()
    assert all(torch.equal(after_state[k], v) for k, v in bottom.items())
    with torch.no_grad():
        after = exact_log_prob(dbn, x)[mask].mean()
    assert after > before + 0.05


@torch.no_grad()
def test_a_large_top_takes_log_z2_from_ais():
    torch.manual_seed(0)
    rbm = build("rnn-rbm", {"n_visible": 22, "n_hidden": 24, "n_recurrent": 8, "init_std": 0.3})
    dbn = build("rnn-dbn", {"n_visible": 22, "n_hidden": 24, "n_top": 22, "n_recurrent": 8})
    dbn.grow_from(rbm)      # the bound is tight: the two numbers differ by log Z2's error only
    assert dbn.uses_ais and dbn.method == "IWAE with AIS" and kind_of(dbn.method) == "estimate"
    x = (torch.rand(2, 3, 22) < 0.3).float()
    mask = torch.ones(2, 3, dtype=torch.bool)
    lp_ais, var = dbn.log_prob(x, mask, eval_samples=4, ais_chains=200, ais_betas=1000)
    dbn.exact_z = True                                        # 2^22 top states: summed
    lp_exact, var_exact = dbn.log_prob(x, mask, eval_samples=4)
    assert (var > 0).all() and var_exact.abs().max() < 1e-5
    assert (lp_ais - lp_exact).abs().max() < 0.02


def test_grow_from_refuses_other_models_and_shapes(tmp_path):
    with pytest.raises(ValueError, match="grows from a trained RNN-RBM"):
        build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": V}).grow_from(build("lstm", {"n_visible": V}))
    with pytest.raises(ValueError, match="n_top = 5"):
        build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": 3}).grow_from(rnn_rbm())
    with pytest.raises(ValueError, match="differ"):
        build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": V, "n_recurrent": 6}).grow_from(rnn_rbm())
    # through the training option init: a trained RNN-RBM run is grown; a one-line error else
    rolls = [(np.random.default_rng(i).random((6, V)) < 0.4).astype(np.uint8) for i in range(4)]
    torch.manual_seed(0)
    base = build("rnn-rbm", {"n_visible": V, "n_hidden": H, "n_recurrent": 8})
    train(base, rolls, rolls[:2], TrainConfig(batch_size=2, max_steps=2, valid_every=2), tmp_path / "base",
          progress=False)
    cfg = TrainConfig(batch_size=2, max_steps=2, valid_every=2, lr=1e-9, init=str(tmp_path / "base"))
    dbn = build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": V, "n_recurrent": 8, "cd_k": 1})
    train(dbn, rolls, rolls[:2], cfg, tmp_path / "dbn", progress=False)
    assert torch.allclose(dbn.W2, base.W.T, atol=1e-6) and torch.allclose(dbn.W1, base.W, atol=1e-6)
    with pytest.raises(MusicgenError, match="rnn-dbn: trains its top RBM only"):   # no init given
        train(build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": V, "n_recurrent": 8}),
              rolls, rolls[:2], TrainConfig(batch_size=2, max_steps=2, valid_every=2), tmp_path / "none",
              progress=False)
    assert not (tmp_path / "none").exists()
    with pytest.raises(CheckpointError, match="base: the top mirrors"):
        train(build("rnn-dbn", {"n_visible": V, "n_hidden": H, "n_top": 3, "n_recurrent": 8}),
              rolls, rolls[:2], cfg, tmp_path / "bad", progress=False)


@torch.no_grad()
def test_samples_follow_the_model():
    dbn = grown(seed=4)
    x = every_next_frame(4)[:1, :3]
    u, _ = dbn.rnn(torch.cat([x, x[:, :1]], 1))
    exact = exact_log_prob(dbn, torch.cat([x.expand(32, 3, V), all_binary(V)[:, None]], 1))[:, 3].exp()
    b, b2, c2 = dbn.to_b(u[:, 3]), dbn.to_b2(u[:, 3]), dbn.to_c2(u[:, 3])
    torch.manual_seed(0)
    s = dbn._sample_v(b, b2, c2, n_samples=20000)[:, 0]            # (S, V)
    index = (s * 2 ** torch.arange(V)).sum(-1).long()
    freq = torch.bincount(index, minlength=32).float() / len(s)
    assert 0.5 * (freq - exact).abs().sum() < 0.03                  # total variation
