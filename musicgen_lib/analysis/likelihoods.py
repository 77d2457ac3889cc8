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

Pure functions of the ``eval.json`` files that ``musicgen evaluate --json`` writes; nothing
here runs a model.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

KINDS = ("exact", "bound", "estimate")


@dataclass(frozen=True)
class Likelihood:
    """One row: ``nll`` nats per time step on ``dataset``'s test split (``std_err`` over time
    steps; ``estimator_std`` the spread of a stochastic estimator, 0 for exact ones), of
    ``kind`` (one of :data:`KINDS`), by ``method``; ``source`` is a checkpoint folder for ours
    or the publication for a published number."""

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
