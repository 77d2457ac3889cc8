"""Tied parallel networks (Johnson, EvoMusArt 2017; thesis §5.6): the bi-axial LSTM, whose
weights are shared across the notes, with an exact autoregressive likelihood.

Explained in notebooks/04_independent_vs_dependent.ipynb.

Two recurrences, each tied along the other axis:
* the time axis: one LSTM runs over time for every key n, the same weights for all 88 keys.
  Its input at step t sees only frame t-1, and only *relative to n*: the window of keys
  n-w .. n+w, the pitch-class counts of the frame rotated so that bin 0 is n's own pitch class,
  plus (optional, not tied) n's absolute pitch class and position, and the beat of step t;
* the note axis: one LSTM runs over the keys, low to high, at every step t, the same weights
  for every t. Its input at key n is the time axis' output for (t, n) and the keys n-k .. n-1
  of frame t itself, so its output gives p(x_{t,n} = 1 | v_<t, x_{t,<n}).
The product over the keys is a NADE-like exact likelihood of the frame, so -log p(v_t | v_<t) is
a sum of 88 Bernoulli NLLs. Teacher forcing makes both axes parallel in training: one LSTM call
over (B*88, T, .) for time, one over (B*T, 88, .) for the notes. Sampling loops over the 88
keys of every frame (the note axis has to see what it drew below).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from .base import BernoulliLogits, StepStats, shift_right, stats_from_probs


@dataclass
class BiaxialConfig:
    """Sizes of the two axes and the time axis' input features (Johnson: 2x300 time, 2x100
    note units; a CPU budget calls for less)."""
    n_visible: int = 88
    window: int = 12          # the time axis of key n sees keys n-window .. n+window of v_{t-1}
    context: bool = True      # ... and v_{t-1}'s pitch-class counts, relative to n's class
    position: bool = True     # ... and n's absolute pitch class and position (breaks the tying's
    #                           transposition invariance: the data is in C)
    beat: int = 4             # ... and step t's place in a bar of this many steps (0: off)
    n_time: int = 96          # time-axis LSTM units
    time_layers: int = 1
    n_note: int = 48          # note-axis LSTM units
    note_layers: int = 1
    note_window: int = 1      # the note axis at key n reads keys n-note_window .. n-1 of v_t
    dropout: float = 0.0      # on both axes' outputs (and between stacked layers)


class TimeFeatures(nn.Module):
    """The time axis' input at every (step, key), from the previous frame: no weights."""

    def __init__(self, cfg: BiaxialConfig):
        super().__init__()
        self.cfg = cfg
        keys = torch.arange(cfg.n_visible)
        self.register_buffer("fold", F.one_hot(keys % 12, 12).float(), persistent=False)  # (V, 12)
        # bin i of key n's context counts pitch class (n + i) mod 12: the same bin for every key
        self.register_buffer("rotate", (keys[:, None] + torch.arange(12)) % 12, persistent=False)
        pos = torch.cat([self.fold, (keys / cfg.n_visible)[:, None]], -1)  # (V, 13)
        self.register_buffer("pos", pos, persistent=False)

    @property
    def size(self) -> int:
        c = self.cfg
        return 2 * c.window + 1 + 12 * c.context + 13 * c.position + c.beat

    def forward(self, prev: torch.Tensor, t0: int = 0) -> torch.Tensor:
        """prev: (B, T, V) the frame before each step, steps t0 .. t0+T-1 -> (B, T, V, F)."""
        c, (B, T, V) = self.cfg, prev.shape
        w = c.window
        feats = [F.pad(prev, (w, w)).unfold(-1, 2 * w + 1, 1)]  # (B, T, V, 2w+1) keys n-w..n+w
        if c.context:
            counts = prev @ self.fold                             # (B, T, 12) notes per class
            feats.append(counts[..., self.rotate])                # (B, T, V, 12) relative to n
        if c.position:
            feats.append(self.pos.to(prev.dtype).expand(B, T, V, 13))
        if c.beat:
            steps = torch.arange(t0, t0 + T, device=prev.device) % c.beat
            beat = F.one_hot(steps, c.beat).to(prev.dtype)         # (T, beat)
            feats.append(beat[None, :, None].expand(B, T, V, c.beat))
        return torch.cat(feats, -1)


def lower_keys(v: torch.Tensor, k: int) -> torch.Tensor:
    """The note axis' own input: v (..., V) -> (..., V, k), row n = keys n-1, n-2 .. n-k of v
    (0 below the keyboard), so key n never sees itself or a higher key."""
    return F.pad(v, (k, 0))[..., :-1].unfold(-1, k, 1).flip(-1)


class Biaxial(BernoulliLogits):
    """The bi-axial LSTM of Johnson (2017), weights tied across notes (thesis §5.6).

    Notebook: 04_independent_vs_dependent.
    """
    method = "exact"
    accuracy_samples = 100  # as the RNN-NADE (the JSB test split: about a minute on one core)

    def __init__(self, cfg: BiaxialConfig):
        super().__init__()
        if cfg.note_window < 1 or cfg.window < 0 or cfg.beat < 0:
            # without key n-1 the note axis would know nothing of its own frame: the keys
            # would be independent given the past, the LSTM baseline again
            raise ConfigError("model options: note_window must be at least 1, window and beat "
                              f"at least 0 (got {cfg.note_window}, {cfg.window}, {cfg.beat})")
        self.cfg = cfg
        self.features = TimeFeatures(cfg)
        drop = cfg.dropout
        self.time_rnn = nn.LSTM(self.features.size, cfg.n_time, cfg.time_layers, batch_first=True,
                                dropout=drop if cfg.time_layers > 1 else 0.0)
        self.note_rnn = nn.LSTM(cfg.n_time + cfg.note_window, cfg.n_note, cfg.note_layers,
                                batch_first=True, dropout=drop if cfg.note_layers > 1 else 0.0)
        self.out = nn.Linear(cfg.n_note, 1)  # the same logit map for every key
        # start at about 4 keys of 88 on, as in chorales, not at p = 1/2 (61 nats a frame):
        # the first hundred steps would only learn that
        nn.init.constant_(self.out.bias, math.log(4 / 84))
        self.drop = nn.Dropout(drop)

    # ------------------------------------------------------------ the two axes

    def time_axis(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, V) frames -> (B, T, V, H) time-axis outputs, (t, n) seeing v_<t only."""
        B, T, V = x.shape
        f = self.features(shift_right(x))                      # (B, T, V, F)
        f = f.permute(0, 2, 1, 3).reshape(B * V, T, -1)         # every key is a sequence
        h, _ = self.time_rnn(f)                                 # (B*V, T, H) one call
        return self.drop(h).reshape(B, V, T, -1).permute(0, 2, 1, 3)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of p(x_{t,n} = 1 | v_<t, x_{t,<n}): (B, T, V) -> (B, T, V)."""
        B, T, V = x.shape
        h = self.time_axis(x)                                   # (B, T, V, H)
        inp = torch.cat([h, lower_keys(x, self.cfg.note_window)], -1)
        g, _ = self.note_rnn(inp.reshape(B * T, V, -1))         # (B*T, V, Hn) one call
        return self.out(self.drop(g)).reshape(B, T, V)

    def note_loop(self, h: torch.Tensor, v: torch.Tensor | None = None, temperature: float = 1.0):
        """The note axis key by key over rows h (N, V, H): teacher-forced by v (N, V), or
        sampling when v is None. Returns (logits (N, V), frames (N, V)). The reference for
        :meth:`logits` in tests, and the sampler."""
        N, V, _ = h.shape
        k, state = self.cfg.note_window, None
        drawn = h.new_zeros(N, V + k)                           # k zero keys below the keyboard
        logits = []
        for n in range(V):
            low = drawn[:, n:n + k].flip(-1)                    # (N, k) keys n-1 .. n-k
            g, state = self.note_rnn(torch.cat([h[:, n], low], -1)[:, None], state)
            z = self.out(self.drop(g[:, 0]))[:, 0]              # (N,)
            logits.append(z)
            if v is not None:
                drawn[:, n + k] = v[:, n]
            else:
                drawn[:, n + k] = torch.bernoulli(torch.sigmoid(z / temperature))
        return torch.stack(logits, -1), drawn[:, k:]

    # ------------------------------------------------------------ the SequenceModel interface

    @torch.no_grad()
    def frame_stats(self, x, mask, n_samples=100, rows: int = 8192) -> StepStats:
        """Expected TP/FP/FN from n_samples frames drawn at every real step given the true past
        (in chunks of about `rows` rows: the note loop's state is (rows, Hn))."""
        h = self.time_axis(x)[mask]                             # (N, V, H) real steps only
        mean = torch.zeros(h.shape[0], h.shape[1], dtype=x.dtype, device=x.device)
        per = max(1, rows // max(1, h.shape[0]))                # samples per chunk
        for s in range(0, n_samples, per):
            m = min(per, n_samples - s)
            _, v = self.note_loop(h.repeat(m, 1, 1))            # (m*N, V)
            mean += v.reshape(m, *mean.shape).sum(0)
        return stats_from_probs((mean / n_samples)[None], x[mask][None], mask[mask][None])

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """Sample (batch, n_steps, V) frames, optionally after priming with (batch, P, V): the
        time axis steps once per frame (all keys at once), the note axis loops over the keys."""
        V = self.cfg.n_visible
        state, v, t = None, next(self.parameters()).new_zeros(batch, V), 0
        if prime is not None:  # read the prime; v becomes its last frame
            f = self.features(shift_right(prime))               # (B, P, V, F)
            _, state = self.time_rnn(f.permute(0, 2, 1, 3).reshape(batch * V, prime.shape[1], -1))
            v, t = prime[:, -1], prime.shape[1]
        out = []
        for step in range(t, t + n_steps):
            f = self.features(v[:, None], step)[:, 0]           # (B, V, F)
            h, state = self.time_rnn(f.reshape(batch * V, 1, -1), state)
            _, v = self.note_loop(h.reshape(batch, V, -1), temperature=temperature)
            out.append(v)
        return torch.stack(out, 1)
