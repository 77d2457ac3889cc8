"""Generation with the thesis model: prime with real music, sample pitch-class frames with
the voices, decode them to the 88 keys (notebooks 08_training_and_samples, 11_play); and the
decoder alone, lifting given pitch classes to keys (notebook 07_octave_decoder).

Everything runs with incremental state, a batch of pieces at once. Models are loaded by
:mod:`musicgen_lib.checkpoints` (``load_thesis_model``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data.midi import N_KEYS
from .data.octave import compress
from .models.octave_decoder import OctaveDecoder
from .models.thesis import ThesisGenerator
from .models.thesis_step import DecoderStep, GeneratorStep, KeysAsFrames, SamplingLoop, compiled


@dataclass
class Sample:
    """Generated music: ``roll`` (B, T, 88) 0/1 and ``velocity`` (B, T, 88) 0..127 in the
    model's semantics; ``x`` (B, T, 12) the sampled pitch classes (for a generator over the
    88 keys, the keys: ``roll`` again); ``attention`` (B, T, L)."""

    roll: np.ndarray
    velocity: np.ndarray
    x: np.ndarray
    attention: np.ndarray
    semantics: str
    #: per step, each voice's decision (B, T, V): 0..11 play class c, 12..23 ban class c-12
    decisions: np.ndarray = None
    #: per step, each voice's distribution over the 24 decisions (B, T, V, 24)
    decision_probs: np.ndarray = None


def generate(generator: ThesisGenerator, decoder: OctaveDecoder | None, prime, steps: int = 256,
             temperature: float = 1.0, seed: int = 0, start=None, progress: bool = False,
             gibbs_steps: int | None = None, script: bool = True) -> Sample:
    """Continue ``prime`` (B, n, 88) by ``steps`` new frames.

    ``temperature`` divides the voices' logits; ``gibbs_steps`` is the decoder's number of
    Gibbs sweeps per frame (default: its config's; one sweep from the previous frame, as in
    the thesis, leaves the chain near its start — more sweeps sample the trained RBM more
    faithfully; notebook 10 chooses the number on validation pieces).

    The generator reads the prime as in training (its history buffer gets the prime's frames,
    its LSTMs run over them); the decoder's LSTMs read the prime too, and its Gibbs chain
    starts from the previous decoded frame. The steps run compiled by TorchScript
    (models/thesis_step.py; ``script=False``: the same code eagerly, the same samples,
    slower). A generator over the 88 keys themselves (``n_classes`` 88, the §6.2 ablation)
    takes ``decoder=None``: its frames are the keys, with velocity 0 (the default velocity,
    as from a decoder without a velocity head). Runs on one thread: the per-step work is
    tiny, and a second thread only waits (on a busy 2-core machine it made sampling 27x
    slower).

    Notebook: 05_attention, 06_voice_sampler, 08_training_and_samples, 09_harmony_analysis.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return _generate(generator, decoder, prime, steps, temperature, seed, start, progress,
                             gibbs_steps, script)
    finally:
        torch.set_num_threads(threads)


def _generate(generator, decoder, prime, steps, temperature, seed, start, progress,
              gibbs_steps, script) -> Sample:
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    rng = torch.Generator().manual_seed(seed)
    y_prime = torch.as_tensor(np.asarray(prime), dtype=torch.float32)
    if y_prime.ndim == 2:
        y_prime = y_prime[None]
    B, n, _ = y_prime.shape
    N = generator.cfg.n_classes
    if (decoder is None) != (N == N_KEYS):
        raise ValueError(f"a generator over {N} classes needs an octave decoder" if decoder is None
                         else f"a generator over the {N} keys takes no octave decoder")
    if decoder is None:  # the frames are the keys
        x_prime, loop, dstate = y_prime, SamplingLoop(GeneratorStep(generator), KeysAsFrames()), {}
    else:
        x_prime = compress(y_prime)
        loop = SamplingLoop(GeneratorStep(generator), DecoderStep(decoder, gibbs_steps))
    if script:
        loop = compiled(loop)
    state = loop.generator.init_state(x_prime.new_zeros(B, generator.history_size, N), start)
    state = loop.generator.prime(state, x_prime, rng)
    if decoder is not None:
        dstate = decoder.prime(y_prime)
    # in chunks for the progress bar; one chunk's outputs are stacked over its steps
    chunk = 16 if progress else steps
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="sampling", unit="step")
    parts, y_prev, done = [], y_prime[:, -1], 0
    while done < steps:
        k = min(chunk, steps - done)
        *out, state, dstate = loop(state, dstate, y_prev, k, float(temperature), rng)
        parts.append(out)
        y_prev, done = out[0][:, -1], done + k
        if bar is not None:
            bar.update(k)
    if bar is not None:
        bar.close()
    rolls, vels, xs, atts, decs, qs = (torch.cat([p[i] for p in parts], 2 if i >= 4 else 1)
                                       for i in range(6))
    # decisions come in the model's class order; report them in ours (0 = C)
    second = generator.to_model + N if generator.sampler.alphabet == "play-ban" else torch.tensor([N])
    to_ours = torch.cat([generator.to_model, second])  # model index -> ours (N: ban 0 / pause)
    order = torch.argsort(to_ours)  # ours[k] = model[order[k]]
    # reordered once at the end: per step, these small gathers cost as much as a voice
    decisions = to_ours[decs].permute(1, 2, 0).numpy()  # (B, T, V)
    probs = qs[..., order].permute(1, 2, 0, 3).numpy()  # (B, T, V, 24)
    return Sample(rolls.numpy().astype(np.uint8), np.rint(vels.numpy()).astype(np.uint8),
                  xs.numpy().astype(np.uint8), atts.numpy(), generator.cfg.semantics,
                  decisions, probs)


@torch.no_grad()
def decode(decoder: OctaveDecoder, x, first, seed: int = 0, gibbs_steps: int | None = None):
    """The decoder alone, free-running: lift given pitch classes x (B, T, 12), our order, to
    keys (B, T, 88), frame by frame, each from the classes and the frame it decoded before
    (``first`` (B, 88): the frame before the first). The same step as in :func:`generate`
    (eagerly, not compiled: the same numbers); its random numbers from ``seed``.

    Notebook: 07_octave_decoder."""
    rng = torch.Generator().manual_seed(seed)
    step, state = DecoderStep(decoder, gibbs_steps), decoder.init_state()
    prev, out = first, []
    for t in range(x.shape[1]):
        prev, _ = step.step(x[:, t], prev, state, rng)
        out.append(prev)
    return torch.stack(out, 1)
