"""A per-time-step reference of the thesis model's teacher-forced loss, written the way
the author's code runs it: a Python loop over time steps, every LSTM fed one step at a
time, the five voices inside the loop.

It lives here, not in the library: it exists to check the vectorised
``ThesisGenerator.forward`` (tests/test_thesis_model.py) and to time it
(benchmarks/bench_thesis.py). It reuses the model's modules (same weights) and the same
uniforms for the voices' choices, so both must give the same loss.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from musicgen_lib.models.voice_sampler import VoiceSampler, pick


def per_step_loss(model, history, x, start=None, noise=None, rng=None):
    """The teacher-forced loss of ``model`` (a ThesisGenerator), one time step at a time."""
    c = model.cfg
    B, T, _ = x.shape
    P = model.history_size
    N = c.n_classes
    frames = torch.cat([history[:, -P:], x], 1).float()[..., model.to_model]  # (B, P+T, 12)
    if noise is None:
        noise = torch.rand(c.n_voices, B, T, generator=rng)
    reader = model.history_reader
    lags = torch.tensor(reader.lags)
    local_s = reader_s = agg_s = None
    voice_s = [None] * c.n_voices
    ps = []
    for t in range(T):
        step = torch.full((B,), t - int(c.time_of_input), dtype=torch.long)
        if c.time_from_piece and start is not None:
            step = step + start
        inp = torch.cat([frames[:, P + t - 1], model.time_input(step % 2 ** c.time_bits)], -1)
        local, local_s = model.local_lstm(inp[:, None], local_s)
        # the reader's controller as one fused cell (as the reference has always timed it)
        rl = reader.read_lstm
        reader_s = torch.lstm_cell(inp, reader_s or (inp.new_zeros(B, rl.hidden_size),) * 2,
                                   rl.weight_ih_l0, rl.weight_hh_l0, rl.bias_ih_l0, rl.bias_hh_l0)
        weights = torch.softmax(reader.read_linear(reader_s[0]), -1)  # (B, L)
        past = frames[:, P + t - lags]  # (B, L, 12): x_{t - lags[k]}
        read = torch.bmm(weights[:, None], past)[:, 0]
        agg, agg_s = model.aggregation_lstm(torch.cat([local[:, 0], read], -1)[:, None], agg_s)
        feats = agg[:, 0]
        target = frames[:, P + t]
        play, ban = target.new_zeros(B, N), target.new_zeros(B, N)
        p_play, p_ban = target.new_zeros(B, N), target.new_zeros(B, N)
        for v in range(c.n_voices):
            out, voice_s[v] = model.sampler.lstm(torch.cat([feats, play, ban], -1)[:, None],
                                                 voice_s[v])
            q = model.sampler.decision_probs(out[:, 0], play, ban)
            p_play = p_play + (1 - p_play) * q[:, :N]
            p_ban = p_ban + (1 - p_ban) * q[:, N:]
            with torch.no_grad():
                note = F.one_hot(pick(q, noise[v, :, t]) % N, N).to(q.dtype)
                play, ban = play + note * target, ban + note * (1 - target)
        ps.append(p_play * (1 - p_ban))
    p = torch.stack(ps, 1)  # (B, T, 12)
    return VoiceSampler.loss(p, frames[:, P:])
