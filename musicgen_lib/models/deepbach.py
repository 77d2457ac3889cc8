"""A DeepBach-style model of labelled SATB voices (Hadjeres, Pachet & Nielsen 2017; thesis
§5.2): p(x_{t,v} | every other token), sampled by pseudo-Gibbs.

Explained in notebooks/04b_voices.ipynb.

x (B, T, 4) holds one token per voice and 16th-note step (data/satb.py: 0 = rest, 1.. =
pitches of that voice's range). The conditional of voice v at step t reads
* the past window: steps t-W .. t-1 of all four voices, an LSTM left to right;
* the future window: steps t+W .. t+1, another LSTM right to left;
* the present: the three other voices at t (v's own token replaced by a mask embedding),
  the beat (t mod 16: the step's place in a 4/4 bar, counted from the piece's first step) and
  v's one-hot;
merged by an MLP into a softmax over v's vocabulary. DeepBach trains one network per voice;
here one network is shared by the four voices (the present's voice one-hot, and a head per
voice), so that the two windows, which do not depend on v, are read once for all four.
Steps outside the piece are an "outside" token, so a padded batch gives every real step the
same conditionals as the piece alone.

log_prob gives, per step, the sum over the four voices of log p(x_{t,v} | x_{\\(t,v)}): a
pseudo-log-likelihood, NOT the log of a joint probability (the conditionals need not even be
those of any joint distribution), so it does not stand beside the exact NLLs of the other
models.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from .base import ClosedFormLogProb


@dataclass
class DeepBachConfig:
    """Token ranges and sizes. The default ranges are the textbook SATB ranges (S C4-A5,
    A G3-D5, T C3-A4, B E2-D4); ``musicgen train --dataset jsb-satb`` replaces them by the
    training split's."""
    lowest: list = field(default_factory=lambda: [60, 55, 48, 40])   # MIDI pitch of token 1
    highest: list = field(default_factory=lambda: [81, 74, 69, 62])
    window: int = 16          # W: steps of past and of future read (DeepBach: 16 16ths)
    n_embed: int = 16         # embedding size of a voice's token
    beat: int = 16            # the beat feature: one-hot of t mod beat (0: off)
    n_hidden: int = 96        # units of each window's LSTM
    n_mlp: int = 96           # units of the present's MLP and of the merging MLP
    dropout: float = 0.2      # on the merged features


class DeepBach(ClosedFormLogProb):
    """One shared network for p(x_{t,v} | all other tokens) of the four voices.

    Notebook: 04b_voices.
    """
    exact = False
    method = "pseudo-likelihood"
    tokens_per_step = 4
    has_frame_accuracy = False
    reads_dataset = "jsb-satb"
    loss_name = "pseudo_nll"  # the training loss: the pseudo-NLL per step (4 tokens); log_prob
    #                           gives per step the sum over the voices of log p(x_{t,v} | all
    #                           others), exact to compute but not a joint log-likelihood

    def __init__(self, cfg: DeepBachConfig):
        super().__init__()
        if (len(cfg.lowest) != 4 or len(cfg.highest) != 4
                or any(not isinstance(a, int) or not isinstance(b, int) or a > b
                       for a, b in zip(cfg.lowest, cfg.highest)) or cfg.window < 1):
            raise ConfigError("model options lowest and highest must be 4 MIDI pitches each, "
                              f"lowest <= highest, and window at least 1 (got {cfg.lowest}, "
                              f"{cfg.highest}, {cfg.window})")
        self.cfg = cfg
        self.sizes = [b - a + 2 for a, b in zip(cfg.lowest, cfg.highest)]  # rest + pitches
        K = self.K = max(self.sizes)
        self.OUT, self.MASK = K, K + 1                  # input-only tokens
        E, H, M, nb = cfg.n_embed, cfg.n_hidden, cfg.n_mlp, cfg.beat
        self.embed = nn.Embedding(4 * (K + 2), E)       # a table per voice, side by side
        self.register_buffer("offset", torch.arange(4) * (K + 2), persistent=False)
        valid = torch.arange(K)[None] < torch.tensor(self.sizes)[:, None]
        self.register_buffer("valid", valid, persistent=False)                  # (4, K)
        n_in = 4 * E + nb                                # one step: 4 tokens + beat
        self.past = nn.LSTM(n_in, H, batch_first=True)
        self.future = nn.LSTM(n_in, H, batch_first=True)
        self.now = nn.Sequential(nn.Linear(4 * E + nb + 4, M), nn.ReLU())
        self.merge = nn.Sequential(nn.Linear(2 * H + M, M), nn.ReLU(), nn.Dropout(cfg.dropout))
        self.head_w = nn.Parameter(torch.randn(4, M, K) / M ** 0.5)  # a head per voice
        self.head_b = nn.Parameter(torch.zeros(4, K))

    # ------------------------------------------------------------ the conditional

    def tokens(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 4) tokens as a batch holds them (float) -> long, padded steps 'outside'."""
        tok = x.long()
        return tok if mask is None else tok.masked_fill(~mask[..., None], self.OUT)

    def inputs(self, tok: torch.Tensor):
        """tok (B, T, 4) -> step features s (B, T+2W, 4E+nb) and embeddings e (B, T+2W, 4, E)
        of the piece with W 'outside' steps at either end (index t+W is step t)."""
        W, nb = self.cfg.window, self.cfg.beat
        B, T, _ = tok.shape
        padded = F.pad(tok, (0, 0, W, W), value=self.OUT)              # (B, T+2W, 4)
        e = self.embed(padded + self.offset)                            # (B, T+2W, 4, E)
        feats = [e.flatten(2)]
        if nb:
            beat = F.one_hot(torch.arange(-W, T + W, device=tok.device) % nb, nb).to(e.dtype)
            feats.append(beat.expand(B, -1, -1))                        # (B, T+2W, nb)
        return torch.cat(feats, -1), e

    def logits_at(self, s, e, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Logits of all four voices' conditionals at the N steps (b, t): (N, 4, K), -inf
        outside each voice's vocabulary. s, e from :meth:`inputs`."""
        W, nb = self.cfg.window, self.cfg.beat
        r = torch.arange(W, device=t.device)
        past = s[b[:, None], t[:, None] + r]                            # (N, W, F) t-W .. t-1
        fut = s[b[:, None], t[:, None] + 2 * W - r]                     # (N, W, F) t+W .. t+1
        hp = self.past(past)[0][:, -1]                                  # (N, H)
        hf = self.future(fut)[0][:, -1]                                 # (N, H)
        now = e[b, t + W]                                               # (N, 4, E)
        masked = self.embed(self.offset + self.MASK)                    # (4, E)
        eye = torch.eye(4, dtype=torch.bool, device=t.device)[None, :, :, None]  # (1, v, u, 1)
        cur = torch.where(eye, masked, now[:, None])                    # (N, 4v, 4u, E)
        cur = [cur.flatten(2), torch.eye(4, device=t.device).expand(len(t), 4, 4)]
        if nb:
            cur.append(s[b, t + W, -nb:][:, None].expand(-1, 4, -1))    # (N, 4, nb)
        c = self.now(torch.cat(cur, -1))                                # (N, 4, M)
        h = torch.cat([hp[:, None].expand(-1, 4, -1), hf[:, None].expand(-1, 4, -1), c], -1)
        z = torch.einsum("nvm,vmk->nvk", self.merge(h), self.head_w) + self.head_b
        return z.masked_fill(~self.valid, float("-inf"))                # (N, 4, K)

    def logits(self, tok: torch.Tensor) -> torch.Tensor:
        """All conditionals of a batch at once (teacher forcing): (B, T, 4) -> (B, T, 4, K)."""
        B, T, _ = tok.shape
        s, e = self.inputs(tok)
        b = torch.arange(B, device=tok.device).repeat_interleave(T)
        t = torch.arange(T, device=tok.device).repeat(B)
        return self.logits_at(s, e, b, t).reshape(B, T, 4, self.K)

    def token_log_probs(self, tok: torch.Tensor) -> torch.Tensor:
        """(B, T, 4) log p(x_{t,v} | all other tokens) of every token (no 'outside' targets)."""
        lp = F.log_softmax(self.logits(tok), -1)
        target = tok.masked_fill(tok == self.OUT, 0)                   # padding: any valid one
        return lp.gather(-1, target[..., None])[..., 0]

    # ------------------------------------------------------------ the SequenceModel interface

    def _log_prob(self, x, mask):
        lp = self.token_log_probs(self.tokens(x, mask)).sum(-1)        # (B, T)
        return torch.where(mask, lp, torch.zeros_like(lp))

    def frame_stats(self, x, mask, n_samples=1):
        raise ConfigError("deepbach has no frame accuracy (its conditionals read the frame "
                          "itself); use --no-accuracy")

    # ------------------------------------------------------------ pseudo-Gibbs sampling

    def random_tokens(self, shape, generator=None) -> torch.Tensor:
        """Uniform random tokens (..., 4) over each voice's vocabulary (rest included)."""
        u = torch.rand(*shape, 4, generator=generator)
        return (u * torch.tensor(self.sizes)).long().clamp(max=torch.tensor(self.sizes) - 1)

    @torch.no_grad()
    def gibbs(self, tok, free, iterations: int, per_iter: int = 8, temperature=(1.0, 1.0),
              generator=None, trace_every: int = 0):
        """Pseudo-Gibbs: at each iteration, per chorale, resample ``per_iter`` distinct free
        positions (t, v), drawn uniformly, from the model's conditionals at temperatures going
        linearly from temperature[0] to temperature[1]. tok (B, T, 4) long (a copy is
        changed), free (B, T, 4) bool. Positions within each other's window are updated from
        the same state at once: for per_iter > 1 this is not exact Gibbs. Returns (tokens,
        trace): the per-step pseudo-NLL of each chorale's free steps (B,) every
        ``trace_every`` iterations (0: none), as a list of (iteration, tensor)."""
        self.eval()
        tok, B = tok.clone(), tok.shape[0]
        weights = free.flatten(1).float()                               # (B, T*4)
        k = min(per_iter, int(weights.sum(1).min()))
        b = torch.arange(B).repeat_interleave(k)
        steps = free.any(-1)
        trace = []
        for it in range(iterations):
            if trace_every and it % trace_every == 0:
                trace.append((it, self.pseudo_nll(tok, steps)))
            t0, t1 = temperature
            temp = t0 + (t1 - t0) * it / max(1, iterations - 1)
            pick = torch.multinomial(weights, k, generator=generator).flatten()  # (B*k,)
            t, v = pick // 4, pick % 4
            s, e = self.inputs(tok)
            z = self.logits_at(s, e, b, t)[torch.arange(len(t)), v] / temp      # (B*k, K)
            tok[b, t, v] = torch.multinomial(F.softmax(z, -1), 1, generator=generator)[:, 0]
        if trace_every:
            trace.append((iterations, self.pseudo_nll(tok, steps)))
        return tok, trace

    @torch.no_grad()
    def pseudo_nll(self, tok, steps):
        """(B,) pseudo-NLL per step of tokens (B, T, 4) over the steps marked in ``steps`` (B, T)."""
        lp = self.token_log_probs(tok).sum(-1)
        return -(lp * steps).sum(1) / steps.sum(1)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None,
                 temperature=1.0, iterations: int | None = None, per_iter: int = 8,
                 generator=None) -> torch.Tensor:
        """(batch, n_steps, 4) long tokens continuing ``prime`` (batch, P, 4) tokens, which
        stays fixed: the new steps start uniformly random and are resampled by
        :meth:`gibbs` (default: 10 sweeps, i.e. 40 n_steps / per_iter iterations).
        ``temperature``: one value, or a (first, last) pair that :meth:`gibbs` goes through
        linearly.

        Notebook: 10_discussion."""
        P = 0 if prime is None else prime.shape[1]
        new = self.random_tokens((batch, n_steps), generator)
        tok = new if prime is None else torch.cat([prime.long(), new], 1)
        free = torch.zeros_like(tok, dtype=torch.bool)
        free[:, P:] = True
        iterations = iterations if iterations is not None else 40 * n_steps // per_iter
        schedule = tuple(temperature) if isinstance(temperature, (tuple, list)) else (temperature,) * 2
        out, _ = self.gibbs(tok, free, iterations, per_iter, schedule, generator)
        return out[:, P:]
