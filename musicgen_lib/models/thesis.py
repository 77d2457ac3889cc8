"""The proposed model of the thesis: main module with attention over the history, and the
voice-by-voice sampler, generating 12-dim pitch-class frames (notebooks 05_attention,
06_voice_sampler, 08_training_and_samples; thesis §6, Fig. 12–13).

Step t reads ``[x_{t-1} (12), time bits (6)]``:

* ``local_lstm``       LSTM(18 -> 100)                 local context
* ``history_reader``   LSTM(18 -> 100) + softmax(8)    reads sum_k w_k x_{t-lag_k}   (12)
* ``aggregation_lstm`` LSTM(100 + 12 -> 130)           the read enters the 2nd layer
* ``sampler``          5 voices, LSTM(130 + 24 -> 100) + Linear(100 -> 24)

``read_into`` (the §6.3 ablation of notebook 05): ``"aggregation"`` as above; ``"local"``
feeds the read to the first layer instead (``local_lstm`` LSTM(18 + 12 -> 100),
``aggregation_lstm`` LSTM(100 -> 130)); ``"none"`` reads nothing (no attention: the reader is
built, so that its lags still size the history, but never run).

With teacher forcing every LSTM runs as one full-sequence call; only the 5 voices loop.
Generation, one frame at a time with incremental state, is ``thesis_step.GeneratorStep``.
Parameter names equal the author's, so his ``greats-model.pt`` loads unchanged
(:func:`load_author_generator`), with ``ThesisConfig.faithful()``.

Faithful and corrected behaviour, side by side:

=============================  ==================================  ==============================
what                           the author's code (faithful)        this library (corrected)
=============================  ==================================  ==============================
history of a fragment          only the last 32 of 128 frames      all 128 (data/fragments.py)
pitch classes                  keys 0..83 folded, class 0 = A      all 88 keys, class 0 = C
time counter                   from the fragment's start           from the piece's start
decoder's previous frame       velocity/128 in training, 0/1 in    0/1 in both
                               sampling
decoder priming                frame t+1 fed as "previous"         frame t (OctaveDecoder.prime)
chosen class without a key     silently dropped                    gets its likeliest key
=============================  ==================================  ==============================

The author's weights are used faithfully where it matters for them (class order, time
counter, no class rescue); the data pipeline is always the corrected one — with his weights
the 32- and 128-frame histories give the same loss, because his attention ignores lags
above 32.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .history_reader import THESIS_LAGS, HistoryReader
from .voice_sampler import VoiceSampler


#: Where the history read can enter the main module (ThesisConfig.read_into).
READ_INTO = ("aggregation", "local", "none")


@dataclass
class ThesisConfig:
    """Sizes (thesis defaults) and the behaviours where the author's code and a corrected
    version differ."""

    n_classes: int = 12
    time_bits: int = 6
    local_size: int = 100
    reader_size: int = 100
    aggregation_size: int = 130
    lags: tuple = THESIS_LAGS
    voice_size: int = 100
    n_voices: int = 5
    voice_state: str = "time"  # "time": each voice keeps its state across steps (author)
    class_origin: int = 0  # pitch class of the model's class 0: 0 = C, 9 = A (author)
    time_msb_first: bool = False  # bit order of the time counter
    time_of_input: bool = False  # bits count the input frame t-1 instead of the target t
    time_from_piece: bool = True  # count from the piece's start, not the fragment's
    semantics: str = "onset"  # piano-roll semantics of the frames (the author's hold_mode)
    alphabet: str = "play-ban"  # the voices' decisions; "note-pause": the §6.4 ablation
    read_into: str = "aggregation"  # the layer the history read enters: "aggregation" (the
    #                                  thesis), "local" (the first) or "none" (no attention)
    fallback: float = 0.0  # probability that a frame is drawn uniformly from the 2**12 class
    #                        sets instead of by the voices (whose states then stand still):
    #                        not trained; it gives frames with more classes than voices a
    #                        nonzero probability, at a cost of -log(1 - fallback) on the others

    @classmethod
    def faithful(cls, **kw) -> "ThesisConfig":
        """The configuration of the author's code and published weights. The time counter's
        layout is not documented; with the published weights the teacher-forced loss on
        piano-midi.de is lowest with the bits most significant first, counting the input
        frame (2.511 vs 2.532–2.535 nats for the other three layouts, paired over 1400
        fragments; notebook 08)."""
        kw = {"class_origin": 9, "time_from_piece": False, "time_msb_first": True,
              "time_of_input": True, **kw}
        return cls(**kw)


class ThesisGenerator(nn.Module):
    """Main module + voice sampler over 12-dim frames (in our class order, 0 = C)."""

    def __init__(self, config: ThesisConfig = ThesisConfig()):
        super().__init__()
        c = self.cfg = config
        if c.read_into not in READ_INTO:
            raise ValueError(f"read_into must be one of {', '.join(READ_INTO)}, not {c.read_into!r}")
        inp = c.n_classes + c.time_bits
        into_local = c.n_classes if c.read_into == "local" else 0
        into_aggregation = c.n_classes if c.read_into == "aggregation" else 0
        self.local_lstm = nn.LSTM(inp + into_local, c.local_size, batch_first=True)
        self.history_reader = HistoryReader(inp, c.reader_size, c.lags)
        self.aggregation_lstm = nn.LSTM(c.local_size + into_aggregation, c.aggregation_size,
                                        batch_first=True)
        self.sampler = VoiceSampler(c.aggregation_size, c.voice_size, c.n_voices, c.n_classes,
                                    c.voice_state, c.alphabet)
        perm = (torch.arange(c.n_classes) + c.class_origin) % c.n_classes
        self.register_buffer("to_model", perm, persistent=False)  # ours[perm] -> model order
        self.register_buffer("from_model", torch.argsort(perm), persistent=False)
        self.register_buffer("time_codes", self.time_input(torch.arange(2 ** c.time_bits)),
                             persistent=False)  # (64, 6): the time input of every counter value

    @property
    def history_size(self) -> int:
        return self.history_reader.max_lag

    def time_input(self, steps, dtype=torch.float32):
        """Bits of ``steps`` (any shape of ints) mod 2**time_bits -> (..., time_bits)."""
        n = self.cfg.time_bits
        shifts = torch.arange(n, device=steps.device)
        if self.cfg.time_msb_first:
            shifts = shifts.flip(0)
        return ((steps[..., None] >> shifts) & 1).to(dtype)

    def inputs(self, prev, start=None):
        """The main module's input at every step of a fragment: the previous frame
        prev (B, T, 12), model order, beside the time counter's bits -> (B, T, 12 + time_bits).
        start: (B,) step of the fragment's first frame in its piece (None: 0).

        Notebook: 05_attention."""
        c = self.cfg
        B, T, _ = prev.shape
        t = torch.arange(T, device=prev.device) - int(c.time_of_input)
        if c.time_from_piece and start is not None:
            t = t[None] + start.to(prev.device)[:, None]
        t = t.expand(B, T) % (2 ** c.time_bits)
        return torch.cat([prev, self.time_input(t)], -1)

    def features(self, history, x, start=None):
        """Aggregation features for every step of a fragment, teacher-forced.

        history: (B, P, 12) frames before the fragment (P >= the largest lag; zeros before
        the piece's start); x: (B, T, 12) the fragment, our class order; start: (B,) step
        of x[:, 0] in its piece. Returns features (B, T, 130) and attention (B, T, L).
        """
        T, P = x.shape[1], self.history_size
        frames = torch.cat([history[:, -P:], x], 1).float()[..., self.to_model]  # (B, P+T, 12)
        inp = self.inputs(frames[:, P - 1:P - 1 + T], start)  # x_{t-1} and the time: (B, T, 18)
        into = self.cfg.read_into
        if into == "none":  # no read, no attention: (B, T, 0) each
            read = attention = inp.new_zeros(inp.shape[0], T, 0)
        else:
            read, attention, _ = self.history_reader(inp, frames)  # (B, T, 12), (B, T, L)
        local, _ = self.local_lstm(torch.cat([inp, read], -1) if into == "local" else inp)  # (B, T, 100)
        agg, _ = self.aggregation_lstm(torch.cat([local, read], -1) if into == "aggregation" else local)
        return agg, attention  # (B, T, 130), (B, T, L)

    def forward(self, history, x, start=None, rng=None, noise=None):
        """Teacher-forced loss: (B, P, 12), (B, T, 12) -> (loss, info). The loss is the
        thesis' BCE of the note probabilities, summed over 12 notes, mean over steps.
        ``noise`` (V, B, T) optionally fixes the voices' random choices."""
        feats, attention = self.features(history, x, start)
        target = x.float()[..., self.to_model]
        p, info = self.sampler(feats, target, rng, noise)
        info.update(attention=attention, p=p[..., self.from_model])
        return VoiceSampler.loss(p, target), info

    # Generation, one frame at a time with incremental state: thesis_step.GeneratorStep.


def load_author_generator(path) -> ThesisGenerator:
    """The author's ``greats-model.pt`` in a :class:`ThesisGenerator` (faithful mode)."""
    model = ThesisGenerator(ThesisConfig.faithful())
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
