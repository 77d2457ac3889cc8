"""Tests of musicgen_lib.models: RBM algebra and samplers against exact enumeration, normalisation
and causality of the sequence models, the registry."""
import json
import math

import pytest
import torch

from musicgen_lib.errors import MusicgenError
from musicgen_lib.evaluate import UNIFORM_NLL, evaluate
from musicgen_lib.models import MODELS, ConfigError, build, make_config, model_from_config
from musicgen_lib.models import rbm as R
from musicgen_lib.models.registry import config_dict
from musicgen_lib.models.rnn_nade import NADE
from musicgen_lib.data.batches import pad_batch


def tiny_rbm(H=3, V=5, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(H, V, generator=g) * scale, torch.randn(V, generator=g) * scale,
            torch.randn(H, generator=g) * scale)


# ---------------------------------------------------------------- RBM

def test_free_energy_sums_out_hidden():
    W, b, c = tiny_rbm()
    hs = R.all_binary(3)
    for v in R.all_binary(5):
        brute = -torch.logsumexp(-R.energy(v[None], hs, W, b, c), 0)
        assert torch.allclose(R.free_energy(v, W, b, c), brute, atol=1e-5)


@pytest.mark.parametrize("H,V", [(3, 5), (6, 4)])
def test_log_partition_exact_matches_brute_force(H, V):
    W, b, c = tiny_rbm(H, V)
    vs, hs = R.all_binary(V), R.all_binary(H)
    E = R.energy(vs[:, None, :], hs[None, :, :], W, b, c)  # (2^V, 2^H)
    assert torch.allclose(R.log_partition_exact(W, b, c), torch.logsumexp(-E.flatten(), 0), atol=1e-5)


def test_log_partition_exact_batched_biases():
    W, _, _ = tiny_rbm(4, 7)
    b, c = torch.randn(3, 2, 7), torch.randn(3, 2, 4)
    z = R.log_partition_exact(W, b, c)
    assert z.shape == (3, 2)
    assert torch.allclose(z[1, 0], R.log_partition_exact(W, b[1, 0], c[1, 0]), atol=1e-5)


def test_gibbs_sampler_matches_exact_distribution():
    W, b, c = tiny_rbm(3, 4)
    p = R.exact_distribution(W, b, c).double()
    g = torch.Generator().manual_seed(1)
    v = torch.bernoulli(torch.full((40000, 4), 0.5), generator=g)
    v = R.gibbs(v, W, b, c, k=50, rng=g)
    q = R.empirical_distribution(v)
    tv = 0.5 * (p - q).abs().sum()
    assert tv < 0.02, (p, q)


@pytest.mark.parametrize("base", ["meanfield", "biases"])
def test_ais_agrees_with_exact_within_spread(base):
    W, b, c = tiny_rbm(10, 30, scale=0.7, seed=3)
    exact = R.log_partition_exact(W, b, c)
    est, var = R.log_partition_ais(W, b, c, n_chains=200, n_betas=500, b0=None if base == "meanfield" else b,
                                   rng=torch.Generator().manual_seed(0))
    assert var > 0
    assert abs(float(est - exact)) < 4 * math.sqrt(float(var)) + 0.02


def test_ais_batched_with_per_row_biases():
    W, _, _ = tiny_rbm(8, 12, seed=5)
    b, c = torch.randn(4, 12), torch.randn(4, 8)
    est, var = R.log_partition_ais(W, b, c, 200, 300, rng=torch.Generator().manual_seed(0))
    assert est.shape == var.shape == (4,)
    assert torch.allclose(est, R.log_partition_exact(W, b, c), atol=0.05)


def test_cd_training_moves_rbm_towards_data():
    torch.manual_seed(0)
    data = torch.tensor([[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]], dtype=torch.float)
    data = data.repeat(20, 1)
    m = build("rbm", {"n_visible": 6, "n_hidden": 4, "cd_k": 5, "init_std": 0.1})
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    mask = torch.ones(1, len(data), dtype=torch.bool)
    before = float(m.log_prob(data[None], mask)[0].mean())
    for _ in range(300):
        loss, _ = m.training_loss(data[None], mask)
        opt.zero_grad(), loss.backward(), opt.step()
    after = float(m.log_prob(data[None], mask)[0].mean())
    assert after > before + 2 and after > math.log(1 / 3) - 0.5


def test_zero_rbm_is_the_uniform_anchor():
    m = build("rbm", {"n_hidden": 10, "init_std": 0.0})
    x = (torch.rand(2, 7, 88) < 0.05).float()
    res = evaluate(m, [x[0].numpy(), x[1, :3].numpy()], accuracy=False)
    assert res["method"] == "exact" and res["steps"] == 10
    assert res["nll_per_step"] == pytest.approx(UNIFORM_NLL, abs=1e-4)
    assert UNIFORM_NLL == pytest.approx(61.0, abs=0.01)


# ---------------------------------------------------------------- NADE and the sequence models

def test_nade_vectorised_matches_loop_and_is_normalised():
    torch.manual_seed(0)
    nade = NADE(6, 5)
    with torch.no_grad():
        nade.W.normal_(), nade.V.normal_()
    vs = R.all_binary(6)
    b, c = torch.randn(1, 6).expand(64, 6), torch.randn(1, 5).expand(64, 5)
    assert torch.allclose(nade.logits(vs, b, c), nade.logits_loop(vs, b, c), atol=1e-5)
    assert torch.logsumexp(nade.log_prob(vs, b, c), 0).abs() < 1e-5


SMALL = {"lstm": {"n_visible": 5, "n_hidden": 8}, "rbm": {"n_visible": 5, "n_hidden": 4},
         "rnn-rbm": {"n_visible": 5, "n_hidden": 4, "n_recurrent": 8},
         "rnn-nade": {"n_visible": 5, "n_hidden": 6, "n_recurrent": 8},
         "mixture": {"n_members": 2, "member_config": {"n_visible": 5, "n_hidden": 6, "n_recurrent": 8}},
         "biaxial": {"n_visible": 5, "window": 2, "n_time": 6, "n_note": 5, "note_window": 2},
         "transformer-nade": {"n_visible": 5, "d_model": 8, "n_heads": 2, "n_layers": 2, "d_ff": 16,
                              "max_distance": 2, "dropout": 0.0, "n_hidden": 6}}


# The reviewed models over 88 keys; the thesis model's halves are tested in
# test_thesis_model.py (12-dim frames, SMC likelihood, CD-trained decoder), the DeepBach-style
# model of SATB tokens in test_deepbach.py.
# models of piano rolls with a likelihood (the token models, which read one dataset each, the
# GAN, which has no likelihood, and the classifying VAE and the RNN-DBN, whose likelihoods are
# bounds, have their own tests)
REVIEW_MODELS = [n for n in MODELS if not n.startswith("thesis") and MODELS[n][0].reads_dataset is None
                 and not getattr(MODELS[n][0], "adversarial", False)
                 and n not in ("classifying-vae", "rnn-dbn")]


@pytest.mark.parametrize("name", REVIEW_MODELS)
def test_conditionals_are_normalised(name):
    torch.manual_seed(0)
    m = build(name, SMALL[name])
    vs = R.all_binary(5)  # (32, 5) every possible next frame
    past = (torch.rand(1, 3, 5) < 0.4).float()
    x = torch.cat([past.expand(32, 3, 5), vs[:, None]], 1)  # (32, 4, 5)
    lp, var = m.log_prob(x, torch.ones(32, 4, dtype=torch.bool))
    assert torch.logsumexp(lp[:, 3], 0).abs() < 1e-4
    assert (var == 0).all()


@pytest.mark.parametrize("name", ["lstm", "rnn-rbm", "rnn-nade", "mixture", "biaxial", "transformer-nade"])
def test_causal_and_padding_invariant(name):
    torch.manual_seed(0)
    m = build(name, SMALL[name]).eval()
    a, b = (torch.rand(6, 5) < 0.4).float(), (torch.rand(3, 5) < 0.4).float()
    x, mask = pad_batch([a.numpy(), b.numpy()])
    lp, _ = m.log_prob(x, mask)
    alone, _ = m.log_prob(b[None], torch.ones(1, 3, dtype=torch.bool))
    assert torch.allclose(lp[1, :3], alone[0], atol=1e-5) and (lp[1, 3:] == 0).all()
    a2 = a.clone()
    a2[4:] = 1 - a2[4:]  # change the future: the first 4 conditionals must not move
    lp2, _ = m.log_prob(a2[None], torch.ones(1, 6, dtype=torch.bool))
    assert torch.allclose(lp[0, :4], lp2[0, :4], atol=1e-5)


@pytest.mark.parametrize("name", REVIEW_MODELS)
def test_train_step_generate_and_accuracy(name):
    torch.manual_seed(0)
    m = build(name, {"member_config": {"n_hidden": 12}} if name == "mixture"
              else {"n_time": 12, "n_note": 8} if name == "biaxial" else {"n_hidden": 12})
    x = (torch.rand(2, 5, 88) < 0.05).float()
    mask = torch.ones(2, 5, dtype=torch.bool)
    loss, stats = m.training_loss(x, mask)
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    s = m.frame_stats(x, mask, 3)
    assert s.tp >= 0 and s.fp > 0 and s.fn >= 0
    g = m.generate(4, batch=2, prime=x[:, :3])
    assert g.shape == (2, 4, 88) and set(g.unique().tolist()) <= {0.0, 1.0}


def test_mixture_is_the_mean_of_its_members_probabilities():
    torch.manual_seed(0)
    m = build("mixture", SMALL["mixture"]).eval()
    x = (torch.rand(2, 4, 5) < 0.4).float()
    mask = torch.ones(2, 4, dtype=torch.bool)
    lp, _ = m.log_prob(x, mask)
    p = sum(member.log_prob(x, mask)[0].exp() for member in m.members) / 2
    assert torch.allclose(lp, p.log(), atol=1e-5)
    with pytest.raises(ConfigError, match="exact likelihood"):
        build("mixture", {"member": "rnn-rbm"})
    with pytest.raises(ConfigError, match="mixtures as members"):
        build("mixture", {"member": "mixture"})
    with pytest.raises(ConfigError, match="member_config must be dict"):
        make_config("mixture", {"member_config": [1]})


def test_rnn_rbm_ais_matches_exact_on_small_hidden_layer():
    torch.manual_seed(0)
    m = build("rnn-rbm", {"n_hidden": 12, "n_recurrent": 16, "init_std": 0.3})
    x = (torch.rand(1, 6, 88) < 0.05).float()
    mask = torch.ones(1, 6, dtype=torch.bool)
    exact, _ = m.log_prob(x, mask)
    m.exact, m.uses_ais = False, True
    est, var = m.log_prob(x, mask, ais_chains=100, ais_betas=300)
    assert (var > 0).all()
    assert ((est - exact).abs() < 4 * var.sqrt() + 0.02).all()


# ---------------------------------------------------------------- registry

def test_registry_round_trip_and_errors(tmp_path):
    m = build("RNN_NADE", {"n_hidden": 7, "cell": "lstm", "dropout": 0.2})
    d = json.loads(json.dumps(config_dict(m)))
    m2 = model_from_config(d)
    assert m2.cfg == m.cfg and d["model"] == "rnn-nade"
    with pytest.raises(ConfigError, match="unknown model"):
        build("transformer")
    with pytest.raises(ConfigError, match="unknown model option"):
        make_config("lstm", {"hiden": 3})
    with pytest.raises(ConfigError, match="must be int"):
        make_config("lstm", {"n_hidden": "many"})
    with pytest.raises(ConfigError, match="cell"):
        make_config("rnn-rbm", {"cell": "transformer"})
    assert issubclass(ConfigError, MusicgenError)


def test_frame_rbm_log_z_is_computed_once_and_its_error_shared():
    torch.manual_seed(0)
    m = build("rbm", {"n_hidden": 30, "ais_chains": 20, "ais_betas": 50, "init_std": 0.1})
    assert m.method == "AIS" and m.shared_partition
    a = m.log_z()
    assert m.log_z() is a  # cached while the weights do not change
    with torch.no_grad():
        m.b += 0.1
    assert m.log_z() is not a
    x = (torch.rand(3, 4, 88) < 0.05).float()
    res = evaluate(m, list(x.numpy()), accuracy=False)
    assert res["estimator_std"] == pytest.approx(math.sqrt(float(m.log_z()[1])), rel=1e-6)
