"""Performance RNN (Simon & Oore 2017; thesis §5.7): an LSTM over performance events.

Explained in notebooks/04c_events_and_notes.ipynb.

x (B, N, 1) holds one event id per row (data/events.py: 0-127 NOTE_ON, 128-255 NOTE_OFF,
256-355 TIME_SHIFT of 10 ms .. 1 s, 356-387 VELOCITY). The model is the plain language model
of the paper:

    p(e_1 .. e_N) = prod_n softmax(W h_n)[e_n],   h_n = LSTM(embed(e_{n-1}), h_{n-1}),

with e_0 a start token. Its log-likelihood is exact, per *event* — not per time step, so it
does not stand beside the frame NLLs of the piano-roll models (the notebook also gives nats
per second of music). Magenta's model: 3 LSTM layers of 512 and one-hot inputs; an embedding
is the same map as a one-hot input times a matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.events import VOCAB_SIZE
from .base import ClosedFormLogProb, TokenModel, recurrent_layers

START = VOCAB_SIZE  # the input before the first event (never a target)


@dataclass
class PerformanceRNNConfig:
    """Sizes (the paper: 3 layers of 512; here smaller, to train on a CPU core)."""
    n_embed: int = 128
    n_recurrent: int = 256
    n_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.1      # between and after the LSTM layers


class PerformanceRNN(ClosedFormLogProb, TokenModel):
    """An LSTM language model of Performance RNN events; exact log-likelihood per event.

    Notebook: 04c_events_and_notes.
    """
    reads_dataset = "piano-events"
    step_unit = "event"
    chunk = 2048  # events per output chunk: the (B, chunk, 388) logits bound the memory

    def __init__(self, cfg: PerformanceRNNConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(VOCAB_SIZE + 1, cfg.n_embed)
        self.rnn = recurrent_layers(cfg.cell, cfg.n_embed, cfg.n_recurrent, cfg.n_layers, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.n_recurrent, VOCAB_SIZE)

    @staticmethod
    def transpose(x: torch.Tensor, k: int) -> torch.Tensor:
        """Augmentation (the paper's ±3 semitones): NOTE_ON and NOTE_OFF ids move by k
        semitones, within their block of 128 (a pitch pushed past MIDI 0 or 127 stays at the
        edge; piano music lies far inside); the other events are unchanged. x (B, N, 1)."""
        if k == 0:
            return x
        note = x < 256                                                  # NOTE_ON / NOTE_OFF
        base = torch.where(x < 128, 0, 128)
        return torch.where(note, base + (x - base + k).clamp(0, 127), x)

    def hidden(self, tok: torch.Tensor, state=None):
        """Teacher forcing: tok (B, N) event ids -> h (B, N, H), h_n reading e_0 .. e_{n-1}."""
        inp = F.pad(tok, (1, 0), value=START)[:, :-1]                   # (B, N): e_0 .. e_{N-1}
        h, state = self.rnn(self.embed(inp), state)                     # (B, N, H), one call
        return self.drop(h), state

    def _log_prob(self, x, mask):
        """(B, N) log p(e_n | e_<n), 0 on padding; the output layer runs in chunks of events."""
        tok = x[..., 0].long().masked_fill(~mask, 0)                   # (B, N)
        h, _ = self.hidden(tok)
        parts = [-F.cross_entropy(self.out(h[:, i:i + self.chunk]).transpose(1, 2),
                                  tok[:, i:i + self.chunk], reduction="none")
                 for i in range(0, tok.shape[1], self.chunk)]
        return torch.cat(parts, 1) * mask

    @staticmethod
    def to_notes(events):
        """The notes of generated event ids (N,), on the 10 ms grid (a NoteList at 50 ticks per
        beat, real time at 120 bpm), decoded leniently: a sample may release a key it never
        struck (ignored) or leave one held (ended with the last event)."""
        from ..data.events import events_to_notes

        return events_to_notes(events, strict=False)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None,
                 temperature: float = 1.0, generator=None) -> torch.Tensor:
        """(batch, n_steps) long event ids continuing ``prime`` ((batch, P) or (batch, P, 1)
        event ids; left out: from the start token), drawn one at a time from the softmax at
        ``temperature``.

        Notebook: 04c_events_and_notes."""
        self.eval()
        dev = self.out.weight.device
        state = None
        if prime is not None and prime.shape[1]:
            p = prime.reshape(prime.shape[0], -1).long().to(dev)         # (B, P)
            _, state = self.hidden(p)                                  # reads e_0 .. e_{P-1}
            e = p[:, -1]
        else:
            e = torch.full((batch,), START, dtype=torch.long, device=dev)
        out = []
        for _ in range(n_steps):
            h, state = self.rnn(self.embed(e)[:, None], state)          # (B, 1, H)
            z = self.out(h[:, 0]) / temperature                         # (B, 388)
            e = torch.multinomial(F.softmax(z, -1), 1, generator=generator)[:, 0]
            out.append(e)
        return torch.stack(out, 1)
