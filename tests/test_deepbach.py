"""Tests of the DeepBach-style model (models/deepbach.py), the labelled-voice data
(data/satb.py) and its statistics (analysis/satb.py)."""
import json

import numpy as np
import pytest
import torch

from musicgen_lib.analysis import satb as A
from musicgen_lib.data import satb as S
from musicgen_lib.data.batches import pad_batch
from musicgen_lib.errors import ConfigError, DataError
from musicgen_lib.models import build, model_from_config
from musicgen_lib.models.registry import config_dict

SMALL = {"lowest": [60, 55, 48, 40], "highest": [64, 58, 50, 45], "window": 3, "n_embed": 4,
         "beat": 4, "n_hidden": 8, "n_mlp": 8, "dropout": 0.0}


def small(seed=0):
    torch.manual_seed(seed)
    return build("deepbach", SMALL).eval()


def probs(m, tok):
    return torch.softmax(m.logits(tok), -1)  # (B, T, 4, K), zero outside a voice's vocabulary


# ---------------------------------------------------------------- data

def test_tokens_round_trip_and_roll():
    satb = np.array([[64, 57, 50, 40], [64, -1, 48, 45], [60, 55, 48, 48]])
    lo, hi = S.voice_ranges([satb])
    assert lo == [60, 55, 48, 40] and hi == [64, 57, 50, 48]
    tok = S.to_tokens(satb, lo, hi)
    assert tok.dtype == np.uint8 and tok[1, 1] == 0 and tok[0, 0] == 64 - 60 + 1
    assert (S.to_pitches(tok, lo) == satb).all()
    roll = S.to_roll(satb)
    assert roll.shape == (3, 88) and roll.sum(1).tolist() == [4, 3, 3]  # T and B share 48
    with pytest.raises(DataError, match="outside its range"):
        S.to_tokens([[70, 55, 48, 40]], lo, hi)


def test_read_satb_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        S.read_satb(tmp_path)
    bad = tmp_path / S.FILE
    bad.write_text(json.dumps({"train": [[[60, 55, 48]]], "valid": [], "test": []}))
    with pytest.raises(DataError, match="not a separated JSB"):
        S.read_satb(tmp_path)
    bad.write_text("{")
    with pytest.raises(DataError, match="not a separated JSB"):
        S.read_satb(bad)
    good = {s: [[[64, 57, 50, 40], [62, -1, 50, 43]]] for s in S.SPLITS}
    bad.write_text(json.dumps(good))
    ds = S.load_satb(tmp_path)
    assert ds.lowest == [62, 57, 50, 40] and ds.pieces("test")[0].roll.shape == (2, 4)
    assert ds.model_options == {"lowest": [62, 57, 50, 40], "highest": [64, 57, 50, 43]}


# ---------------------------------------------------------------- the model

def test_shapes_normalisation_and_vocabularies():
    m = small()
    tok = m.random_tokens((2, 7))
    p = probs(m, tok)
    assert p.shape == (2, 7, 4, m.K)
    assert torch.allclose(p.sum(-1), torch.ones(2, 7, 4), atol=1e-5)
    for v, n in enumerate(m.sizes):  # no mass outside voice v's rest + pitches
        assert (p[..., v, n:] == 0).all()
    lp, var = m.log_prob(tok.float(), torch.ones(2, 7, dtype=torch.bool))
    assert lp.shape == (2, 7) and (var == 0).all() and (lp < 0).all()


def test_conditional_does_not_read_its_own_token_but_reads_the_rest():
    m = small()
    W = m.cfg.window
    tok = m.random_tokens((1, 12), torch.Generator().manual_seed(1))
    t, v = 6, 2
    p = probs(m, tok)
    changed = tok.clone()
    changed[0, t, v] = (tok[0, t, v] + 1) % m.sizes[v]
    q = probs(m, changed)
    assert torch.allclose(p[0, t, v], q[0, t, v], atol=1e-6)        # its own token: unread
    assert not torch.allclose(p[0, t, 0], q[0, t, 0], atol=1e-4)    # another voice at t reads it
    assert not torch.allclose(p[0, t - 1, v], q[0, t - 1, v], atol=1e-4)  # future window
    assert not torch.allclose(p[0, t + W, v], q[0, t + W, v], atol=1e-4)  # past window's edge
    far = [s for s in range(12) if abs(s - t) > W]
    assert torch.allclose(p[0, far], q[0, far], atol=1e-6)          # beyond both windows


def test_padding_invariance_and_training_step():
    m = small()
    a, b = m.random_tokens((9,)).numpy(), m.random_tokens((5,)).numpy()
    x, mask = pad_batch([a, b])
    lp, _ = m.log_prob(x, mask)
    alone, _ = m.log_prob(torch.as_tensor(b, dtype=torch.float32)[None],
                          torch.ones(1, 5, dtype=torch.bool))
    assert torch.allclose(lp[1, :5], alone[0], atol=1e-5) and (lp[1, 5:] == 0).all()
    m.train()
    loss, stats = m.training_loss(x, mask)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in m.parameters())
    assert abs(stats["pseudo_nll"] + float(lp.sum() / mask.sum())) < 1e-4


def test_sampling_keeps_the_prime_and_is_seeded():
    m = small()
    prime = m.random_tokens((3, 4), torch.Generator().manual_seed(2))
    g = lambda: torch.Generator().manual_seed(5)
    out = m.generate(6, batch=3, prime=prime, iterations=20, per_iter=3, generator=g())
    assert out.shape == (3, 6, 4)
    assert all((out[..., v] < n).all() for v, n in enumerate(m.sizes))
    again = m.generate(6, batch=3, prime=prime, iterations=20, per_iter=3, generator=g())
    assert torch.equal(out, again)
    tok = torch.cat([prime, m.random_tokens((3, 6), g())], 1)
    free = torch.zeros_like(tok, dtype=torch.bool)
    free[:, 4:] = True
    res, trace = m.gibbs(tok, free, 10, 2, (1.0, 0.5), g(), trace_every=5)
    assert torch.equal(res[:, :4], prime) and [i for i, _ in trace] == [0, 5, 10]
    assert trace[0][1].shape == (3,)
    # generate with a temperature schedule is gibbs from a random continuation of the prime,
    # one generator drawing both
    rng = g()
    start = torch.cat([prime, m.random_tokens((3, 6), rng)], 1)
    res, _ = m.gibbs(start, free, 10, 2, (1.0, 0.5), rng)
    scheduled = m.generate(6, batch=3, prime=prime, temperature=(1.0, 0.5), iterations=10, per_iter=2,
                           generator=g())
    assert torch.equal(scheduled, res[:, 4:])


def test_registry_round_trip_and_errors(tmp_path):
    m = small()
    d = json.loads(json.dumps(config_dict(m)))
    torch.save(m.state_dict(), tmp_path / "model.pt")
    m2 = model_from_config(d)
    m2.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    m2.eval()
    tok = m.random_tokens((1, 6))
    assert d["model"] == "deepbach" and torch.equal(probs(m, tok), probs(m2, tok))
    with pytest.raises(ConfigError, match="lowest and highest"):
        build("deepbach", {"lowest": [60, 55, 48]})
    with pytest.raises(ConfigError, match="frame accuracy"):
        m.frame_stats(tok.float(), torch.ones(1, 6, dtype=torch.bool))


# ---------------------------------------------------------------- statistics

def test_voice_statistics():
    satb = np.array([[72, 67, 60, 48],    # C major: S-B octaves
                     [74, 69, 62, 50],    # all up a step: parallel octaves S-B, fifths A-B...
                     [74, 76, 62, -1],    # alto above soprano: a crossing; bass silent
                     [-1, -1, -1, -1]])
    assert A.crossing_share(satb) == pytest.approx(1 / 3)  # of the 3 steps with sound
    r = A.parallel_rate(satb)  # step 0 -> 1 only: S-T, S-B, T-B octaves; A-T, A-B fifths
    assert (r["pairs"], r["fifths"], r["octaves"]) == (6, 2, 3) and r["rate"] == 5 / 6
    ranges = A.voice_ranges(satb)
    assert ranges["soprano"] == (72, 74) and ranges["bass"] == (48, 50)
    assert [A.labellings(k) for k in (1, 2, 3, 4)] == [1, 14, 36, 24]
    assert A.labellings(3, silent=True) == 60 and A.labellings(0, silent=True) == 1
    assert A.distinct_keys(satb).tolist() == [4, 4, 3, 0]
    assert A.distinct_keys([[60, 60, 48, -1]]).tolist() == [2]


def test_satb_score_has_four_full_staves_and_ties_across_bars():
    from musicgen_lib.render.score import ScoreConfig, satb_score_svg, satb_to_score

    satb = np.array([[72, 67, 60, 48]] * 20 + [[74, -1, 62, 50]] * 4)  # held over the bar line
    score = satb_to_score(satb, ScoreConfig(key=None))
    parts = list(score.parts)
    assert [p.partName for p in parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    for p in parts:
        measures = list(p.getElementsByClass("Measure"))
        assert len(measures) == 2 and all(m.duration.quarterLength == 4 for m in measures)
    soprano = list(parts[0].flatten().notes)
    assert [n.pitch.midi for n in soprano] == [72, 72, 74] and soprano[0].tie.type == "start"
    assert len(list(parts[1].flatten().notes)) == 2  # the alto rests in beat 2 of bar 2
    assert "<svg" in satb_score_svg(satb[:16], ScoreConfig(key=None))
