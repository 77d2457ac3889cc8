"""analysis.likelihoods: the kinds of the book's likelihoods, read from eval.json files."""
import json
from pathlib import Path

import numpy as np
import pytest

from musicgen_lib.analysis.likelihoods import (KINDS, PUBLISHED_JSB, Likelihood, best, kind_of,
                                               read_likelihood)

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def test_kinds_of_the_methods_the_evaluator_writes():
    assert kind_of("exact") == "exact"
    assert kind_of("AIS") == "estimate"
    assert kind_of("SMC over voice decisions (12-dim frames; upper bound on NLL in expectation)") == "bound"
    # a bound chained with an AIS estimate has no guaranteed direction
    assert kind_of("SMC (12-dim generator) + AIS (octave decoder)") == "estimate"
    with pytest.raises(ValueError, match="unknown likelihood method"):
        kind_of("pseudo-likelihood")


def test_every_committed_likelihood_has_a_kind():
    # every eval.json of a likelihood model in the repository is classified: a new evaluator
    # method must be given a kind before the book's table can show it
    files = [p for p in sorted(CHECKPOINTS.rglob("eval.json"))
             if "pseudo" not in json.loads(p.read_text())["method"].lower()]
    assert len(files) >= 10
    for path in files:
        row = read_likelihood(path.parent)
        assert row.kind in KINDS and row.nll > 0 and row.ours, path


def test_exact_models_report_no_estimator_spread():
    row = read_likelihood(CHECKPOINTS / "review-jsb" / "rnn-nade")
    assert row.kind == "exact" and row.estimator_std in (0, 0.0, None)


def test_read_likelihood_names_the_file_on_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"eval\.json: not an evaluation"):
        read_likelihood(tmp_path)
    (tmp_path / "eval.json").write_text('{"model": "x"}')
    with pytest.raises(ValueError, match="KeyError"):
        read_likelihood(tmp_path)
    (tmp_path / "eval.json").write_text(json.dumps(
        {"model": "m", "dataset": "jsb", "nll_per_step": 5.0, "method": "exact", "nll_std_err": 0.1}))
    row = read_likelihood(tmp_path, "named")
    assert (row.model, row.nll, row.kind, row.std_err) == ("named", 5.0, "exact", 0.1)


def test_best_filters_by_kind_and_origin():
    ours = Likelihood("a", "jsb", 4.5, "exact", "exact", "here")
    rows = list(PUBLISHED_JSB) + [ours]
    assert best(rows).model == "NASMC"                      # a bound, and the lowest number
    assert best(rows, kind="exact") is ours
    assert best(rows, kind="exact", ours=False).nll == 5.19
    assert best(rows, kind="bound", ours=False).model == "NASMC"
    with pytest.raises(ValueError):
        best(rows, kind="estimate", ours=True)


def test_published_rows_are_labelled():
    for row in PUBLISHED_JSB:
        assert row.kind in KINDS and not row.ours and row.dataset == "jsb" and row.source


# ---------------------------------------------------------------- mixtures of trained models

def test_mixture_weights_maximise_the_likelihood_and_the_nll_is_the_mixtures():
    from musicgen_lib.analysis.likelihoods import fit_mixture_weights, mixture_nll
    rng = np.random.default_rng(0)
    log_probs = np.log(rng.uniform(0.01, 1.0, size=(2, 500)))         # two models' per-step probabilities
    w = fit_mixture_weights(log_probs)
    assert abs(w.sum() - 1) < 1e-9 and (w > 0).all()
    objective = lambda a: np.log(a * np.exp(log_probs[0]) + (1 - a) * np.exp(log_probs[1])).mean()
    grid = np.linspace(0.001, 0.999, 999)
    assert objective(w[0]) >= max(objective(a) for a in grid) - 1e-9
    nll, se = mixture_nll(log_probs, w)
    direct = -np.log(w[0] * np.exp(log_probs[0]) + w[1] * np.exp(log_probs[1]))
    assert abs(nll - direct.mean()) < 1e-12 and abs(se - direct.std(ddof=1) / np.sqrt(500)) < 1e-12
    assert abs(mixture_nll(log_probs, [1.0, 0.0])[0] + log_probs[0].mean()) < 1e-12   # one model alone
    # a model that is better on every step takes all the weight
    assert fit_mixture_weights(np.stack([log_probs[0], log_probs[0] - 1.0]))[0] > 0.999
    with pytest.raises(ValueError, match="models, steps"):
        fit_mixture_weights(np.zeros(5))


def test_step_log_probs_are_evaluates_steps_and_refuse_estimates():
    import torch
    from musicgen_lib.errors import MusicgenError
    from musicgen_lib.evaluate import evaluate, step_log_probs
    from musicgen_lib.models import build
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    rolls = [(rng.random((n, 88)) < 0.05).astype(np.uint8) for n in (7, 3, 12)]
    lstm = build("lstm", {"n_hidden": 8})
    lp = step_log_probs(lstm, rolls, batch_size=2)
    assert lp.shape == (22,) and lp.dtype == np.float64
    assert abs(-lp.mean() - evaluate(lstm, rolls, accuracy=False)["nll_per_step"]) < 1e-9
    alone = step_log_probs(lstm, rolls[1:2])                              # in order, piece by piece
    assert np.allclose(lp[7:10], alone, atol=1e-5)
    with pytest.raises(MusicgenError, match="not exact"):
        step_log_probs(build("rnn-rbm", {"n_hidden": 30}), rolls)
