"""The small MuseGAN (models/musegan.py) and its training loop (train_gan.py)."""
import json

import numpy as np
import pytest
import torch

from musicgen_lib.models import build
from musicgen_lib.models.musegan import MuseGANCritic
from musicgen_lib.train_gan import gradient_penalty, make_gan_train_config, train_gan

SMALL = {"bars": 4, "n_noise": 4, "n_channels": 8}


def gan(cfg=SMALL, seed=0):
    torch.manual_seed(seed)
    return build("musegan", cfg).eval()


def chorale_like(n_steps, seed=0):
    """A (T, 88) roll of four voices moving by step inside the generator's range."""
    rng = np.random.default_rng(seed)
    roll = np.zeros((n_steps, 88), np.uint8)
    pitches = np.array([40, 47, 52, 57])   # keys (MIDI 61, 68, 73, 78)
    for t in range(0, n_steps, 4):
        pitches = np.clip(pitches + rng.integers(-2, 3, 4), 16, 62)
        roll[t:t + 4, pitches] = 1
    return roll


def test_generated_rolls_are_binary_and_inside_the_pitch_range():
    g = gan()
    roll = g.generate(100, batch=3, generator=torch.Generator().manual_seed(0))
    assert roll.shape == (3, 100, 88) and set(roll.unique().tolist()) <= {0.0, 1.0}
    lo = g.cfg.lowest - 21
    assert roll[..., :lo].sum() == 0 and roll[..., lo + 48:].sum() == 0
    with pytest.raises(ValueError, match="no prime"):
        g.generate(16, prime=torch.zeros(1, 16, 88))
    rows = g.from_keys(roll)
    assert torch.equal(g.to_keys(rows), roll)


def test_each_bar_depends_on_its_own_noise_and_the_shared_ones():
    g = gan()
    z_shared, z_temp, z_bar = g.noise(2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = g(z_shared, z_temp, z_bar)
        z_bar2 = z_bar.clone()
        z_bar2[:, 2] += 1.0                                   # bar 3's own noise
        b = g(z_shared, z_temp, z_bar2)
        c = g(z_shared, z_temp + 1.0, z_bar)                   # the temporal noise
    changed = (a - b).abs().reshape(2, 4, 16, 48).amax(dim=(0, 2, 3))
    assert changed[2] > 1e-4 and torch.all(changed[[0, 1, 3]] == 0)
    assert torch.all((a - c).abs().reshape(2, 4, -1).amax(-1) > 0)   # every bar


def test_the_last_layer_draws_every_octave_with_one_kernel():
    g = gan()
    last = g.bar[-1][0]
    assert last.kernel_size == (1, 12) and last.stride == (1, 12)
    h = torch.zeros(1, last.in_channels, 1, 4)
    h[0, :, 0, 1] = torch.randn(last.in_channels)           # the same features in octave 2 ...
    h2 = torch.zeros_like(h)
    h2[0, :, 0, 3] = h[0, :, 0, 1]                           # ... and in octave 4
    with torch.no_grad():
        y, y2 = last(h)[0, 0, 0], last(h2)[0, 0, 0]
    assert torch.allclose(y[12:24], y2[36:48])               # give the same 12 keys there


def test_the_critic_scores_fragments_and_the_penalty_is_exact_for_a_linear_critic():
    cfg = build("musegan", SMALL).cfg
    assert MuseGANCritic(cfg)(torch.rand(5, 64, 48)).shape == (5,)
    w = torch.randn(64, 48)
    linear = lambda x: (x * w).sum((1, 2))                   # grad = w everywhere
    real, fake = torch.rand(3, 64, 48), torch.rand(3, 64, 48)
    assert torch.allclose(gradient_penalty(linear, real, fake), (w.norm() - 1) ** 2)


def _run(tmp_path, name, cfg, resume=False, callback=None):
    data = [chorale_like(96, s) for s in range(6)]
    torch.manual_seed(0)
    g = build("musegan", SMALL)
    res = train_gan(g, data, data[:2], cfg, tmp_path / name, resume=resume, progress=False,
                    callback=callback)
    return g, res


def test_training_writes_a_run_and_resumes_exactly(tmp_path):
    cfg = make_gan_train_config({"batch_size": 4, "n_critic": 2, "max_steps": 6, "valid_every": 2,
                                 "transpose": 2})
    full, res = _run(tmp_path, "full", cfg)
    assert res.step == 6 and res.stopped == "max_steps" and len(res.history) == 3

    class Stop(Exception):
        pass

    def stop(step):
        if step == 3:  # between two checkpoints
            raise Stop

    with pytest.raises(Stop):
        _run(tmp_path, "split", cfg, callback=stop)
    split, res2 = _run(tmp_path, "split", cfg, resume=True)
    a, b = full.state_dict(), split.state_dict()
    assert res2.step == 6 and all(torch.equal(a[k], b[k]) for k in a)
    la, lb = (json.loads((tmp_path / d / "log.json").read_text()) for d in ("full", "split"))
    assert [r["valid_wasserstein"] for r in la] == [r["valid_wasserstein"] for r in lb]
    saved = torch.load(tmp_path / "full" / "model.pt")
    assert all(torch.equal(saved[k], a[k]) for k in a)
    assert json.loads((tmp_path / "full" / "config.json").read_text())["model"] == "musegan"


def test_training_moves_the_generator_towards_the_data(tmp_path):
    """After 150 steps on four-voice rolls the generator's probabilities add up to a few keys
    per step, where the untrained one's (all near 0.45) add up to about 20 of its 48."""
    cfg = make_gan_train_config({"batch_size": 16, "n_critic": 2, "max_steps": 150, "valid_every": 50,
                                 "transpose": 0, "lr": 2e-3})
    def keys_per_step(g):  # the expected number of keys sounding at a step of a sample
        with torch.no_grad():
            return float(g.eval()(*g.noise(64, torch.Generator().manual_seed(0))).sum(-1).mean())

    before = keys_per_step(gan())
    g, _ = _run(tmp_path, "learn", cfg)
    after = keys_per_step(g)
    assert before > 15 and 2 < after < 11  # the data: 4 (training longer gets closer)


def test_config_errors():
    assert make_gan_train_config({"n_critic": 3}).n_critic == 3
    with pytest.raises(Exception, match="unknown training option"):
        make_gan_train_config({"critic_steps": 3})
    with pytest.raises(ValueError, match="power of two"):
        build("musegan", {"bars": 6})


def test_cli_trains_it_on_rolls_at_sixteenths_and_refuses_to_evaluate_it(tmp_path, capsys):
    from musicgen_lib.cli import main

    config = tmp_path / "gan.json"
    config.write_text(json.dumps({"model": SMALL, "train": {"batch_size": 4, "n_critic": 1, "max_steps": 2,
                                                             "valid_every": 1}}))
    out = tmp_path / "run"
    args = ["train", "--model", "musegan", "--dataset", "chorales", "--config", str(config),
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 2
    assert main(["evaluate", "--checkpoint", str(out), "--dataset", "chorales"]) == 2
    assert "no likelihood" in capsys.readouterr().err
    midi = tmp_path / "s.mid"
    assert main(["sample", "--checkpoint", str(out), "--steps", "40", "--out", str(midi)]) == 0
    assert "40 frames of musegan" in capsys.readouterr().out and midi.stat().st_size > 0
    assert main(args[:4] + ["jsb"] + args[5:] + ["--force"]) == 2   # quarter notes
    assert "16th notes" in capsys.readouterr().err
