"""Evaluation by Boulanger-Lewandowski et al. (2012)'s conventions, so that our numbers stand
beside their Table 1.

Explained in notebooks/04_independent_vs_dependent.ipynb (the comparison table).

* NLL: -log p(v_t | v_<t) in nats, averaged over ALL time steps of the split (a long piece
  counts in proportion to its length). Exact for the LSTM, the RNN-NADE and RBMs with at most
  20 hidden units; the RBM-based models otherwise estimate every log Z_t by annealed importance
  sampling (their number of chains and temperatures is reported).
* Frame accuracy (Bay et al. 2009): ACC = sum_t TP / sum_t (TP + FP + FN), with the counts'
  expectations under the model's prediction of each frame from the true past (exact for the
  independent model, by sampling for the others).
* The DeepBach-style model (labelled voices) has no joint likelihood: its "NLL" is a
  pseudo-NLL, -sum_v log p(x_{t,v} | all other tokens), reported with that label.
* Sanity anchor: the uniform distribution over 2^88 frames scores 88 ln 2 = 61.0 nats.
"""
from __future__ import annotations

import math

import torch

from .errors import MusicgenError
from .data.batches import as_rolls, batches, pad_batch
from .models.base import StepStats

UNIFORM_NLL = 88 * math.log(2.0)  # 60.9985 nats per step


@torch.no_grad()
def evaluate(model, pieces, *, batch_size: int = 16, n_samples: int | None = None,
             ais_chains: int | None = None, ais_betas: int | None = None, seed: int = 0,
             accuracy: bool = True, progress: bool = False) -> dict:
    """NLL per step and expected frame accuracy of `model` on `pieces`.

    Returns {"nll_per_step", "nll_std_err", "frame_accuracy", "steps", "method", "pieces",
    and for AIS "estimator_std", "ais_chains", "ais_betas"}. nll_std_err is the standard error of
    the mean over time steps (the spread of the per-step NLLs / sqrt(steps)); estimator_std is the
    standard deviation of the AIS estimate of the mean itself (delta method over the chains).
    n_samples: samples per step for frame accuracy (default: the model's accuracy_samples).

    Notebook: 04_independent_vs_dependent, 04b_voices.
    """
    rolls = as_rolls(pieces)
    if not rolls:
        raise MusicgenError("nothing to evaluate: no non-empty pieces")
    model.eval()
    torch.manual_seed(seed)
    n_samples = n_samples or model.accuracy_samples
    accuracy = accuracy and model.has_frame_accuracy  # events, notes, voices: no frames
    per_step, var_sum, stats = [], 0.0, StepStats()
    it = list(batches(rolls, batch_size))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="evaluate", unit="batch")
    dev = next(model.parameters()).device
    for x, mask in it:
        x, mask = x.to(dev), mask.to(dev)
        lp, lv = model.log_prob(x, mask, ais_chains=ais_chains, ais_betas=ais_betas)
        per_step.append(-lp[mask].double())
        var_sum += float(lv[mask].double().sum())
        if accuracy:
            s = model.frame_stats(x, mask, n_samples)
            stats.tp, stats.fp, stats.fn = stats.tp + s.tp, stats.fp + s.fp, stats.fn + s.fn
    nll = torch.cat(per_step)
    impossible = int(torch.isinf(nll).sum())  # steps the model cannot produce at all
    nll = nll[torch.isfinite(nll)]
    n = len(nll)
    out = {"nll_per_step": float(nll.mean()),
           "nll_std_err": float(nll.std() / math.sqrt(n)) if n > 1 else 0.0,
           "frame_accuracy": stats.tp / (stats.tp + stats.fp + stats.fn) if accuracy else None,
           "steps": n, "method": model.method, "pieces": len(rolls)}
    if model.step_unit != "frame":  # a step is a token: the NLL is per event or per note
        out["step_unit"] = model.step_unit
    if impossible:  # reported, never silently dropped: the NLL above is over the other steps
        out["impossible_steps"] = impossible
    if model.method == "pseudo-likelihood":  # exact to compute, but no joint likelihood
        k = model.tokens_per_step
        out.update(pseudo_nll_per_token=out["nll_per_step"] / k,
                   pseudo_nll_per_token_std_err=out["nll_std_err"] / k,
                   note=f"pseudo-likelihood: per step, the sum over {k} tokens of -log p(token | "
                        "all other tokens); not a joint NLL, not comparable with the others")
    elif not model.exact:
        # independent estimates per step average out; one shared log Z does not
        std = math.sqrt(var_sum / n) if model.shared_partition else math.sqrt(var_sum) / n
        out["estimator_std"] = std
    if model.uses_ais:  # the AIS effort behind the estimate
        cfg = model.cfg
        out.update(ais_chains=ais_chains or cfg.ais_chains, ais_betas=ais_betas or cfg.ais_betas)
    return out


@torch.no_grad()
def step_log_probs(model, pieces, *, batch_size: int = 16):
    """log p(v_t | v_<t) of every step of ``pieces`` (pieces or (T, 88) rolls), piece by piece
    in order, as a float64 numpy array (N,): what a mixture of several trained models is
    fitted and scored on (:func:`musicgen_lib.analysis.likelihoods.fit_mixture_weights`).
    Only for exact models: a stochastic estimate mixed per step would not be one.

    Notebook: 10b_beyond_the_thesis."""
    if not model.exact:
        raise MusicgenError(f"per-step log-probabilities of a {model.method} model are not exact: "
                            "they cannot be mixed into an exact likelihood")
    rolls = as_rolls(pieces)
    if not rolls:
        raise MusicgenError("nothing to evaluate: no non-empty pieces")
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(rolls), batch_size):   # in the pieces' order, not evaluate's length order
        x, mask = pad_batch(rolls[i:i + batch_size])
        x, mask = x.to(dev), mask.to(dev)
        out.append(model.log_prob(x, mask)[0][mask].double().cpu())
    return torch.cat(out).numpy()


__all__ = ["evaluate", "step_log_probs", "UNIFORM_NLL"]
