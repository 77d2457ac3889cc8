"""BachProp (Colombo & Gerstner 2018; thesis §5.8): a recurrent network over notes written as
(dT, T, P) triples.

Explained in notebooks/04c_events_and_notes.ipynb.

x (B, N, 3) holds one note per row (data/note_triples.py: ``[dT index, T index, MIDI
pitch]``, dT and T indices into the 21 values of ``GRID``). The network reads the notes
before n and predicts note n in three steps, each conditioned on the ones before it:

    p(note_n | notes_<n) = p(dT_n | h_n) p(T_n | h_n, dT_n) p(P_n | h_n, dT_n, T_n),
    h_n = GRU(embed(note_{n-1}), h_{n-1}),

so the log-likelihood is exact, per *note* (not per time step: it does not stand beside the
frame NLLs of the piano-roll models). BachProp's network: three GRU layers with skip
connections and one-hot inputs; here two, with embeddings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.midi import LOWEST_KEY, N_KEYS
from ..data.note_triples import N_VALUES
from .base import ClosedFormLogProb, TokenModel, recurrent_layers


@dataclass
class BachPropConfig:
    """Sizes of the embeddings, the recurrence and the heads."""
    n_embed: int = 32         # per field of a note
    n_recurrent: int = 128
    n_layers: int = 2
    cell: str = "gru"         # BachProp: GRUs
    n_head: int = 64          # hidden units of the T and P heads
    dropout: float = 0.2


class BachProp(ClosedFormLogProb, TokenModel):
    """p(dT) p(T | dT) p(P | dT, T) of each note given the notes before it; exact.

    Notebook: 04c_events_and_notes.
    """
    reads_dataset = "chorale-triples"
    step_unit = "note"

    def __init__(self, cfg: BachPropConfig):
        super().__init__()
        self.cfg = cfg
        E, H, M = cfg.n_embed, cfg.n_recurrent, cfg.n_head
        # the last row of each table is the start token (the input before the first note)
        self.e_dt, self.e_len, self.e_pitch = (nn.Embedding(N_VALUES + 1, E), nn.Embedding(N_VALUES + 1, E),
                                              nn.Embedding(N_KEYS + 1, E))
        self.rnn = recurrent_layers(cfg.cell, 3 * E, H, cfg.n_layers, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.to_dt = nn.Linear(H, N_VALUES)
        self.to_len = nn.Sequential(nn.Linear(H + E, M), nn.Tanh(), nn.Linear(M, N_VALUES))
        self.to_pitch = nn.Sequential(nn.Linear(H + 2 * E, M), nn.Tanh(), nn.Linear(M, N_KEYS))

    @staticmethod
    def fields(x: torch.Tensor):
        """(B, N, 3) batch rows -> dT, T, pitch-key indices (B, N) long (key = pitch - 21)."""
        t = x.long()
        return t[..., 0], t[..., 1], (t[..., 2] - LOWEST_KEY).clamp(0, N_KEYS - 1)

    def embed(self, dt, dur, key):
        return torch.cat([self.e_dt(dt), self.e_len(dur), self.e_pitch(key)], -1)

    @staticmethod
    def transpose(x: torch.Tensor, k: int) -> torch.Tensor:
        """Augmentation: every pitch moves by k semitones (kept on the 88 keys). x (B, N, 3)."""
        if k == 0:
            return x
        out = x.clone()
        out[..., 2] = (x[..., 2] + k).clamp(LOWEST_KEY, LOWEST_KEY + N_KEYS - 1)
        return out

    def len_logits(self, h, dt):
        """Logits (..., 21) of T given h and dT; T = 0 (a note of no length) is impossible."""
        z = self.to_len(torch.cat([h, self.e_dt(dt)], -1))
        return torch.cat([torch.full_like(z[..., :1], float("-inf")), z[..., 1:]], -1)

    def pitch_logits(self, h, dt, dur):
        """Logits (..., 88) of P given h, dT and T."""
        return self.to_pitch(torch.cat([h, self.e_dt(dt), self.e_len(dur)], -1))

    def heads(self, h, dt, dur):
        """Logits of dT (from h), of T given dT, of P given dT and T: (..., 21), (..., 21), (..., 88)."""
        return self.to_dt(h), self.len_logits(h, dt), self.pitch_logits(h, dt, dur)

    def field_log_probs(self, x, mask):
        """(B, N, 3) log p(dT_n | ...), log p(T_n | dT_n, ...), log p(P_n | dT_n, T_n, ...) of every
        note given the notes before it (teacher forcing: one recurrent call), 0 on padding.

        Notebook: 04c_events_and_notes."""
        dt, dur, key = self.fields(x.masked_fill(~mask[..., None], 0))     # (B, N) each
        start = [torch.full_like(dt[:, :1], N_VALUES), torch.full_like(dt[:, :1], N_VALUES),
                 torch.full_like(dt[:, :1], N_KEYS)]
        prev = [torch.cat([s, f[:, :-1]], 1) for s, f in zip(start, (dt, dur, key))]
        h, _ = self.rnn(self.embed(*prev))                                # (B, N, H), one call
        z_dt, z_len, z_key = self.heads(self.drop(h), dt, dur)
        dur_target = dur.masked_fill(~mask, 1)                            # padding: a possible T
        lp = torch.stack([-F.cross_entropy(z.transpose(1, 2), t, reduction="none")
                          for z, t in ((z_dt, dt), (z_len, dur_target), (z_key, key))], -1)
        return lp * mask[..., None]                                       # (B, N, 3)

    def _log_prob(self, x, mask):
        return self.field_log_probs(x, mask).sum(-1)                      # (B, N)

    @staticmethod
    def to_notes(triples):
        """The notes (a NoteList at 480 ticks per quarter note) of generated triples (N, 3)."""
        from ..data.note_triples import triples_to_notes

        return triples_to_notes(triples)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None,
                 temperature: float = 1.0, generator=None) -> torch.Tensor:
        """(batch, n_steps, 3) long triples ``[dT index, T index, MIDI pitch]`` continuing
        ``prime`` ((batch, P, 3) triples; left out: from the start), each note drawn field by
        field (dT, then T, then P) at ``temperature``.

        Notebook: 04c_events_and_notes."""
        self.eval()
        dev = self.to_dt.weight.device
        draw = lambda z: torch.multinomial(F.softmax(z / temperature, -1), 1, generator=generator)[:, 0]
        start = torch.full((batch, 1), N_VALUES, dtype=torch.long, device=dev)
        inp = self.embed(start, start, torch.full_like(start, N_KEYS))       # (B, 1, 3E)
        if prime is not None and prime.shape[1]:
            dt, dur, key = self.fields(prime.to(dev))
            inp = torch.cat([inp, self.embed(dt, dur, key)], 1)          # (B, 1 + P, 3E)
        h, state = self.rnn(inp)
        h = h[:, -1]
        out = []
        for _ in range(n_steps):
            dt = draw(self.to_dt(h))                  # each field given the ones drawn before it
            dur = draw(self.len_logits(h, dt))
            key = draw(self.pitch_logits(h, dt, dur))
            out.append(torch.stack([dt, dur, key + LOWEST_KEY], -1))
            h, state = self.rnn(self.embed(dt, dur, key)[:, None], state)
            h = h[:, 0]
        return torch.stack(out, 1)
