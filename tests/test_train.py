"""Tests of the training engine (musicgen_lib.train), the evaluation and their CLI commands:
exact resume (also after SIGKILL), atomic files, early stopping, one-line errors."""
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from musicgen_lib.cli_models import main
from musicgen_lib.errors import CheckpointError
from musicgen_lib.evaluate import evaluate
from musicgen_lib.models import build
from musicgen_lib.checkpoints import load_trained
from musicgen_lib.data.batches import pad_batch, transpose_batch
from musicgen_lib.train import TrainConfig, epoch_order, make_train_config, train

ROOT = Path(__file__).resolve().parents[1]
TINY = {"lstm": {"n_hidden": 8}, "rnn-nade": {"n_hidden": 8, "n_recurrent": 8},
        "rnn-rbm": {"n_hidden": 8, "n_recurrent": 8}}


def rolls(n, seed, lo=4, hi=12):
    rng = np.random.default_rng(seed)
    return [(rng.random((int(rng.integers(lo, hi)), 88)) < 0.05).astype(np.uint8) for _ in range(n)]


def params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def run(name, out, cfg, resume=False, seed=0, **kw):
    torch.manual_seed(seed)
    m = build(name, TINY[name])
    res = train(m, rolls(10, 1), rolls(3, 2), cfg, out, resume=resume, progress=False, **kw)
    return m, res


def last_weights(out):
    return torch.load(Path(out) / "checkpoint.pt", weights_only=False)["model"]


# ---------------------------------------------------------------- helpers

def test_pad_batch_and_epoch_order():
    x, mask = pad_batch([np.ones((3, 88), np.uint8), np.zeros((5, 88), np.uint8)])
    assert x.shape == (2, 5, 88) and mask.sum(1).tolist() == [3, 5] and x[0, 3:].sum() == 0
    assert epoch_order(10, 0, 3) == epoch_order(10, 0, 3) != epoch_order(10, 0, 4)
    y = transpose_batch(x, 2)
    assert y[0, 0, :2].sum() == 0 and y[0, 0, 2:].sum() == 86
    assert transpose_batch(transpose_batch(x, -3), 3)[0, 0, 3:].sum() == 85


def test_crops_start_on_the_alignment_grid():
    from musicgen_lib.train import _crop

    r = np.arange(1000)[:, None].repeat(88, 1)
    np.random.seed(0)
    starts = {int(_crop(r, 100, 64)[0, 0]) for _ in range(200)}
    assert all(s % 64 == 0 for s in starts) and len(starts) > 5 and max(starts) <= 900
    assert len(_crop(r[:50], 100, 64)) == 50


def test_train_config_errors():
    assert make_train_config({"lr": 1}).lr == 1.0
    with pytest.raises(Exception, match="unknown training option"):
        make_train_config({"learning_rate": 0.1})
    with pytest.raises(Exception, match="batch_size"):
        make_train_config({"batch_size": 0})


# ---------------------------------------------------------------- resume

@pytest.mark.parametrize("name", ["rnn-nade", "rnn-rbm"])
def test_resume_is_exact(tmp_path, name):
    cfg = TrainConfig(batch_size=3, max_steps=12, valid_every=4, patience=100, lr_patience=1,
                      max_len=6, transpose=2)
    full, _ = run(name, tmp_path / "full", cfg)
    half = TrainConfig(**{**cfg.__dict__, "max_steps": 6})  # stops between two validations
    run(name, tmp_path / "split", half)
    _, res = run(name, tmp_path / "split", cfg, resume=True, seed=99)  # seed must not matter
    assert res.step == 12
    a, b = last_weights(tmp_path / "full"), last_weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    la = json.loads((tmp_path / "full" / "log.json").read_text())
    lb = json.loads((tmp_path / "split" / "log.json").read_text())
    assert [(r["step"], r["valid_nll"], r["train_loss"], r["lr"]) for r in la] == \
        [(r["step"], r["valid_nll"], r["train_loss"], r["lr"]) for r in lb]
    best_a, best_b = (torch.load(tmp_path / d / "model.pt") for d in ("full", "split"))
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)
    assert not [p for p in (tmp_path / "split").iterdir() if p.name.endswith(".tmp")]


def test_resume_after_sigkill(tmp_path):
    """A run killed with SIGKILL between checkpoints, resumed, ends with the same weights."""
    cfg = dict(batch_size=3, max_steps=10, valid_every=4, patience=100)
    script = textwrap.dedent(f"""
        import os, signal, sys, torch
        sys.path.insert(0, {str(ROOT)!r})
        torch.set_num_threads(1)
        from tests.test_train import run
        from musicgen_lib.train import TrainConfig
        def kill(step, loss):
            if step == 6:
                os.kill(os.getpid(), signal.SIGKILL)
        run("lstm", {str(tmp_path / 'killed')!r}, TrainConfig(**{cfg!r}), callback=kill)
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)["state"]["step"] == 4
    _, res = run("lstm", tmp_path / "killed", TrainConfig(**cfg), resume=True)
    run("lstm", tmp_path / "full", TrainConfig(**cfg))
    a, b = last_weights(tmp_path / "full"), last_weights(tmp_path / "killed")
    assert res.step == 10 and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("target, nth", [("checkpoint.pt", 2), ("config.json", 1)])
def test_kill_while_writing_a_file(tmp_path, target, nth):
    """SIGKILL in the middle of writing a file (before its os.replace): the file in place is
    still whole, and the resumed run deletes the temporary file and ends as an uninterrupted
    one. (config.json used to be written in place, so a kill could leave half of it.)"""
    cfg = dict(batch_size=3, max_steps=10, valid_every=4, patience=100)
    script = textwrap.dedent(f"""
        import os, signal, sys, tempfile, torch
        sys.path.insert(0, {str(ROOT)!r})
        torch.set_num_threads(1)
        from tests.test_train import run
        from musicgen_lib.train import TrainConfig
        names, seen, mkstemp, fsync = {{}}, [], tempfile.mkstemp, os.fsync
        def recording_mkstemp(*a, **k):
            fd, path = mkstemp(*a, **k)
            names[fd] = os.path.basename(path)
            return fd, path
        def killing_fsync(fd):  # the data is written, not yet moved into place
            if names.get(fd, "").startswith(".{target}."):
                seen.append(fd)
                if len(seen) == {nth}:
                    os.kill(os.getpid(), signal.SIGKILL)
            fsync(fd)
        tempfile.mkstemp, os.fsync = recording_mkstemp, killing_fsync
        run("lstm", {str(tmp_path / 'killed')!r}, TrainConfig(**{cfg!r}))
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL, p.stderr
    killed = tmp_path / "killed"
    assert [f.name for f in killed.glob(f".{target}.*.tmp")]  # the write was cut short
    if (killed / "config.json").exists():
        json.loads((killed / "config.json").read_text())
    if (killed / "checkpoint.pt").exists():
        assert torch.load(killed / "checkpoint.pt", weights_only=False)["state"]["step"] == 4
    _, res = run("lstm", killed, TrainConfig(**cfg), resume=True)
    run("lstm", tmp_path / "full", TrainConfig(**cfg))
    a, b = last_weights(tmp_path / "full"), last_weights(killed)
    assert res.step == 10 and all(torch.equal(a[k], b[k]) for k in a)
    assert not [f.name for f in killed.iterdir() if f.name.endswith(".tmp")]
    assert json.loads((killed / "config.json").read_text())["model"] == "lstm"


def test_early_stopping_best_model_and_logs(tmp_path):
    cfg = TrainConfig(batch_size=5, max_steps=400, valid_every=2, patience=2, lr=0.3)
    m, res = run("lstm", tmp_path / "r", cfg)
    assert res.stopped == "early_stopping" and res.step < 400
    header = (tmp_path / "r" / "log.csv").read_text().splitlines()[0]
    assert header == "step,epoch,train_loss,valid_nll,lr,time_s"
    best = min(r["valid_nll"] for r in res.history)
    assert res.best_valid == best
    loaded, cfgd = load_trained(tmp_path / "r")
    assert cfgd["model"] == "lstm" and cfgd["train"]["patience"] == 2
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), m.state_dict().values()))
    with pytest.raises(CheckpointError, match="already holds"):
        run("lstm", tmp_path / "r", cfg)
    with pytest.raises(CheckpointError, match="different configuration"):
        torch.manual_seed(0)
        train(build("lstm", {"n_hidden": 9}), rolls(4, 1), rolls(2, 2), cfg, tmp_path / "r",
              resume=True, progress=False)


# ---------------------------------------------------------------- CLI

@pytest.fixture
def jsb_file(tmp_path):
    rng = np.random.default_rng(0)
    piece = lambda: [sorted(set(rng.integers(60, 72, size=3).tolist())) for _ in range(int(rng.integers(5, 9)))]
    d = {s: [piece() for _ in range(n)] for s, n in [("train", 6), ("valid", 2), ("test", 2)]}
    f = tmp_path / "jsb-chorales-quarter.json"
    f.write_text(json.dumps(d))
    return f


def test_cli_train_then_evaluate(tmp_path, jsb_file, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"n_hidden": 6, "n_recurrent": 8},
                               "train": {"batch_size": 3, "valid_every": 2, "max_steps": 4}}))
    out = tmp_path / "run"
    base = ["--dataset", "jsb", "--path", str(jsb_file)]
    assert main(["train", "--model", "rnn_nade", *base, "--config", str(cfg), "--out", str(out),
                 "--no-progress", "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 4
    assert main(["train", "--model", "rnn-nade", *base, "--config", str(cfg), "--out", str(out),
                 "--resume", "--max-steps", "6", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 6
    assert main(["evaluate", "--checkpoint", str(out), *base, "--split", "test", "--json",
                 "--samples", "5"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {"nll_per_step", "nll_std_err", "frame_accuracy", "steps", "method"} <= set(res)
    assert res["method"] == "exact" and 0 < res["nll_per_step"] < 70 and 0 <= res["frame_accuracy"] <= 1


@pytest.mark.parametrize("argv,msg", [
    (["train", "--model", "gpt", "--dataset", "jsb", "--path", "JSB", "--out", "o"], "unknown model"),
    (["train", "--model", "lstm", "--dataset", "jsb", "--path", "/nonexistent", "--out", "o"], "no such file"),
    (["train", "--model", "lstm", "--dataset", "jsb", "--path", "JSB", "--out", "o", "--config", "bad.json"], "bad.json"),
    (["evaluate", "--checkpoint", "/nonexistent", "--dataset", "jsb", "--path", "JSB"], "no such checkpoint"),
    (["train", "--model", "lstm", "--dataset", "jsb", "--path", "JSB", "--out", "o", "--init", "/nonexistent"],
     "no such checkpoint folder"),
])
def test_cli_errors_are_one_line(tmp_path, jsb_file, capsys, argv, msg):
    (tmp_path / "bad.json").write_text("{not json")
    argv = [str(jsb_file) if a == "JSB" else str(tmp_path / a) if a in ("o", "bad.json") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_evaluate_reports_ais_spread():
    torch.manual_seed(0)
    m = build("rnn-rbm", {"n_hidden": 24, "n_recurrent": 8, "gibbs_eval": 5, "init_std": 0.1})
    res = evaluate(m, rolls(2, 3), ais_chains=10, ais_betas=20, n_samples=2)
    assert res["method"] == "AIS" and res["ais_chains"] == 10 and res["ais_betas"] == 20
    assert res["estimator_std"] > 0 and res["steps"] == sum(map(len, rolls(2, 3)))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, jsb_file, capsys):
    run("lstm", tmp_path / "r", TrainConfig(batch_size=5, max_steps=2, valid_every=2))
    (tmp_path / "r" / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot load"):
        load_trained(tmp_path / "r")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "r"), "--dataset", "jsb", "--path",
                 str(jsb_file)]) == 2
    assert "model.pt" in capsys.readouterr().err


def test_init_starts_from_a_trained_run(tmp_path):
    """Training option init: a fresh run starts from another run's weights (fine-tuning);
    a run of another model, or of other shapes, is a one-line error."""
    base, _ = run("rnn-nade", tmp_path / "base", TrainConfig(batch_size=3, max_steps=4, valid_every=2))
    trained = torch.load(tmp_path / "base" / "model.pt")
    cfg = TrainConfig(batch_size=3, max_steps=2, valid_every=2, lr=1e-9, init=str(tmp_path / "base"))
    tuned, _ = run("rnn-nade", tmp_path / "tuned", cfg, seed=5)  # other initial weights
    after = tuned.state_dict()
    assert all(torch.allclose(after[k], trained[k], atol=1e-6) for k in trained)
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["train"]["init"] == cfg.init
    with pytest.raises(CheckpointError, match="not lstm"):
        run("lstm", tmp_path / "other", cfg)
    torch.manual_seed(0)
    wider = build("rnn-nade", {"n_hidden": 9, "n_recurrent": 8})
    with pytest.raises(CheckpointError, match="do not fit"):
        train(wider, rolls(10, 1), rolls(3, 2), cfg, tmp_path / "wider", progress=False)
    with pytest.raises(Exception, match="init must be str"):
        make_train_config({"init": 3})


def test_training_with_the_progress_bar_shows_the_validations(tmp_path, capsys):
    """The bar (tqdm, on stderr) is updated at every validation with the best loss so far."""
    torch.manual_seed(0)
    m = build("lstm", TINY["lstm"])
    cfg = TrainConfig(max_steps=4, valid_every=2, batch_size=4)
    res = train(m, rolls(10, 1), rolls(3, 2), cfg, tmp_path / "r", progress=True)
    err = capsys.readouterr().err
    assert res.step == 4 and f"best={res.best_valid:.3f}" in err
