"""The thesis model's two halves as models of the shared training engine and evaluation
(notebook 08_training_and_samples): ``thesis`` (main module + voice sampler, over pitch
classes) and ``thesis-decoder`` (the LSTM-RBM octave decoder).

``n_classes`` 88 is the §6.2 ablation (checkpoints/ablation-6.2): the same generator over
the 88 keys themselves, no octave compression and no decoder; :func:`frames` gives a
generator its frames either way.

The engine feeds padded windows of whole pieces, ``x`` (B, T, 88). The generator uses the
first ``history`` frames of each window as history only and learns to predict the rest
from their pitch classes; the decoder learns to lift every frame of the window from its
pitch classes and the previous frame. Trained separately, as in the thesis; a sampling
checkpoint is a folder with ``generator/`` and ``decoder/`` runs (see ``checkpoints.py``).

Names say the layer: the networks are ``ThesisGenerator`` (thesis.py, configured by
``ThesisConfig``) and ``OctaveDecoder`` (octave_decoder.py); here they are wrapped as models
of the engine, ``ThesisGeneratorModel`` (configured by ``ThesisGeneratorModelConfig``, the
JSON options of a run) and ``ThesisDecoderModel``; ``ThesisPair`` joins two trained ones
for evaluation over 88 keys.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch.nn import functional as F

from ..data.midi import N_KEYS
from ..data.octave import N_CLASSES, compress
from ..errors import ConfigError
from .base import SequenceModel, StepStats, stats_from_probs
from .octave_decoder import DecoderConfig, OctaveDecoder
from .thesis import ThesisConfig, ThesisGenerator
from .thesis_step import GeneratorStep
from .voice_sampler import VoiceSampler


def frames(x, n_classes: int = N_CLASSES):
    """The frames a generator over ``n_classes`` models, from 88-key rolls x (..., 88): the
    pitch classes (..., 12) (octave compression, thesis §6.2), or for 88 the keys themselves
    (the ablation)."""
    return x if n_classes == N_KEYS else compress(x)


@dataclass
class ThesisGeneratorModelConfig:
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
    history_kept: int = 0  # history frames the model is shown in training (0: all); 32 repeats
    #                        the author's fragment loop, which zeroed the older ones
    read_into: str = "aggregation"  # the layer the history read enters ("local", "none":
    #                                  the §6.3 ablations of notebook 05; ThesisConfig)
    fallback: float = 0.0  # share of frames drawn uniformly instead of by the voices
    #                        (ThesisConfig.fallback; not trained, so it may be set afterwards)
    loss: str = "surrogate"  # "surrogate": the thesis' BCE of approximate marginals; "path":
    #                        the voices' own probability of the true frames (VoiceSampler.
    #                        path_log_prob), which calibrates how often every voice bans
    particles: int = 1  # with loss "path": importance-weighted over this many decision paths
    self_condition: float = 0.0  # share of a window's past frames replaced, in training and
    #                        validation, by the model's own one-step draws (parallel scheduled
    #                        sampling): the model learns to predict the truth after its own
    #                        mistakes, against the drift of free-running samples (notebook 10)
    n_classes: int = 12  # 12: pitch classes (the thesis); 88: the keys themselves, no octave
    #                      compression (the §6.2 ablation; needs no decoder)

    def generator_config(self) -> ThesisConfig:
        """The network's configuration: every field the two dataclasses share (the lags
        parsed from their string), the network's defaults for the rest."""
        shared = {f.name for f in fields(ThesisConfig)} & {f.name for f in fields(self)}
        values = {name: getattr(self, name) for name in shared}
        values["lags"] = tuple(int(h) for h in self.lags.split(","))
        return ThesisConfig(**values)


class ThesisGeneratorModel(SequenceModel):
    """The generator over 12 pitch classes (or, with ``n_classes`` 88, over the keys).
    ``log_prob`` is the SMC estimate (thesis_nll); during training, validation uses the
    thesis' surrogate loss."""

    exact = False
    method = "SMC over voice decisions (12-dim frames; upper bound on NLL in expectation)"

    def __init__(self, cfg: ThesisGeneratorModelConfig = ThesisGeneratorModelConfig()):
        super().__init__()
        if cfg.loss not in ("surrogate", "path"):
            raise ConfigError(f"model option loss must be 'surrogate' or 'path', not {cfg.loss!r}")
        if cfg.loss == "path" and cfg.alphabet != "play-ban":
            raise ConfigError("model option loss 'path' needs the play-ban alphabet")
        if cfg.n_classes not in (N_CLASSES, N_KEYS):
            raise ConfigError(f"model option n_classes must be {N_CLASSES} or {N_KEYS}, "
                              f"not {cfg.n_classes!r}")
        self.cfg = cfg
        self.net = ThesisGenerator(cfg.generator_config())
        if cfg.n_classes == N_KEYS:
            self.method = ("SMC over voice decisions (88-key frames; upper bound on NLL in "
                           "expectation)")

    def frames(self, x):
        """This generator's frames of the rolls x (..., 88): :func:`frames`."""
        return frames(x, self.cfg.n_classes)

    def _split(self, x, mask):
        P, h = self.net.history_size, min(self.cfg.history, x.shape[1] - 1)
        hist = self.frames(x[:, :h])
        hist = F.pad(hist, (0, 0, max(0, P - h), 0))  # zeros before the window
        if self.cfg.history_kept:
            hist[:, :-self.cfg.history_kept] = 0
        return hist, self.frames(x[:, h:]), mask[:, h:]

    def training_loss(self, x, mask):
        hist, frag, m = self._split(x, mask)
        feats, _ = self.net.features(hist, self._self_conditioned(hist, frag))
        loss = self._loss(feats, frag[..., self.net.to_model], m)
        return loss, {"loss": float(loss.detach())}

    def _step_losses(self, feats, target):
        """Per-step training loss (B, T) and the steps it counts (B, T), by ``cfg.loss``."""
        if self.cfg.loss == "path":
            log_w, possible = self.net.sampler.path_log_prob(feats, target,
                                                             particles=self.cfg.particles)
            return -log_w, possible
        p, _ = self.net.sampler(feats, target)
        return VoiceSampler.step_loss(p, target), torch.ones_like(target[..., 0], dtype=torch.bool)

    def _loss(self, feats, target, mask):
        per_step, counted = self._step_losses(feats, target)
        m = (mask & counted).to(per_step.dtype)
        return (per_step * m).sum() / m.sum().clamp(min=1)

    @torch.no_grad()
    def _self_conditioned(self, hist, frames):
        """The frames (B, T, N) the model reads as its past: with ``self_condition`` = r > 0,
        each is replaced with probability r by the model's own draw for that step, made from
        the true past (the voices restarting at every position, as in :meth:`sampled_classes`;
        one extra forward pass without gradients: Duckworth et al. 2019's parallel scheduled
        sampling). The targets stay the true frames. Random numbers from torch's global
        generator, so a resumed run draws alike."""
        r = self.cfg.self_condition
        if r <= 0:
            return frames
        feats, _ = self.net.features(hist, frames)
        B, T, _ = feats.shape
        drawn = GeneratorStep(self.net).draw(feats.reshape(B * T, -1).float())
        drawn = drawn.reshape(B, T, -1).to(frames.dtype)
        use = torch.rand(B, T, 1, device=frames.device) < r
        return torch.where(use, drawn, frames)

    def log_prob(self, x, mask, validation: bool = False, particles: int = 16, **_):
        """(B, T) per-step log-probabilities of the frames (12 pitch classes, or 88 keys)
        from step 0 (zero history).
        ``validation=True``: minus the training loss (``cfg.loss``, on the past it trains on;
        cheap, for early stopping)."""
        frames = self.frames(x)
        hist = x.new_zeros(x.shape[0], self.net.history_size, frames.shape[-1])
        if validation:  # the training loss, on the past the model is trained to read
            feats, _ = self.net.features(hist, self._self_conditioned(hist, frames))
            per_step, counted = self._step_losses(feats, frames[..., self.net.to_model])
            m = mask & counted
            return -per_step * m, torch.zeros_like(mask, dtype=x.dtype)
        from .thesis_nll import log_likelihood

        lp, possible, var = log_likelihood(self.net, hist, frames, particles=particles)
        lp = lp.masked_fill(~possible, -math.inf)  # more classes (keys) than voices: p = 0
        return torch.where(mask, lp, torch.zeros_like(lp)), var * mask

    def sampled_classes(self, x, n_samples: int):
        """``n_samples`` draws (B, T, 12) of every step's pitch classes (keys, for 88), in our
        order, by the voices from the true past (zero history; the voices' states start
        afresh at every position, so this predictor is close to, not exactly, the model's)."""
        N = self.net.cfg.n_classes
        hist = x.new_zeros(x.shape[0], self.net.history_size, N)
        feats, _ = self.net.features(hist, self.frames(x))
        B, T, _ = feats.shape
        flat, step = feats.reshape(B * T, -1), GeneratorStep(self.net)
        for _ in range(n_samples):
            yield step.draw(flat).reshape(B, T, N)

    def frame_stats(self, x, mask, n_samples: int = 20) -> StepStats:
        """Expected TP/FP/FN of the predicted pitch classes (keys) given the true past."""
        probs = sum(self.sampled_classes(x, n_samples)) / n_samples
        return stats_from_probs(probs, self.frames(x), mask)


class ThesisDecoderModel(SequenceModel):
    """The decoder: p(y_t | pitch classes of y_t, y_<t), log Z_t of each step's masked RBM
    by AIS (``log_prob``). Early stopping uses cheap AIS, or with
    ``validation="reconstruction"`` the cross-entropy of one Gibbs sweep's key probabilities
    (a proxy, not a likelihood; the chorale checkpoint was selected on it)."""

    exact, uses_ais = False, True
    method = "AIS per step over the octave-masked RBM (88 keys given their pitch classes)"

    def __init__(self, cfg: DecoderConfig = DecoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.net = OctaveDecoder(cfg)

    def training_loss(self, x, mask):
        x12 = compress(x)
        m = mask[:, 1:]
        bv, bh = self.net.biases(x12[:, 1:], x[:, :-1])  # the LSTM: bf16 under autocast
        with torch.autocast(x.device.type, enabled=False):  # the RBM's energies in fp32
            bv, bh = bv.float(), bh.float()
            keys = self.net.mask(x12[:, 1:])
            y = x[:, 1:]
            with torch.no_grad():
                neg, _ = self.net.gibbs(y, bv, bh, keys, self.cfg.cd_steps)
            diff = self.net.free_energy(y, bv, bh) - self.net.free_energy(neg, bv, bh)
            loss = (diff * m).sum() / m.sum().clamp(min=1)
        return loss, {"loss": float(loss.detach())}

    def _inputs(self, x):
        """Teacher-forced decoder inputs for every frame: the frame's pitch classes and the
        previous frame (silence before the first)."""
        return compress(x), F.pad(x, (0, 0, 1, 0))[:, :-1]

    def log_prob(self, x, mask, validation: bool = False, ais_chains=None, ais_betas=None, **_):
        """(B, T) log p(y_t | pitch classes of y_t, y_<t) by AIS, and each estimate's
        variance; ``validation`` with ``validation="reconstruction"``: the proxy instead."""
        if validation and self.cfg.validation == "reconstruction":
            return self._reconstruction(x, mask)
        c = self.cfg
        chains = ais_chains or (c.valid_ais_chains if validation else c.ais_chains)
        betas = ais_betas or (c.valid_ais_betas if validation else c.ais_betas)
        x12, y_prev = self._inputs(x)
        lp, var = self.net.log_prob(x12, y_prev, x, chains, betas)
        return lp * mask, var * mask

    def _one_sweep(self, x):
        """Key probabilities of frames 1.. after the Gibbs sweeps of generation, started from
        the true previous frame, and the octave mask: (B, T-1, 88) each."""
        x12 = compress(x)
        bv, bh = self.net.biases(x12[:, 1:], x[:, :-1])
        keys = self.net.mask(x12[:, 1:])
        _, pv = self.net.gibbs(x[:, :-1] * keys, bv, bh, keys, self.cfg.gibbs_steps)
        return pv, keys

    def _reconstruction(self, x, mask):
        pv, keys = self._one_sweep(x)
        pv = pv.clamp(1e-6, 1 - 1e-6)
        y = x[:, 1:]
        ll = ((y * pv.log() + (1 - y) * (1 - pv).log()) * keys).sum(-1)
        return F.pad(ll, (1, 0)) * mask, torch.zeros_like(mask, dtype=x.dtype)

    def frame_stats(self, x, mask, n_samples: int = 1) -> StepStats:
        return stats_from_probs(self._one_sweep(x)[0], x[:, 1:], mask[:, 1:])


class ThesisPair(SequenceModel):
    """The whole proposed model over 88 keys, for the likelihood table (notebook 08):
    p(y_t | y_<t) = p(x_t | x_<t) p(y_t | x_t, y_<t) with x_t the pitch classes of y_t —
    the generator's 12-dim probability by SMC over the voices' decisions, the decoder's by
    AIS. Both halves are estimates: the SMC term is pessimistic in expectation, the AIS term
    optimistic; their per-step variances add. Not trainable here: the halves are trained
    separately (``thesis`` and ``thesis-decoder``). Load one from a folder holding
    ``generator/`` and ``decoder/`` runs with :func:`musicgen_lib.checkpoints.load_thesis_pair`."""

    exact, uses_ais = False, True
    method = "SMC (12-dim generator) + AIS (octave decoder)"
    accuracy_samples = 20

    def __init__(self, generator: ThesisGeneratorModel, decoder: ThesisDecoderModel):
        super().__init__()
        if generator.cfg.n_classes != N_CLASSES:  # the ablation's keys need no decoder
            raise ConfigError(f"a generator over {generator.cfg.n_classes} keys takes no "
                              "octave decoder: evaluate it alone")
        self.generator, self.decoder = generator, decoder
        self.cfg = decoder.cfg  # evaluate() reads the AIS settings from here

    def log_prob(self, x, mask, particles: int = 16, ais_chains=None, ais_betas=None, **_):
        lg, vg = self.generator.log_prob(x, mask, particles=particles)
        ld, vd = self.decoder.log_prob(x, mask, ais_chains=ais_chains, ais_betas=ais_betas)
        return lg + ld, vg + vd

    def frame_stats(self, x, mask, n_samples: int = 20) -> StepStats:
        """Expected TP/FP/FN over 88 keys: pitch classes drawn by the voices from the true
        past, then lifted to keys by the decoder from the true previous frame."""
        dec = self.decoder.net
        y_prev = self.decoder._inputs(x)[1]
        probs = torch.zeros_like(x)
        for x12 in self.generator.sampled_classes(x, n_samples):
            # the decoder's biases depend on the classes drawn, so rerun its LSTM on them
            bv, bh = dec.biases(x12, y_prev)
            keys = dec.mask(x12)
            y, _ = dec.gibbs(y_prev * keys, bv, bh, keys, dec.cfg.gibbs_steps)
            probs += y / n_samples
        return stats_from_probs(probs, x, mask)
