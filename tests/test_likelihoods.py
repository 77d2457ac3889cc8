"""analysis.likelihoods: the kinds of the book's likelihoods, read from eval.json files."""
import json
from pathlib import Path

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
