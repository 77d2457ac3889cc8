"""A hierarchical variational autoencoder of melodies (thesis §5.1, Fig. 4; MusicVAE, Roberts,
Engel & Eck 2017), small: four-bar melody segments on the 16th-note token grid of
data/melody.py, with a bar-level "conductor" over a note decoder.

Explained in notebooks/04d_melody_vae.ipynb.

A segment x = x_1 .. x_L (L = bars x steps_per_bar = 4 x 16 tokens) is

    z ~ N(0, I_d)                                                    (the prior)
    c_1 .. c_bars = Conductor(z)          an LSTM stepping once per bar, started from z
    x_t ~ p(x_t | x_{<t within the bar, and the bar's last token before it}, c_b)
                                          a note LSTM restarted from c_b at every bar

and the encoder q(z | x) = N(mu(x), diag sigma(x)^2) reads x with a bidirectional LSTM.
Restarting the note decoder at each bar is MusicVAE's remedy for "posterior collapse": the
decoder cannot carry the melody across bars by itself, so what spans bars must come through
the conductor, from z.

The likelihood of a segment is not in closed form; what we report is a **bound**:

    ELBO(x)   = E_q log p(x | z) - KL(q(z | x) || p(z))   <= log p(x)
    IWAE_k(x) = E log (1/k sum_j p(x, z_j) / q(z_j | x))    ELBO <= IWAE_k <= log p(x)

(Burda et al. 2016; the same bounds as the small VAE of notebook 02.) A piece longer than
one segment is cut into consecutive segments from its start, each encoded and decoded alone:
the model of a piece is that of independent segments, and its bound is the sum of theirs,
spread evenly over each segment's steps. Training minimises the negative ELBO with "free
nats": a segment's KL costs nothing below ``free_nats`` (Kingma et al. 2016), so that the
latent is used.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from ..data.melody import N_TOKENS, transpose_tokens
from .base import TokenModel
from .gaussian import (iwae_from_log_weights, kl_to_standard_normal, log_normal,
                       log_standard_normal)

START = N_TOKENS  # the decoder's input before a segment's first token


@dataclass
class MusicVAEConfig:
    """Sizes of a :class:`MusicVAE`.

    Notebook: 04d_melody_vae."""
    bars: int = 4              # bars per segment: the conductor's steps
    steps_per_bar: int = 16    # tokens per bar: 16th notes of a 4/4 bar
    n_latent: int = 32         # d
    n_embed: int = 32          # per token, in the encoder and the decoder
    n_encoder: int = 128       # per direction of the bidirectional encoder LSTM
    n_conductor: int = 128
    n_decoder: int = 128
    free_nats: float = 8.0     # a segment's KL below this is free in training (0: plain ELBO)
    dropout: float = 0.2       # on the decoder's outputs
    eval_samples: int = 64     # k of the IWAE bound that log_prob reports (1: the ELBO)
    valid_free_nats: bool = False  # validation scores the training objective (free nats
    #                                included) instead of the ELBO: a run whose code grows up to
    #                                its free nats is then not stopped early for it


def _lstm_state(h: torch.Tensor):
    """An LSTM's initial (h, c), each (1, N, H), from tanh of a linear map's output (N, 2H)."""
    h0, c0 = torch.tanh(h).chunk(2, -1)
    return h0[None].contiguous(), c0[None].contiguous()


def slerp(a: torch.Tensor, b: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latent vectors a and b (d,) at ``alphas`` (n,): (n, d).
    Under the Gaussian prior most mass lies near a sphere, so the path along it keeps the
    intermediate codes as typical as its ends (White 2016; MusicVAE uses it).

    Notebook: 04d_melody_vae."""
    omega = torch.arccos(torch.clamp(F.cosine_similarity(a, b, 0), -1.0, 1.0))
    if float(omega) < 1e-6:
        return a + alphas[:, None] * (b - a)
    return (torch.sin((1 - alphas) * omega)[:, None] * a
            + torch.sin(alphas * omega)[:, None] * b) / torch.sin(omega)


class MusicVAE(TokenModel):
    """Encoder, conductor and note decoder over melody segments; log_prob is an IWAE bound.

    Notebook: 04d_melody_vae.
    """
    reads_dataset = "chorale-melodies"
    step_unit = "step"
    exact = False
    method = "IWAE bound"

    def __init__(self, cfg: MusicVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.method = ("ELBO (1 sample)" if cfg.eval_samples == 1
                       else f"IWAE bound ({cfg.eval_samples} samples per segment)")
        E, d = cfg.n_embed, cfg.n_latent
        self.embed_enc = nn.Embedding(N_TOKENS, E)
        self.encoder = nn.LSTM(E, cfg.n_encoder, batch_first=True, bidirectional=True)
        self.to_latent = nn.Linear(2 * cfg.n_encoder, 2 * d)              # -> mu, log sigma
        self.to_conductor = nn.Linear(d, 2 * cfg.n_conductor)             # z -> (h0, c0)
        self.conductor = nn.LSTM(d, cfg.n_conductor, batch_first=True)
        self.to_decoder = nn.Linear(cfg.n_conductor, 2 * cfg.n_decoder)   # c_b -> (h0, c0)
        self.embed_dec = nn.Embedding(N_TOKENS + 1, E)                    # + START
        self.decoder = nn.LSTM(E + cfg.n_conductor, cfg.n_decoder, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.n_decoder, N_TOKENS)

    @property
    def segment_len(self) -> int:
        return self.cfg.bars * self.cfg.steps_per_bar

    # ------------------------------------------------------------ the three networks

    def encode(self, seg: torch.Tensor, seg_mask: torch.Tensor):
        """q(z | x): seg (N, L) tokens, seg_mask (N, L) True on real steps (a prefix) ->
        mu, log_sigma (N, d)."""
        lengths = seg_mask.sum(1).cpu()
        packed = pack_padded_sequence(self.embed_enc(seg), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, (h, _) = self.encoder(packed)                                 # h (2, N, H)
        mu, log_sigma = self.to_latent(torch.cat([h[0], h[1]], -1)).chunk(2, -1)
        return mu, log_sigma

    def conduct(self, z: torch.Tensor) -> torch.Tensor:
        """The conductor's one output per bar: z (N, d) -> (N, bars, C)."""
        steps = z[:, None].expand(-1, self.cfg.bars, -1).contiguous()   # z is also its input
        c, _ = self.conductor(steps, _lstm_state(self.to_conductor(z)))
        return c

    def decoder_logits(self, z: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of every token: z (N, d), seg (N, L) -> (N, L, V). The bars
        are decoded in parallel, (N * bars) sequences of steps_per_bar tokens, since each bar
        starts afresh from its conductor output."""
        N, S = len(z), self.cfg.steps_per_bar
        c = self.conduct(z).reshape(N * self.cfg.bars, -1)                 # (N*bars, C)
        prev = F.pad(seg, (1, 0), value=START)[:, :-1]                    # x_{t-1}, (N, L)
        e = self.embed_dec(prev).reshape(N * self.cfg.bars, S, -1)         # (N*bars, S, E)
        inp = torch.cat([e, c[:, None].expand(-1, S, -1)], -1)
        h, _ = self.decoder(inp, _lstm_state(self.to_decoder(c)))         # (N*bars, S, H)
        return self.out(self.drop(h)).reshape(N, -1, N_TOKENS)            # (N, L, V)

    def _recon_nll(self, z, seg, seg_mask):
        """-log p(x | z) per segment: (N,)."""
        logits = self.decoder_logits(z, seg)
        nll = F.cross_entropy(logits.transpose(1, 2), seg, reduction="none")  # (N, L)
        return (nll * seg_mask).sum(1)

    # ------------------------------------------------------------ pieces as segments

    def segments(self, x: torch.Tensor, mask: torch.Tensor):
        """Cut padded pieces (B, T, 1) into consecutive segments from their starts: tokens
        (N, L), their mask (N, L) and ``keep`` (B * ceil(T / L),) marking which of the
        piece-major slots hold a segment (N of them)."""
        L = self.segment_len
        tok = x[..., 0].long().masked_fill(~mask, 0)
        pad = -tok.shape[1] % L
        tok, m = F.pad(tok, (0, pad)), F.pad(mask, (0, pad))
        tok, m = tok.reshape(-1, L), m.reshape(-1, L)
        keep = m.any(1)
        return tok[keep], m[keep], keep

    def _spread(self, per_segment, seg_mask, keep, shape, first_only=False):
        """Per-segment values (N,) back onto the pieces' steps (B, T): spread evenly over a
        segment's real steps, or (``first_only``) put on its first step."""
        B, T = shape
        if first_only:
            vals = torch.zeros_like(seg_mask, dtype=per_segment.dtype)
            vals[:, 0] = per_segment
        else:
            vals = seg_mask * (per_segment / seg_mask.sum(1))[:, None]
        out = vals.new_zeros(len(keep), self.segment_len)
        out[keep] = vals
        return out.reshape(B, -1)[:, :T]

    # ------------------------------------------------------------ losses and bounds

    def training_loss(self, x, mask):
        """Negative ELBO per step with free nats, one z per segment drawn by
        reparameterisation; statistics: the plain negative ELBO per step and the mean KL
        per segment (nats)."""
        seg, seg_mask, _ = self.segments(x, mask)
        mu, log_sigma = self.encode(seg, seg_mask)
        z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        recon = self._recon_nll(z, seg, seg_mask)                                   # (N,)
        kl = kl_to_standard_normal(mu, log_sigma)  # (N,)
        steps = seg_mask.sum()
        loss = (recon.sum() + torch.clamp(kl, min=self.cfg.free_nats).sum()) / steps
        return loss, {"neg_elbo": ((recon.sum() + kl.sum()) / steps).item(),
                      "kl": kl.mean().item()}

    @torch.no_grad()
    def segment_bound(self, seg, seg_mask, k: int = 1, chunk: int = 4096, free_nats: float = 0.0):
        """log p(x) bounds of segments (N, L): the IWAE_k bound (N,) and the delta-method
        variance of that estimate (N,), which understates the spread when a few weights
        dominate; k = 1 gives the ELBO with its KL in closed form (variance: 0 reported, the
        one z drawn is its only noise), with the KL counted as at least ``free_nats`` if given
        (the training objective: no longer a bound)."""
        mu, log_sigma = self.encode(seg, seg_mask)
        if k == 1:
            z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
            kl = kl_to_standard_normal(mu, log_sigma)
            kl = torch.clamp(kl, min=free_nats)
            return -self._recon_nll(z, seg, seg_mask) - kl, torch.zeros_like(kl)
        N = len(seg)
        log_w = []
        per = max(1, chunk // N)  # samples per decoder call, to bound its memory
        for j in range(0, k, per):
            n = min(per, k - j)
            eps = torch.randn(n, *mu.shape, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(log_sigma) * eps                                     # (n, N, d)
            rec = self._recon_nll(z.reshape(n * N, -1), seg.repeat(n, 1),
                                  seg_mask.repeat(n, 1)).reshape(n, N)
            log_w.append(-rec + log_standard_normal(z) - log_normal(z, mu, log_sigma))
        return iwae_from_log_weights(torch.cat(log_w))                              # (k, N)

    @torch.no_grad()
    def log_prob(self, x, mask, validation: bool = False, **_):
        """(B, T): each segment's IWAE bound (``eval_samples`` samples; the ELBO when
        ``validation``) spread evenly over its steps, and (B, T) the variance of each
        segment's estimate on its first step (so that sums over steps are right)."""
        seg, seg_mask, keep = self.segments(x, mask)
        k = 1 if validation else self.cfg.eval_samples
        bound, var = self.segment_bound(seg, seg_mask, k,
                                        free_nats=self.cfg.free_nats * (validation and self.cfg.valid_free_nats))
        shape = mask.shape
        return (self._spread(bound, seg_mask, keep, shape),
                self._spread(var, seg_mask, keep, shape, first_only=True))

    # ------------------------------------------------------------ generation

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float = 1.0, generator=None) -> torch.Tensor:
        """Tokens (N, L) of the segments coded by z (N, d), one token at a time: sampled at
        ``temperature``, or the most likely token at each step if it is 0.

        Notebook: 04d_melody_vae."""
        self.eval()
        N, S = len(z), self.cfg.steps_per_bar
        c = self.conduct(z)                                                 # (N, bars, C)
        prev = torch.full((N,), START, dtype=torch.long, device=z.device)
        out = []
        for b in range(self.cfg.bars):
            state = _lstm_state(self.to_decoder(c[:, b]))   # the bar starts afresh from c_b
            for _ in range(S):
                inp = torch.cat([self.embed_dec(prev), c[:, b]], -1)[:, None]
                h, state = self.decoder(inp, state)
                logits = self.out(h[:, 0])
                if temperature == 0:
                    prev = logits.argmax(-1)
                else:
                    prev = torch.multinomial(F.softmax(logits / temperature, -1), 1,
                                             generator=generator)[:, 0]
                out.append(prev)
        return torch.stack(out, 1)

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime=None, temperature: float = 1.0,
                 generator=None) -> torch.Tensor:
        """(batch, n_steps) tokens: independent segments, each from a z drawn from the prior.

        Notebook: 04d_melody_vae."""
        if prime is not None:
            raise ValueError("the melody VAE generates whole segments from its prior: no prime")
        dev = self.out.weight.device
        n_seg = -(-n_steps // self.segment_len)
        z = torch.randn(batch * n_seg, self.cfg.n_latent, generator=generator).to(dev)
        tokens = self.decode(z, temperature, generator)                    # (batch*n_seg, L)
        return tokens.reshape(batch, -1)[:, :n_steps]

    @torch.no_grad()
    def interpolate(self, seg_a: torch.Tensor, seg_b: torch.Tensor, n: int = 7,
                    temperature: float = 0.0, generator=None) -> torch.Tensor:
        """Segments (n, L) decoded along the sphere between the codes (the posterior means) of
        two segments ``seg_a`` and ``seg_b`` (L,) tokens: the first and last decode the two
        melodies themselves, the others lie "between them" (thesis §5.1).

        Notebook: 04d_melody_vae."""
        self.eval()
        seg = torch.stack([seg_a, seg_b]).long().to(self.out.weight.device)
        mu, _ = self.encode(seg, torch.ones_like(seg, dtype=torch.bool))
        z = slerp(mu[0], mu[1], torch.linspace(0, 1, n, device=mu.device))
        return self.decode(z, temperature, generator)

    @staticmethod
    def to_notes(tokens):
        """The notes of generated tokens (T,), 16th-note steps at 480 ticks per beat."""
        from ..data.melody import tokens_to_notes

        return tokens_to_notes(tokens)

    transpose = staticmethod(transpose_tokens)  # augmentation: as the melody LSTM's
