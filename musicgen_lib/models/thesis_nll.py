"""The likelihood of 12-dim frames under the voice sampler, estimated by sequential Monte
Carlo over the voices' decisions (notebook 08_training_and_samples; thesis §6.4).

The thesis reports only its training loss, a stochastic BCE on approximate marginals. The
sampler's real probability of a frame sums over every sequence of voice decisions that
plays exactly the frame's pitch classes, and — because each voice keeps its LSTM state
from step to step — over the decisions of all earlier steps too. We estimate it with
particles: each particle draws only decisions *consistent* with the frame (a play on a
sounding class not yet played, or a ban on a silent one while enough voices remain), from
the model's own distribution restricted to them, and is weighted by the probability mass
of that restriction. Resampling after every step keeps the weights balanced.

``log p_hat(x_1..T) = sum_t log mean_k w_t,k`` is an unbiased estimate of p in
expectation, so its log is a stochastic *lower bound* on log p in expectation; the spread
over independent runs is reported with it. Frames with more pitch classes than voices have
probability 0 under the sampler; they are counted and left out — unless the model has a
``fallback`` ε (ThesisConfig): then each frame comes from the voices with probability 1 - ε
or uniformly from the 4096 class sets with probability ε, the voices' states standing still.
Each particle then also draws which of the two made the frame, in proportion to their
shares of its weight ``(1 - ε) w + ε / 4096``, and every frame has nonzero probability.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import MusicgenError
from .voice_sampler import consistent_decisions, record_decision


@dataclass
class NLLEstimate:
    """NLL in nats per frame over the frames the sampler can produce, and its spread."""

    nll_per_step: float  # mean over runs
    std_err: float  # standard error over the runs
    runs: list  # NLL per step of each run
    steps: int  # frames scored
    impossible_steps: int  # frames with more pitch classes than voices (left out)
    particles: int
    method: str = "SMC over voice decisions (lower bound on log-likelihood in expectation)"


@torch.no_grad()
def log_likelihood(model, history, x, start=None, particles: int = 16, seed: int = 0):
    """Estimated log p(x) per sequence and per step.

    history (B, P, 12), x (B, T, 12) in our class order. Returns (log_p (B, T): each step's
    log of the mean particle weight; possible (B, T) bool: frames the sampler can produce;
    var (B, T): each step's estimator variance by the delta method, var(w) / (K mean(w)^2)).
    Impossible frames contribute 0 and are skipped by the particles; with the model's
    ``fallback`` > 0 no frame is impossible (see the module's docstring).

    Notebook: 05_attention.
    """
    g = torch.Generator(device=x.device).manual_seed(seed)
    s = model.sampler
    if s.alphabet != "play-ban":
        raise MusicgenError(f"the likelihood estimate needs the play/ban alphabet, not {s.alphabet!r}")
    feats, _ = model.features(history, x, start)  # (B, T, F): the main module reads only x
    target = x.float()[..., model.to_model]
    B, T, N = target.shape
    K, V = particles, s.n_voices
    feats = feats.repeat_interleave(K, 0)  # (B*K, T, F)
    target = target.repeat_interleave(K, 0)
    possible = target.sum(-1) <= V  # (B*K, T)
    eps = model.cfg.fallback
    if eps > 0:  # log of the fallback's share of any frame's probability
        log_fall = math.log(eps) - N * math.log(2.0)
    H = s.lstm.hidden_size
    h = feats.new_zeros(V, 1, B * K, H)
    c = feats.new_zeros(V, 1, B * K, H)
    log_p = feats.new_zeros(B, T)
    var = feats.new_zeros(B, T)
    rows = torch.arange(B * K, device=x.device)
    for t in range(T):
        tgt = target[:, t]
        ok = possible[:, t]
        play = tgt.new_zeros(B * K, N)
        ban = tgt.new_zeros(B * K, N)
        log_w = tgt.new_zeros(B * K)
        h_new, c_new = h.clone(), c.clone()
        for v in range(V):
            inp = torch.cat([feats[:, t], play, ban], -1)[:, None]
            out, (hv, cv) = s.lstm(inp, (h[v], c[v]))
            h_new[v], c_new[v] = hv, cv
            q = s.decision_probs(out[:, 0], play, ban)  # (B*K, 24)
            qa = q * consistent_decisions(tgt, play, ban, V - v)
            z = qa.sum(-1)
            log_w += torch.where(ok, z.clamp_min(1e-30).log(), torch.zeros_like(z))
            d = torch.multinomial(torch.where(ok[:, None], qa, torch.ones_like(qa)), 1,
                                  generator=g)[:, 0]
            play, ban = record_decision(d, play, ban, N)
        keep = ~ok  # an impossible frame: particles keep their old states, no resampling
        if eps > 0:  # the mixture: which half made the frame is drawn per particle
            log_v = torch.where(ok, log_w, torch.full_like(log_w, -math.inf)) + math.log1p(-eps)
            log_w = torch.logaddexp(log_v, torch.full_like(log_w, log_fall))
            u = torch.rand(B * K, generator=g, device=x.device)
            keep = u >= (log_v - log_w).exp()  # the fallback: the voices' states stand still
        # the step's estimate, then resample the particles of each sequence by weight
        lw = log_w.view(B, K)
        log_p[:, t] = torch.logsumexp(lw, 1) - math.log(K)
        probs = torch.softmax(lw, 1)
        var[:, t] = (probs * K).var(1) / K
        idx = torch.multinomial(probs, K, replacement=True, generator=g)  # (B, K)
        src = (idx + torch.arange(B, device=x.device)[:, None] * K).flatten()
        if eps == 0:
            src = torch.where(keep, rows, src)
        h = torch.where(keep[None, None, :, None], h, h_new)[:, :, src]
        c = torch.where(keep[None, None, :, None], c, c_new)[:, :, src]
    ok = possible.view(B, K, T)[:, 0] | (eps > 0)
    return log_p, ok, var * ok


def nll_per_step(model, batches, particles: int = 16, runs: int = 3, seed: int = 0) -> NLLEstimate:
    """Mean NLL per possible frame over ``batches`` (iterable of (history, x, start)),
    repeated ``runs`` times with different seeds for the spread.

    Notebook: 05_attention, 08_training_and_samples."""
    batches = list(batches)
    per_run = []
    steps = impossible = 0
    for r in range(runs):
        total, count, bad = 0.0, 0, 0
        for i, (history, x, start) in enumerate(batches):
            lp, ok, _ = log_likelihood(model, history, x, start, particles, seed + 1000 * r + i)
            total -= float(lp[ok].sum())
            count += int(ok.sum())
            bad += int((~ok).sum())
        per_run.append(total / max(count, 1))
        steps, impossible = count, bad
    mean = sum(per_run) / len(per_run)
    sd = (sum((v - mean) ** 2 for v in per_run) / max(len(per_run) - 1, 1)) ** 0.5
    return NLLEstimate(mean, sd / len(per_run) ** 0.5, per_run, steps, impossible, particles)
