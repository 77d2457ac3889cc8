"""Every likelihood the book measured, and the published ones on the same data, as rows of one
table (notebook 10b_beyond_the_thesis).

Three kinds of number sit in a likelihood table, and they do not compare alike:

* **exact**: ``-log p(v_t | v_<t)`` computed in closed form (the NADE-like and
  independent-key models, the bi-axial LSTM).
* **bound**: a number that is, in expectation, *above* the model's true NLL — a variational
  bound (SRNN's ELBO) or the log of an unbiased SMC estimate of the likelihood (Jensen: the
  expected log of an unbiased estimate is at most the log of its mean). The model itself may
  be better than its number.
* **estimate**: neither direction is guaranteed for the number as reported. AIS estimates of
  a partition function are biased so that the NLL comes out optimistic (too low) in
  expectation; an SMC generator bound chained with an AIS decoder estimate has no sign.

Pure functions of the ``eval.json`` files that ``musicgen evaluate --json`` writes, and of
per-step log-probabilities (:func:`musicgen_lib.evaluate.step_log_probs`) for mixing trained
models; nothing here runs a model.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("exact", "bound", "estimate")


@dataclass(frozen=True)
class Likelihood:
    """One row: ``nll`` nats per time step on ``dataset``'s test split (``std_err`` over time
    steps; ``estimator_std`` the spread of a stochastic estimator, 0 for exact ones), of
    ``kind`` (one of :data:`KINDS`), by ``method``; ``source`` is a checkpoint folder for ours
    or the publication for a published number.

    Notebook: 10b_beyond_the_thesis."""

    model: str
    dataset: str
    nll: float
    kind: str
    method: str
    source: str
    std_err: float | None = None
    estimator_std: float | None = None
    ours: bool = True


# Published test NLLs on the JSB chorales at quarter notes with Boulanger-Lewandowski et al.'s
# split, in nats per time step: quoted from the papers, not reproduced here.
PUBLISHED_JSB = (
    Likelihood("RNN-RBM", "jsb", 6.27, "estimate", "AIS", "Boulanger-Lewandowski et al. 2012",
               ours=False),
    Likelihood("RNN-NADE", "jsb", 5.56, "exact", "exact (SGD)", "Boulanger-Lewandowski et al. 2012",
               ours=False),
    # the same model as quoted by later work; the two numbers are not reconciled here
    Likelihood("RNN-NADE, as quoted later", "jsb", 5.19, "exact", "exact",
               "Krishnan et al. 2017, quoting Boulanger-Lewandowski et al. 2012", ours=False),
    Likelihood("DMM-Aug-NADE", "jsb", 5.12, "estimate", "importance sampling",
               "Krishnan et al. 2017", ours=False),
    Likelihood("SRNN", "jsb", 4.74, "bound", "variational bound (ELBO)", "Fraccaro et al. 2016",
               ours=False),
    Likelihood("NASMC", "jsb", 3.99, "bound", "SMC estimate", "Gu et al. 2015", ours=False),
)


def kind_of(method: str) -> str:
    """The kind of an ``eval.json`` ``method``: ``'exact'``; ``'bound'`` for SMC alone (the
    generator's voice decisions summed out by particles: an upper bound on the NLL in
    expectation) and for a variational bound (ELBO, IWAE); ``'estimate'`` for anything with
    AIS in it.

    Notebook: 10b_beyond_the_thesis."""
    m = method.lower()
    if m == "exact":
        return "exact"
    if "ais" in m:
        return "estimate"
    if "smc" in m or "iwae" in m or "elbo" in m:  # variational bounds: above the NLL
        return "bound"
    raise ValueError(f"unknown likelihood method {method!r}")


def read_likelihood(folder, model: str | None = None) -> Likelihood:
    """The row of one checkpoint folder, from its ``eval.json``; ``model`` names the row
    (default: the file's model name).

    Notebook: 10b_beyond_the_thesis."""
    folder = Path(folder)
    path = folder / "eval.json"
    try:
        e = json.loads(path.read_text())
        return Likelihood(model or e["model"], e["dataset"], float(e["nll_per_step"]),
                          kind_of(e["method"]), e["method"], str(folder),
                          e.get("nll_std_err"), e.get("estimator_std", 0.0))
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not an evaluation written by `musicgen evaluate --json` "
                         f"({type(err).__name__}: {err})") from None


def best(rows, kind: str | None = None, ours: bool | None = None) -> Likelihood:
    """The row with the lowest NLL, among those of ``kind`` and ``ours`` where given.

    Notebook: 10b_beyond_the_thesis."""
    keep = [r for r in rows if (kind is None or r.kind == kind) and (ours is None or r.ours == ours)]
    if not keep:
        raise ValueError(f"no row of kind {kind!r}" + ("" if ours is None else f", ours={ours}"))
    return min(keep, key=lambda r: r.nll)


def fit_mixture_weights(log_probs, iters: int = 2000, tol: float = 1e-12) -> np.ndarray:
    """The weights w (K,) of the per-step mixture p(v_t | v_<t) = sum_k w_k p_k(v_t | v_<t) that
    maximise the mean log-likelihood of the steps whose per-model log-probabilities are
    ``log_probs`` (K, N), by EM (each iteration: every step's responsibilities, then their
    means; the objective never falls). Fit them on validation steps: every conditional of the
    mixture is a proper distribution, so its test NLL stays exact.

    Notebook: 10b_beyond_the_thesis."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2 or log_probs.shape[1] == 0:
        raise ValueError(f"log_probs must be (models, steps), not {log_probs.shape}")
    w = np.full(len(log_probs), 1.0 / len(log_probs))
    for _ in range(iters):
        a = np.log(w)[:, None] + log_probs                  # (K, N) log of each joint term
        r = np.exp(a - a.max(0))
        new = (r / r.sum(0)).mean(1)                        # mean responsibilities
        if np.abs(new - w).max() < tol:
            return new
        w = new
    return w


def mixture_nll(log_probs, weights) -> tuple[float, float]:
    """The mixture's mean NLL per step and its standard error over steps (as ``evaluate``
    reports them) from per-model log-probabilities (K, N) and weights (K,).

    Notebook: 10b_beyond_the_thesis."""
    with np.errstate(divide="ignore"):   # a weight of 0 leaves its model out: log 0 = -inf
        a = np.log(np.asarray(weights, dtype=np.float64))[:, None] + np.asarray(log_probs, dtype=np.float64)
    top = a.max(0)
    nll = -(top + np.log(np.exp(a - top).sum(0)))         # (N,)
    return float(nll.mean()), float(nll.std(ddof=1) / math.sqrt(len(nll)))
