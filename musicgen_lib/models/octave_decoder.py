"""The octave decoder: an LSTM-RBM that lifts 12 pitch classes back to 88 keys
(notebook 07_octave_decoder; thesis §6.2, Fig. 11, 18).

At step t an LSTM reads ``[x_{t+1} (12), y_t (88)]`` — the next compressed frame and the
previous decoded one — and gives the biases of a small RBM (36 hidden units, ``W`` shared
over time) over ``y_{t+1}``. Keys whose pitch class is off in ``x_{t+1}`` are forced to 0
(the octave mask), in training and in sampling. Trained with CD-k on the free energy
(``thesis_seq.ThesisDecoderModel``). A second LSTM gives velocities (the author's decoder has
one; ours are trained without).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data.octave import KEY_CLASS
from .rbm import free_energy, gibbs_chain, log_partition_ais, meanfield_logits


@dataclass
class DecoderConfig:
    """Sizes (thesis defaults) and behaviours of the decoder; also the configuration of the
    engine model ``thesis-decoder``."""

    n_classes: int = 12
    n_keys: int = 88
    hidden_size: int = 100
    rbm_hidden: int = 36
    velocity: bool = False  # the velocity head (the author's decoder has one)
    cd_steps: int = 1  # CD-k in training
    gibbs_steps: int = 1  # Gibbs sweeps per generated frame (the thesis: 1)
    class_origin: int = 0  # 0: class 0 is C; 9: class 0 is A (the author's weights)
    keep_classes: bool = True  # a class the generator chose always gets at least one key
    semantics: str = "onset"  # piano-roll semantics of the frames
    validation: str = "ais"  # early stopping on: "ais" (the likelihood, cheap AIS) or
    #                          "reconstruction" (one Gibbs sweep's cross-entropy, a proxy)
    ais_chains: int = 50  # AIS effort for log Z_t in evaluation (notebook 03: enough on 88 keys)
    ais_betas: int = 500
    valid_ais_chains: int = 10  # ... and in validation (optimistic, but alike for every checkpoint)
    valid_ais_betas: int = 100


class OctaveDecoder(nn.Module):
    """Parameter names match the author's ``greats-decoder.pt``."""

    def __init__(self, config: DecoderConfig = DecoderConfig()):
        super().__init__()
        c = self.cfg = config
        self.W = nn.Parameter(0.01 * torch.randn(c.rbm_hidden, c.n_keys))
        self.decoder_lstm = nn.LSTM(c.n_classes + c.n_keys, c.hidden_size, batch_first=True)
        self.v_bias_linear = nn.Linear(c.hidden_size, c.n_keys)
        self.h_bias_linear = nn.Linear(c.hidden_size, c.rbm_hidden)
        if c.velocity:
            self.velocity_lstm = nn.LSTM(c.n_classes + c.n_keys, c.hidden_size, batch_first=True)
            self.velocity_linear = nn.Linear(c.hidden_size, c.n_keys)
        # Frames come in our class order (0 = C); the LSTM reads them in the model's.
        self.register_buffer("key_class", torch.as_tensor(KEY_CLASS), persistent=False)
        self.register_buffer("class_of_key", F.one_hot(self.key_class, c.n_classes).float(),
                             persistent=False)  # (88, 12): y @ class_of_key counts keys per class
        self.register_buffer("to_model", (torch.arange(c.n_classes) + c.class_origin)
                             % c.n_classes, persistent=False)
        # (12, 8): each class's keys in ascending order, padded with the index of a dummy
        # column (n_keys) that never wins an argmax
        per_class = [torch.nonzero(self.key_class == k).flatten() for k in range(c.n_classes)]
        width = max(len(k) for k in per_class)
        self.register_buffer("class_keys", torch.stack(
            [F.pad(k, (0, width - len(k)), value=c.n_keys) for k in per_class]), persistent=False)

    def mask(self, x):
        """Octave mask (..., 12) -> (..., 88): the keys whose pitch class is on."""
        return x[..., self.key_class]

    def _input(self, x_next, y_prev):
        return torch.cat([x_next[..., self.to_model], y_prev], -1)

    # ---- the RBM (the kernels of rbm.py, with this decoder's W and per-step biases)
    def free_energy(self, v, bv, bh):
        """F(v) = -v.bv - sum softplus(bh + W v), per row: (..., 88) -> (...)."""
        return free_energy(v, self.W, bv, bh)

    def gibbs(self, v, bv, bh, mask, steps: int, rng=None):
        """``steps`` Gibbs sweeps from ``v``; visible units outside ``mask`` stay 0. Returns
        the last sample and its probabilities."""
        return gibbs_chain(v, self.W, bv, bh, steps, rng, mask)

    def biases(self, x_next, y_prev):
        """The RBM's visible and hidden biases at every step, teacher-forced:
        (B, T, 12), (B, T, 88) -> bv (B, T, 88), bh (B, T, 36)."""
        out, _ = self.decoder_lstm(self._input(x_next, y_prev))  # (B, T, H)
        return self.v_bias_linear(out), self.h_bias_linear(out)

    def log_prob(self, x_next, y_prev, y, chains: int = 50, betas: int = 500, rng=None,
                 chunk: int = 512):
        """log p(y | x_next, y_prev) of every frame under the masked RBM, with log Z_t by AIS.

        (B, T, 12), (B, T, 88), (B, T, 88) -> log p (B, T), variance of each AIS estimate
        (B, T). Keys outside the octave mask get a visible bias of -30 (probability ~1e-13)
        instead of being removed, so one W serves every step; a frame with no pitch class
        has log Z = sum softplus(bh) exactly. The RBM's support also holds frames that give
        a chosen class no key, so p(y | x) is a lower bound on what the sampler (which then
        adds the likeliest key) assigns: the NLL is an upper bound, apart from AIS's own
        optimism (E log Z_hat <= log Z).
        """
        bv, bh = self.biases(x_next, y_prev)
        mask = self.mask(x_next) > 0
        bv = torch.where(mask, bv, torch.full_like(bv, -30.0))
        lz, var = bv.new_zeros(bv.shape[:-1]), bv.new_zeros(bv.shape[:-1])
        empty = ~mask.any(-1)
        lz[empty] = F.softplus(bh[empty]).sum(-1)
        b, c, m = bv[~empty], bh[~empty], mask[~empty]
        parts, vparts = [], []
        for bi, ci, mi in zip(b.split(chunk), c.split(chunk), m.split(chunk)):
            b0 = torch.where(mi, meanfield_logits(self.W, bi, ci), bi)
            z, v = log_partition_ais(self.W, bi, ci, chains, betas, b0=b0, rng=rng)
            parts.append(z), vparts.append(v)
        if parts:
            lz[~empty], var[~empty] = torch.cat(parts), torch.cat(vparts)
        lp = -self.free_energy(y * mask, bv, bh) - lz
        outside = (y * ~mask).sum(-1) > 0  # a key the mask forbids: impossible
        return lp.masked_fill(outside, -math.inf), var

    # ---- generation (the step itself: thesis_step.DecoderStep; a whole sequence:
    #      sample.decode)
    def init_state(self) -> dict:
        """The state of a decoder that has read nothing (its LSTMs start from zero)."""
        return {}

    @torch.no_grad()
    def prime(self, y, state=None) -> dict:
        """Run the LSTMs over real frames y (B, n, 88): step i reads [x_{i+1}, y_i].
        Returns the state for decoding frame n (the previous frame is y[:, -1])."""
        state = dict(state or {})
        x = (y @ self.class_of_key.to(y.dtype)).clamp(max=1)
        inp = self._input(x[:, 1:], y[:, :-1])
        if inp.shape[1] == 0:
            return state
        names = (("h", "c", self.decoder_lstm),) + ((("vh", "vc", self.velocity_lstm),)
                                                     if self.cfg.velocity else ())
        for h, c, lstm in names:  # the step keeps (h, c) of (B, H): drop the layer axis
            before = (state[h][None], state[c][None]) if h in state else None
            _, (hn, cn) = lstm(inp, before)
            state[h], state[c] = hn[0], cn[0]
        return state


def register_baseline(x_next, y_prev):
    """A decoder without learning, to measure the LSTM-RBM against: every pitch class that
    is on gets the one key of that class nearest to the mean pitch of the previous frame
    (middle C when it was silent). (B, T, 12), (B, T, 88) -> (B, T, 88).

    Notebook: 07_octave_decoder."""
    keys = torch.arange(y_prev.shape[-1], dtype=y_prev.dtype)
    n = y_prev.sum(-1, keepdim=True)
    centre = torch.where(n > 0, (y_prev * keys).sum(-1, keepdim=True) / n.clamp(min=1),
                         torch.full_like(n, 60 - 21))
    dist = (keys - centre).abs()  # (B, T, 88)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(KEY_CLASS), 12).to(y_prev.dtype)
    # per class, the nearest key: mask other classes' keys with +inf and take argmin
    d = dist[..., :, None] + (1 - onehot) * 1e9  # (B, T, 88, 12)
    best = d.argmin(-2)  # (B, T, 12) key index per class
    out = torch.zeros_like(y_prev)
    out.scatter_(-1, best, x_next.to(out.dtype))
    return out
