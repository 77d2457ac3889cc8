"""Tests of the helpers that let a chapter train its model in front of the reader: read_log (a
run's log.csv), train_live (a short run of a committed run's configuration, in a temporary
folder) and render.plots.plot_live_curve (the live curve over the committed one)."""
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from musicgen_lib.errors import CheckpointError  # noqa: E402
from musicgen_lib.models import build  # noqa: E402
from musicgen_lib.errors import ConfigError  # noqa: E402
from musicgen_lib.render.plots import plot_live_curve  # noqa: E402
from musicgen_lib.checkpoints import read_log  # noqa: E402
from musicgen_lib.train import make_train_config, train, train_live  # noqa: E402

TINY = {"n_hidden": 8, "n_recurrent": 8}
COLUMNS = ["step", "epoch", "train_loss", "valid_nll", "lr", "time_s"]


def rolls(n, seed):
    rng = np.random.default_rng(seed)
    return [(rng.random((int(rng.integers(4, 12)), 88)) < 0.05).astype(np.uint8) for _ in range(n)]


@pytest.fixture
def committed(tmp_path):
    """A tiny 'committed' RNN-NADE run: 12 steps, validated every 4, trained as musicgen train
    does (torch seeded with the run's seed before the model is built)."""
    cfg = make_train_config({"batch_size": 3, "max_steps": 12, "valid_every": 4, "patience": 100,
                             "max_minutes": 30.0})
    torch.manual_seed(cfg.seed)
    out = tmp_path / "committed"
    train(build("rnn-nade", TINY), rolls(10, 1), rolls(3, 2), cfg, out, progress=False)
    return out


def test_read_log_reads_the_engines_columns(committed):
    log = read_log(committed)
    assert list(log) == COLUMNS
    assert log["step"].tolist() == [4, 8, 12] and log["epoch"].tolist() == [1, 2, 3]
    assert np.isfinite(log["valid_nll"]).all() and np.isfinite(log["train_loss"]).all()
    again = read_log(committed / "log.csv")  # the file itself, or its folder
    assert all(np.array_equal(log[k], again[k]) for k in COLUMNS)


def test_read_log_empty_cells_and_errors(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("step,train_loss,valid_nll\n10,1.5,\n20,1.25,2.5\n")
    log = read_log(f)
    assert log["step"].tolist() == [10, 20] and np.isnan(log["valid_nll"][0]) and log["valid_nll"][1] == 2.5
    f.write_text("step,valid_nll\n")
    assert read_log(f)["step"].shape == (0,)  # a run that has not validated yet
    with pytest.raises(CheckpointError, match="cannot read"):
        read_log(tmp_path / "missing")
    f.write_text("a,b\n1,2\n")
    with pytest.raises(CheckpointError, match="no 'step' column"):
        read_log(f)
    f.write_text("step,valid_nll\n10,abc\n")
    with pytest.raises(CheckpointError, match="not a number"):
        read_log(f)


def test_train_live_retraces_the_committed_run_and_leaves_no_trace(committed, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = sorted(p.name for p in committed.iterdir())
    torch.manual_seed(123)
    np.random.seed(123)
    expected = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    live = train_live(committed, rolls(10, 1), rolls(3, 2), max_steps=8, progress=False)
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])
    ref = read_log(committed)
    assert live.log["step"].tolist() == [4, 8] and live.result.step == 8
    for k in ("train_loss", "valid_nll", "lr"):  # the same batches and random numbers: the same losses
        assert np.array_equal(live.log[k], ref[k][:2]), k
    assert live.result.best_valid == min(ref["valid_nll"][:2])
    assert live.config["model"] == "rnn-nade" and live.config["config"]["n_hidden"] == 8
    assert live.config["train"]["max_steps"] == 8 and live.config["train"]["max_minutes"] == 0.0
    assert live.config["train"]["valid_every"] == 4  # the committed run's options, where not overridden
    assert not live.model.training and live.seconds > 0
    assert list(scratch.iterdir()) == []            # the temporary run folder is gone
    assert sorted(p.name for p in committed.iterdir()) == before


def test_train_live_one_line_errors(committed, tmp_path):
    with pytest.raises(ConfigError, match="unknown training option"):
        train_live(committed, rolls(4, 1), rolls(2, 2), steps=3, progress=False)
    with pytest.raises(ConfigError, match="no such file"):
        train_live(tmp_path / "nothing", rolls(4, 1), rolls(2, 2), progress=False)


def _log(steps, train_loss, valid):
    return {"step": np.array(steps, float), "train_loss": np.array(train_loss, float),
            "valid_nll": np.array(valid, float)}


def test_plot_live_curve_pair_single_and_log_axis():
    committed = _log([10, 20, 30, 40], [3, 2, 1.5, 1.2], [3.5, 2.5, 2, 1.8])
    live = _log([10, 20], [3, 2], [3.5, 2.5])
    axes = plot_live_curve(live, committed)        # a new figure: training | validation
    assert len(axes) == 2
    for ax, key in zip(axes, ("train_loss", "valid_nll")):
        grey, mine = ax.get_lines()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["committed run", "this run, live"]
        assert grey.get_ydata().tolist() == committed[key].tolist() and mine.get_ydata().tolist() == live[key].tolist()
        assert mine.get_zorder() > grey.get_zorder() and mine.get_marker() == "o"
    plt.close("all")
    _, ax = plt.subplots()
    assert plot_live_curve(live, committed, ax, logx=True, live_label="live") is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["committed run: validation", "committed run: training", "live: validation", "live: training"]
    assert len(ax.get_lines()) == 4 and ax.get_xscale() == "log" and "log scale" in ax.get_xlabel()
    plt.close("all")
