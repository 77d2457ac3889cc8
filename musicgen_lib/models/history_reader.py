"""Attention over the history: a controller LSTM chooses a convex combination of the
frames ``x_{t-h}``, ``h`` in a fixed set of lags (notebook 05_attention; thesis §6.3,
Fig. 12).

The lags are powers of two and their sums (``{4, 8, 16, 32, 48, 64, 96, 128}``): repeats in
music come at such periods, and an LSTM alone keeps a copy intact for only ~16–20 steps.
"""
from __future__ import annotations

import torch
from torch import nn


THESIS_LAGS = (4, 8, 16, 32, 48, 64, 96, 128)


class HistoryReader(nn.Module):
    """``read_t = sum_k softmax(W h_t)_k * x_{t - lags[k]}`` with ``h_t`` from ``read_lstm``.

    Parameter names match the author's ``history_reader.read_lstm`` / ``read_linear``.
    """

    def __init__(self, input_size: int = 18, hidden_size: int = 100, lags=THESIS_LAGS):
        super().__init__()
        self.lags = tuple(int(h) for h in lags)
        self.read_lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.read_linear = nn.Linear(hidden_size, len(self.lags))
        self.register_buffer("lag_rows", self.max_lag - torch.tensor(self.lags), persistent=False)

    @property
    def max_lag(self) -> int:
        return max(self.lags)

    def forward(self, inp, frames, state=None):
        """Teacher-forced read over a whole sequence.

        inp:    (B, T, input_size)   the controller's input at each step
        frames: (B, P + T, F)        P = max_lag past frames, then the frames whose
                                     step t is predicted (frames[:, P + t] is x_t)
        Returns read (B, T, F), weights (B, T, L), state.
        """
        out, state = self.read_lstm(inp, state)  # (B, T, H)
        weights = torch.softmax(self.read_linear(out), dim=-1)  # (B, T, L)
        P, T = frames.shape[1] - inp.shape[1], inp.shape[1]
        # x_{t-h} for every step and lag: a strided view per lag, stacked -> (B, T, L, F)
        past = torch.stack([frames[:, P - h:P - h + T] for h in self.lags], dim=2)
        read = torch.einsum("btl,btlf->btf", weights, past.to(weights.dtype))
        return read, weights, state
