"""A melody LSTM with time features and lag inputs (thesis §5.1; Magenta's Lookback RNN,
Waite 2016; after Eck & Schmidhuber 2002).

Explained in notebooks/04a_melody.ipynb.

x (B, T, 1) holds one melody token per 16th-note step (data/melody.py: HOLD, REST or a
pitch). The LSTM reading step t sees

* the previous token x_{t-1}, and the tokens one and two bars back, x_{t-16} and x_{t-32}
  (``lags``; a step before the piece's start is a "before" token) — so that repeating a bar
  is a matter of copying an input rather than of remembering it for 16 steps;
* for each lag k, whether the previous step repeated the step k before it,
  1[x_{t-1} = x_{t-1-k}] (the thesis' copy indicators, Magenta's repeat flags);
* the binary time counter of step t (``time_bits`` bits: 16ths, 8ths, quarters, half bars,
  bars, as in the thesis model), so that it knows where in the bar it is;

and a softmax gives x_t. The log-likelihood is exact, per step. ``lags: []`` and
``time_bits: 0`` give the plain melody LSTM, for the comparison of notebook 04a.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.melody import N_TOKENS, transpose_tokens
from ..data.octave import time_bits
from .base import ClosedFormLogProb, TokenModel, recurrent_layers

BEFORE = N_TOKENS  # the input at a step before the piece's start


@dataclass
class MelodyLSTMConfig:
    """Inputs and sizes."""
    lags: list = field(default_factory=lambda: [16, 32])   # steps back read as extra inputs
    time_bits: int = 5          # bits of the time counter (0: none)
    n_embed: int = 32           # per token input
    n_recurrent: int = 128
    n_layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.2


class MelodyLSTM(ClosedFormLogProb, TokenModel):
    """p(x_t | x_<t) of a melody token with lag inputs and time features; exact.

    Notebook: 04a_melody.
    """
    reads_dataset = "chorale-melodies"
    step_unit = "step"

    def __init__(self, cfg: MelodyLSTMConfig):
        super().__init__()
        self.cfg = cfg
        self.lags = [1] + [int(k) for k in cfg.lags]
        self.embed = nn.Embedding(N_TOKENS + 1, cfg.n_embed)
        n_in = len(self.lags) * cfg.n_embed + len(cfg.lags) + cfg.time_bits
        self.rnn = recurrent_layers(cfg.cell, n_in, cfg.n_recurrent, cfg.n_layers, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.n_recurrent, N_TOKENS)

    def inputs(self, tok: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Features of the steps whose tokens follow ``tok`` (B, T): for each t, x_{t-lag} for
        every lag, the repeat flags and the time bits of t (``start``: the step index of tok's
        first step). Returns (B, T, F)."""
        B, T = tok.shape
        back = lambda k: F.pad(tok, (k, 0), value=BEFORE)[:, :T]        # x_{t-k}, (B, T)
        parts = [self.embed(back(k)) for k in self.lags]
        prev = back(1)
        parts += [((prev == back(1 + k)) & (back(1 + k) != BEFORE)).to(parts[0].dtype)[..., None]
                  for k in self.lags[1:]]
        if self.cfg.time_bits:
            bits = torch.from_numpy(time_bits(T, start, self.cfg.time_bits)).to(tok.device)
            parts.append(bits.expand(B, -1, -1))
        return torch.cat(parts, -1)

    transpose = staticmethod(transpose_tokens)  # augmentation: pitch tokens move by k

    def _log_prob(self, x, mask):
        tok = x[..., 0].long().masked_fill(~mask, 0)                    # (B, T)
        h, _ = self.rnn(self.inputs(tok))                               # (B, T, H), one call
        z = self.out(self.drop(h))                                      # (B, T, N_TOKENS)
        return -F.cross_entropy(z.transpose(1, 2), tok, reduction="none") * mask

    @staticmethod
    def to_notes(tokens):
        """The notes of generated tokens (T,), 16th-note steps at 480 ticks per beat."""
        from ..data.melody import tokens_to_notes

        return tokens_to_notes(tokens)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None,
                 temperature: float = 1.0, generator=None) -> torch.Tensor:
        """(batch, n_steps) long tokens continuing ``prime`` ((batch, P) or (batch, P, 1)
        tokens; left out: from the start of a piece), one step at a time at ``temperature``.

        Notebook: 04a_melody."""
        self.eval()
        dev = self.out.weight.device
        past = (prime.reshape(prime.shape[0], -1).long().to(dev) if prime is not None
                else torch.zeros(batch, 0, dtype=torch.long, device=dev))
        P, state = past.shape[1], None
        if P:  # read the prime: the inputs of its steps 0 .. P-1
            _, state = self.rnn(self.inputs(past))
        seq, reach = past, max(self.lags) + 1  # step t's inputs look back at most max(lags) steps
        for t in range(P, P + n_steps):
            # the inputs of step t, from the last steps only: its lags are known tokens (generated
            # or primed; before the piece's start the window's padding is the "before" token)
            window = torch.cat([seq[:, -reach:], seq.new_zeros(seq.shape[0], 1)], 1)  # .., slot t
            feat = self.inputs(window, t + 1 - window.shape[1])[:, -1:]       # (B, 1, F)
            h, state = self.rnn(feat, state)
            z = self.out(h[:, 0]) / temperature
            nxt = torch.multinomial(F.softmax(z, -1), 1, generator=generator)
            seq = torch.cat([seq, nxt], 1)
        return seq[:, P:]
