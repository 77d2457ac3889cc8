"""The thesis model's generation step — main module, voices and octave decoder, one frame at
a time with incremental state, a batch of pieces at once — written once, in the subset of
Python that TorchScript compiles (notebooks 06_voice_sampler, 07_octave_decoder,
08_training_and_samples; used by :func:`musicgen_lib.sample.generate`).

Why TorchScript: at batch 1 a step is ~150 tiny tensor operations, and eager PyTorch spends
most of the step in the Python interpreter between them. ``torch.jit.script`` runs the same
ATen kernels in the same order without it, so the samples are bit-identical to eager
execution of this code (tests/test_thesis_model.py) while a step costs about half
(benchmarks/bench_thesis.py). ``torch.compile`` would generate new kernels — other rounding,
and the author's decoder amplifies rounding into other notes (notebook 07) — and on this CPU
its per-call overhead outweighed its fusion. TorchScript is deprecated upstream but shipped
by the pinned torch; :func:`compiled` falls back to running this code eagerly.

States are ``Dict[str, Tensor]``. The generator's: ``ring`` (B, 2P, 12), the last P frames
kept twice so that they are always one contiguous view (a step writes two frames instead of
shifting P); ``pos`` where that view starts; ``t`` (B,) the step counter; ``<lstm>_h``,
``<lstm>_c`` for ``local``, ``reader``, ``aggregation``; ``voice<v>_h``, ``voice<v>_c`` per
voice when the voices keep their state across time. The decoder's: ``h``, ``c`` and, with a
velocity head, ``vh``, ``vc`` (absent keys: zeros).
"""

import warnings
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .octave_decoder import OctaveDecoder
from .rbm import gibbs_chain
from .thesis import ThesisGenerator
from .voice_sampler import masked_decisions, pick


def _weights(lstm: nn.LSTM) -> List[Tensor]:
    """A one-layer nn.LSTM's [w_ih, w_hh, b_ih, b_hh], sharing its storage (no autograd)."""
    return [lstm.weight_ih_l0.detach(), lstm.weight_hh_l0.detach(), lstm.bias_ih_l0.detach(),
            lstm.bias_hh_l0.detach()]


class GeneratorStep(nn.Module):
    """One step of :class:`ThesisGenerator` (main module, then the voices), on its weights."""

    def __init__(self, generator: ThesisGenerator):
        super().__init__()
        c = generator.cfg
        self.n_voices, self.n_notes, self.voice_size = c.n_voices, c.n_classes, c.voice_size
        self.play_ban = c.alphabet == "play-ban"
        self.voice_time = c.voice_state == "time"  # each voice keeps its state across steps
        self.fallback = float(c.fallback)
        self.period, self.time_shift = 2 ** c.time_bits, int(c.time_of_input)
        self.P = generator.history_size
        self.read_into = c.read_into  # "aggregation", "local" or "none" (ThesisConfig)
        self.sizes = [c.local_size, c.reader_size, c.aggregation_size]
        self.local = _weights(generator.local_lstm)
        self.reader = _weights(generator.history_reader.read_lstm)
        self.aggregation = _weights(generator.aggregation_lstm)
        read = generator.history_reader.read_linear
        self.read_linear = [read.weight.detach(), read.bias.detach()]
        lstm, head = generator.sampler.lstm, generator.sampler.linear
        w_ih = lstm.weight_ih_l0.detach()
        # the features' share of the voices' input gates is the same for every voice: computed
        # once per step and passed to the fused cell as its (B, 4H) input bias
        self.voice_features = [w_ih[:, :c.aggregation_size], lstm.bias_ih_l0.detach()]
        self.voice_cell = [w_ih[:, c.aggregation_size:], lstm.weight_hh_l0.detach(),
                           lstm.bias_hh_l0.detach()]
        self.head = [head.weight.detach(), head.bias.detach()]
        self.time_codes = generator.time_codes  # (64, 6): the time input of every counter value
        self.lag_rows = generator.history_reader.lag_rows  # rows of the history read per lag
        self.to_model, self.from_model = generator.to_model, generator.from_model

    @torch.jit.export
    def init_state(self, history: Tensor, start: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """State after ``history`` (B, P', 12), our class order: the history is primed, the
        LSTMs start from zero (:meth:`prime` runs them over real frames)."""
        B, P = history.shape[0], self.P
        buf = history.float()[:, -P:].index_select(-1, self.to_model)
        if buf.shape[1] < P:
            buf = torch.cat([buf.new_zeros(B, P - buf.shape[1], buf.shape[2]), buf], 1)
        t = torch.zeros(B, dtype=torch.long, device=history.device)
        if start is not None:
            t = start.clone().long().to(history.device)
        state = {"ring": torch.cat([buf, buf], 1).contiguous(), "t": t,
                 "pos": torch.zeros((), dtype=torch.long)}
        for name, size in zip(["local", "reader", "aggregation"], self.sizes):
            zero = buf.new_zeros(B, size)
            state[name + "_h"] = zero
            state[name + "_c"] = zero
        if self.voice_time:
            self.zero_voices(state, buf.new_zeros(B, self.voice_size))
        return state

    def zero_voices(self, state: Dict[str, Tensor], zero: Tensor):
        for v in range(self.n_voices):
            state["voice" + str(v) + "_h"] = zero
            state["voice" + str(v) + "_c"] = zero

    def _lstm(self, x: Tensor, state: Dict[str, Tensor], name: str, w: List[Tensor]) -> Tensor:
        h, c = torch.lstm_cell(x, [state[name + "_h"], state[name + "_c"]], w[0], w[1], w[2], w[3])
        state[name + "_h"] = h
        state[name + "_c"] = c
        return h

    def main(self, state: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
        """The main module reads x_{t-1} and the history: features (B, 130), attention (B, L)."""
        pos = int(state["pos"].item())
        history = state["ring"][:, pos:pos + self.P]  # (B, P, 12), oldest first
        t = state["t"] - self.time_shift
        inp = torch.cat([history[:, -1], self.time_codes[t % self.period]], -1)  # (B, 18)
        if self.read_into == "none":  # no read, no attention: (B, 0) each
            read = weights = inp.new_zeros(inp.shape[0], 0)
        else:
            control = self._lstm(inp, state, "reader", self.reader)  # (B, 100)
            weights = torch.softmax(F.linear(control, self.read_linear[0], self.read_linear[1]), -1)
            past = history[:, self.lag_rows]  # (B, L, 12): x_{t - lags[k]}
            read = torch.bmm(weights[:, None], past.to(weights.dtype))[:, 0]  # (B, 12)
        local_in = torch.cat([inp, read], -1) if self.read_into == "local" else inp
        local = self._lstm(local_in, state, "local", self.local)  # (B, 100)
        agg_in = torch.cat([local, read], -1) if self.read_into == "aggregation" else local
        return self._lstm(agg_in, state, "aggregation", self.aggregation), weights

    def voices(self, features: Tensor, state: Dict[str, Tensor], u: Tensor,
               temperature: float = 1.0, target: Optional[Tensor] = None):
        """The voices decide one frame in turn. features (B, F); u (V, B) the uniforms that
        pick the decisions; with ``target`` (B, 12) the decided note's value is the truth
        (teacher forcing, as a real prime is read). Returns the frame (B, 12) in the model's
        class order, the voices' new states (h and c lists; the state is not changed), their
        distributions (V, B, 24) and decisions (V, B)."""
        B, N = features.shape[0], self.n_notes
        pb = features.new_zeros(B, 2 * N)  # [play (12), ban (12)]: the voices' other input
        ones = features.new_ones(B)
        base = F.linear(features, self.voice_features[0], self.voice_features[1])  # (B, 4H)
        h = features.new_zeros(B, self.voice_size)
        c = h
        hs: List[Tensor] = []
        cs: List[Tensor] = []
        qs: List[Tensor] = []
        choices: List[Tensor] = []
        for v in range(self.n_voices):
            if self.voice_time:
                h, c = state["voice" + str(v) + "_h"], state["voice" + str(v) + "_c"]
            h, c = torch.lstm_cell(pb, [h, c], self.voice_cell[0], self.voice_cell[1], base,
                                   self.voice_cell[2])  # else the state flows voice to voice
            hs.append(h)
            cs.append(c)
            q = masked_decisions(F.linear(h, self.head[0], self.head[1]), pb[:, :N], pb[:, N:],
                                 self.play_ban, temperature)  # (B, 24)
            idx = pick(q, u[v])  # (B,)
            if self.play_ban:  # column note (play) or note + 12 (ban)
                add = ones
                col = idx
                if target is not None:
                    note = idx % N
                    col = note + N * (target.gather(1, note[:, None])[:, 0] <= 0).long()
            else:  # note-pause: only a note that sounds is recorded
                col = idx.clamp(max=N - 1)
                sounds = idx < N
                if target is not None:
                    sounds = sounds & (target.gather(1, col[:, None])[:, 0] > 0)
                add = sounds.to(pb.dtype)
            pb.scatter_add_(1, col[:, None], add[:, None])
            qs.append(q)
            choices.append(idx)
        return pb[:, :N], hs, cs, torch.stack(qs), torch.stack(choices)

    def _keep(self, state: Dict[str, Tensor], hs: List[Tensor], cs: List[Tensor]):
        if self.voice_time:
            for v in range(self.n_voices):
                state["voice" + str(v) + "_h"] = hs[v]
                state["voice" + str(v) + "_c"] = cs[v]

    def push(self, state: Dict[str, Tensor], frame: Tensor):
        """Append a frame (B, 12), model order, to the history; count the step."""
        pos = int(state["pos"].item())
        ring = state["ring"]
        ring[:, pos] = frame  # over the oldest frame, in both copies
        ring[:, pos + self.P] = frame
        state["pos"] = torch.full((), (pos + 1) % self.P, dtype=torch.long)
        state["t"] = state["t"] + 1

    @torch.jit.export
    def prime(self, state: Dict[str, Tensor], frames: Tensor,
              rng: Optional[torch.Generator] = None) -> Dict[str, Tensor]:
        """Read real frames (B, n, 12), our order, as in training: each step predicts the next
        frame and the voices decide on it with the true values (thesis: one bar). Returns the
        state (compiled code works on a copy of the dict it is given)."""
        for i in range(frames.shape[1]):
            features, _ = self.main(state)
            target = frames[:, i].float().index_select(-1, self.to_model)
            u = torch.rand(self.n_voices, features.shape[0], generator=rng,
                           device=features.device)
            _, hs, cs, _, _ = self.voices(features, state, u, 1.0, target)
            self._keep(state, hs, cs)
            self.push(state, target)
        return state

    def step(self, state: Dict[str, Tensor], temperature: float = 1.0,
             rng: Optional[torch.Generator] = None):
        """Sample the next frame: x (B, 12) in our class order, the attention (B, L), the
        voices' distributions (V, B, 24) and decisions (V, B), in the model's order."""
        features, attention = self.main(state)
        B, device = features.shape[0], features.device
        # one draw for all voices: the same numbers as one draw per voice, in fewer calls
        u = torch.rand(self.n_voices, B, generator=rng, device=device)
        x, hs, cs, q, choices = self.voices(features, state, u, temperature, None)
        if self.fallback > 0:  # some rows' frames come from the uniform fallback
            use = torch.rand(B, generator=rng, device=device) < self.fallback
            if bool(use.any()):
                coin = torch.rand(B, self.n_notes, generator=rng, device=device)
                x = torch.where(use[:, None], (coin < 0.5).to(x.dtype), x)
                if self.voice_time:  # the voices did not play these rows' frames
                    for v in range(self.n_voices):
                        hs[v] = torch.where(use[:, None], state["voice" + str(v) + "_h"], hs[v])
                        cs[v] = torch.where(use[:, None], state["voice" + str(v) + "_c"], cs[v])
        self._keep(state, hs, cs)
        self.push(state, x)
        return x.index_select(-1, self.from_model), attention, q, choices

    @torch.jit.export
    def draw(self, features: Tensor) -> Tensor:
        """Each row's frame (N, 12), our order, drawn by the voices from ``features`` (N, F)
        with fresh states (torch's global random numbers)."""
        state: Dict[str, Tensor] = {}
        if self.voice_time:
            self.zero_voices(state, features.new_zeros(features.shape[0], self.voice_size))
        u = torch.rand(self.n_voices, features.shape[0], device=features.device)
        return self.voices(features, state, u)[0].index_select(-1, self.from_model)


class DecoderStep(nn.Module):
    """One step of :class:`OctaveDecoder`: the next frame's keys from its pitch classes and
    the previous frame, by ``sweeps`` Gibbs sweeps from the previous frame."""

    vel_lstm: List[Tensor]  # empty without a velocity head
    vel_linear: List[Tensor]

    def __init__(self, decoder: OctaveDecoder, sweeps: Optional[int] = None):
        super().__init__()
        c = decoder.cfg
        self.sweeps = int(sweeps or c.gibbs_steps)
        self.hidden = c.hidden_size
        self.keep_classes, self.velocity = c.keep_classes, c.velocity
        self.lstm = _weights(decoder.decoder_lstm)
        self.v_bias = [decoder.v_bias_linear.weight.detach(), decoder.v_bias_linear.bias.detach()]
        self.h_bias = [decoder.h_bias_linear.weight.detach(), decoder.h_bias_linear.bias.detach()]
        self.W = decoder.W.detach()
        self.vel_lstm = _weights(decoder.velocity_lstm) if c.velocity else []
        self.vel_linear = [decoder.velocity_linear.weight.detach(),
                                         decoder.velocity_linear.bias.detach()] if c.velocity else []
        self.to_model, self.key_class = decoder.to_model, decoder.key_class
        self.class_of_key, self.class_keys = decoder.class_of_key, decoder.class_keys

    def _cell(self, x: Tensor, state: Dict[str, Tensor], h: str, c: str, w: List[Tensor]) -> Tensor:
        if h not in state:  # not primed: start from zero
            zero = x.new_zeros(x.shape[0], self.hidden)
            state[h] = zero
            state[c] = zero
        out, cell = torch.lstm_cell(x, [state[h], state[c]], w[0], w[1], w[2], w[3])
        state[h] = out
        state[c] = cell
        return out

    def step(self, x_next: Tensor, y_prev: Tensor, state: Dict[str, Tensor],
             rng: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """x_next (B, 12) our order, y_prev (B, 88) -> y (B, 88), velocity (B, 88) in 0..127
        (zeros without a velocity head); updates ``state``."""
        inp = torch.cat([x_next.index_select(-1, self.to_model), y_prev], -1)
        out = self._cell(inp, state, "h", "c", self.lstm)
        bv = F.linear(out, self.v_bias[0], self.v_bias[1])
        bh = F.linear(out, self.h_bias[0], self.h_bias[1])
        mask = x_next.index_select(-1, self.key_class)  # the octave mask (B, 88)
        y, pv = gibbs_chain(y_prev * mask, self.W, bv, bh, self.sweeps, rng, mask)
        if self.keep_classes:  # a chosen class that got no key: take its likeliest key
            missing = x_next * (1 - (y @ self.class_of_key).clamp(max=1))  # (B, 12)
            if bool(missing.any()):
                score = F.pad(pv + 1e-6 * mask, [0, 1], value=-1.0)  # never a key outside the mask
                cand = self.class_keys.expand(y.shape[0], -1, -1)  # (B, 12, 8)
                choice = score.gather(1, cand.flatten(1)).view_as(cand).argmax(-1, keepdim=True)
                best = cand.gather(2, choice)[..., 0]  # (B, 12): each class's likeliest key
                y.scatter_(1, best, torch.maximum(y.gather(1, best), missing))
        velocity = torch.zeros_like(y)
        if self.velocity:
            vout = self._cell(inp, state, "vh", "vc", self.vel_lstm)
            velocity = torch.sigmoid(F.linear(vout, self.vel_linear[0], self.vel_linear[1])) * 127 * y
        return y, velocity


class SamplingLoop(nn.Module):
    """``steps`` steps of generator then decoder; outputs stacked over time: keys (B, T, 88),
    velocities (B, T, 88), pitch classes (B, T, 12), attention (B, T, L), the voices'
    decisions (V, B, T) and distributions (V, B, T, 24) in the model's order; then the
    generator's and the decoder's states after the last step (compiled code works on copies
    of the dicts it is given)."""

    def __init__(self, generator: GeneratorStep, decoder: nn.Module):
        super().__init__()
        self.generator, self.decoder = generator, decoder  # a DecoderStep or KeysAsFrames

    def forward(self, state: Dict[str, Tensor], dstate: Dict[str, Tensor], y_prev: Tensor,
                steps: int, temperature: float = 1.0, rng: Optional[torch.Generator] = None):
        rolls: List[Tensor] = []
        vels: List[Tensor] = []
        xs: List[Tensor] = []
        atts: List[Tensor] = []
        decs: List[Tensor] = []
        qs: List[Tensor] = []
        for _ in range(steps):
            x, attention, q, choices = self.generator.step(state, temperature, rng)
            y, velocity = self.decoder.step(x, y_prev, dstate, rng)
            rolls.append(y)
            vels.append(velocity)
            xs.append(x)
            atts.append(attention)
            decs.append(choices)
            qs.append(q)
            y_prev = y
        return (torch.stack(rolls, 1), torch.stack(vels, 1), torch.stack(xs, 1),
                torch.stack(atts, 1), torch.stack(decs, 2), torch.stack(qs, 2), state, dstate)


class KeysAsFrames(nn.Module):
    """The decoder's place in :class:`SamplingLoop` for a generator over the 88 keys
    themselves (``n_classes`` 88, the §6.2 ablation): the frame *is* the keys, velocity 0
    (each note then gets the default velocity, as from a decoder without a velocity head)."""

    def step(self, x_next: Tensor, y_prev: Tensor, state: Dict[str, Tensor],
             rng: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        return x_next, torch.zeros_like(x_next)


def compiled(module: nn.Module) -> nn.Module:
    """``module`` compiled by TorchScript, or itself (run eagerly: the same code, the same
    numbers, slower) where this torch cannot script it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module's docstring
            return torch.jit.script(module)
    except Exception as e:  # noqa: BLE001 - any failure to compile: run the same code eagerly
        warnings.warn(f"TorchScript could not compile {type(module).__name__} "
                      f"({type(e).__name__}); sampling runs eagerly, about 2x slower",
                      RuntimeWarning, stacklevel=2)
        return module
