"""The thesis model's two halves as models of the shared training engine and evaluation
(notebook 08_training_and_samples): ``thesis`` (main module + voice sampler, over pitch
classes) and ``thesis-decoder`` (the LSTM-RBM octave decoder).

The engine feeds padded windows of whole pieces, ``x`` (B, T, 88). The generator uses the
first ``history`` frames of each window as history only and learns to predict the rest
from their pitch classes; the decoder learns to lift every frame of the window from its
pitch classes and the previous frame. Trained separately, as in the thesis; a sampling
checkpoint is a folder with ``generator/`` and ``decoder/`` runs (see ``sample.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..data.octave import compress
from .base import SequenceModel, StepStats, stats_from_probs
from .octave_decoder import DecoderConfig, OctaveDecoder
from .thesis import ThesisConfig, ThesisGenerator
from .voice_sampler import VoiceSampler


@dataclass
class ThesisModelConfig:
    """Sizes and behaviours of the generator (thesis defaults; see ThesisConfig)."""

    local_size: int = 100
    reader_size: int = 100
    aggregation_size: int = 130
    lags: str = "4,8,16,32,48,64,96,128"  # comma-separated, to keep the JSON config flat
    voice_size: int = 100
    n_voices: int = 5
    voice_state: str = "time"
    history: int = 128  # frames at the start of each training window used as history only
    semantics: str = "onset"
    alphabet: str = "play-ban"  # "note-pause": the collapsing variant of thesis §6.4

    def generator_config(self) -> ThesisConfig:
        return ThesisConfig(local_size=self.local_size, reader_size=self.reader_size,
                            aggregation_size=self.aggregation_size,
                            lags=tuple(int(h) for h in self.lags.split(",")),
                            voice_size=self.voice_size, n_voices=self.n_voices,
                            voice_state=self.voice_state, semantics=self.semantics,
                            alphabet=self.alphabet)


class ThesisModel(SequenceModel):
    """The generator over 12 pitch classes. ``log_prob`` is the SMC estimate
    (thesis_nll); during training, validation uses the thesis' surrogate loss."""

    method = "SMC over voice decisions (12-dim frames; upper bound on NLL in expectation)"

    def __init__(self, cfg: ThesisModelConfig = ThesisModelConfig()):
        super().__init__()
        self.cfg = cfg
        self.net = ThesisGenerator(cfg.generator_config())

    def _split(self, x, mask):
        P, h = self.net.history_size, min(self.cfg.history, x.shape[1] - 1)
        hist = compress(x[:, :h])
        hist = F.pad(hist, (0, 0, max(0, P - h), 0))  # zeros before the window
        return hist, compress(x[:, h:]), mask[:, h:]

    def training_loss(self, x, mask):
        hist, frag, m = self._split(x, mask)
        feats, _ = self.net.features(hist, frag)
        target = frag[..., self.net.to_model]
        p, _ = self.net.sampler(feats, target)
        loss = VoiceSampler.loss(p, target, m)
        return loss, {"loss": float(loss.detach())}

    def log_prob(self, x, mask, validation: bool = False, particles: int = 16, **_):
        """(B, T) per-step log-probabilities of the 12-dim frames from step 0 (zero history).
        ``validation=True``: minus the surrogate loss (cheap, for early stopping)."""
        hist = x.new_zeros(x.shape[0], self.net.history_size, 12)
        frames = compress(x)
        if validation:
            feats, _ = self.net.features(hist, frames)
            target = frames[..., self.net.to_model]
            p, _ = self.net.sampler(feats, target)
            return -VoiceSampler.step_loss(p, target) * mask, torch.zeros_like(mask, dtype=x.dtype)
        from .thesis_nll import log_likelihood

        lp, possible = log_likelihood(self.net, hist, frames, particles=particles)
        return lp * mask * possible, torch.zeros_like(lp)

    def frame_stats(self, x, mask, n_samples: int = 20) -> StepStats:
        """Expected TP/FP/FN of the predicted pitch classes given the true past."""
        hist = x.new_zeros(x.shape[0], self.net.history_size, 12)
        frames = compress(x)
        feats, _ = self.net.features(hist, frames)
        B, T, _ = frames.shape
        flat = feats.reshape(B * T, 1, -1)[:, 0]
        probs = torch.zeros(B * T, 12)
        for _ in range(n_samples):
            s, _, _ = self.net.sampler.step(flat, [None] * self.net.sampler.n_voices
                                            if self.net.sampler.state_across == "time" else None)
            probs += s[..., self.net.from_model] / n_samples
        return stats_from_probs(probs.reshape(B, T, 12), frames, mask)


class ThesisDecoderModel(SequenceModel):
    """The decoder. Its validation number is the cross-entropy of one Gibbs sweep's key
    probabilities against the true keys (a reconstruction proxy, not a likelihood)."""

    method = "reconstruction cross-entropy of one Gibbs sweep (proxy, not a likelihood)"

    def __init__(self, cfg: DecoderConfig = DecoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.net = OctaveDecoder(cfg)

    def training_loss(self, x, mask):
        x12 = compress(x)
        m = mask[:, 1:]
        bv, bh = self.net.biases(x12[:, 1:], x[:, :-1])
        keys = self.net.mask(x12[:, 1:])
        y = x[:, 1:]
        with torch.no_grad():
            neg, _ = self.net.gibbs(y, bv, bh, keys, self.cfg.cd_steps)
        diff = self.net.free_energy(y, bv, bh) - self.net.free_energy(neg, bv, bh)
        loss = (diff * m).sum() / m.sum().clamp(min=1)
        return loss, {"loss": float(loss.detach())}

    def log_prob(self, x, mask, **_):
        x12 = compress(x)
        bv, bh = self.net.biases(x12[:, 1:], x[:, :-1])
        keys = self.net.mask(x12[:, 1:])
        _, pv = self.net.gibbs(x[:, :-1] * keys, bv, bh, keys, self.cfg.gibbs_steps)
        pv = pv.clamp(1e-6, 1 - 1e-6)
        y = x[:, 1:]
        ll = ((y * pv.log() + (1 - y) * (1 - pv).log()) * keys).sum(-1)
        return F.pad(ll, (1, 0)) * mask, torch.zeros_like(mask, dtype=x.dtype)

    def frame_stats(self, x, mask, n_samples: int = 1) -> StepStats:
        x12 = compress(x)
        bv, bh = self.net.biases(x12[:, 1:], x[:, :-1])
        keys = self.net.mask(x12[:, 1:])
        _, pv = self.net.gibbs(x[:, :-1] * keys, bv, bh, keys, self.cfg.gibbs_steps)
        return stats_from_probs(pv, x[:, 1:], mask[:, 1:])
