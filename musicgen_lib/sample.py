"""Generation with the thesis model: prime with real music, sample pitch-class frames with
the voices, decode them to the 88 keys (notebooks 08_training_and_samples, 11_play).

Everything runs with incremental state, a batch of pieces at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.octave import compress
from .errors import CheckpointError
from .models.octave_decoder import OctaveDecoder, load_author_decoder
from .models.thesis import ThesisGenerator, load_author_generator
from .models.thesis_step import DecoderStep, GeneratorStep, SamplingLoop, compiled

AUTHOR_FILES = ("greats-model.pt", "greats-decoder.pt")


@dataclass
class Sample:
    """Generated music: ``roll`` (B, T, 88) 0/1 and ``velocity`` (B, T, 88) 0..127 in the
    model's semantics; ``x`` (B, T, 12) the sampled pitch classes; ``attention`` (B, T, L)."""

    roll: np.ndarray
    velocity: np.ndarray
    x: np.ndarray
    attention: np.ndarray
    semantics: str
    #: per step, each voice's decision (B, T, V): 0..11 play class c, 12..23 ban class c-12
    decisions: np.ndarray = None
    #: per step, each voice's distribution over the 24 decisions (B, T, V, 24)
    decision_probs: np.ndarray = None


def load_thesis_model(folder=None):
    """(generator, decoder) from a checkpoint folder: ours (training runs of the models
    ``thesis`` in ``generator/`` and ``thesis-decoder`` in ``decoder/``) or the author's
    (``greats-model.pt``, ``greats-decoder.pt``, loaded in faithful mode). Without a folder,
    the default model shipped with the package (:data:`~musicgen_lib.checkpoints.DEFAULT`)."""
    if folder is None:
        from .checkpoints import DEFAULT, find_checkpoint

        folder = find_checkpoint(DEFAULT)
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    try:
        if all((folder / f).exists() for f in AUTHOR_FILES):
            return (load_author_generator(folder / AUTHOR_FILES[0]),
                    load_author_decoder(folder / AUTHOR_FILES[1]))
        if not ((folder / "generator").is_dir() and (folder / "decoder").is_dir()):
            raise CheckpointError(f"{folder}: not a thesis-model checkpoint (no generator/ and "
                                  f"decoder/ runs, nor the author's {' and '.join(AUTHOR_FILES)})")
        from .train import load_trained

        gen, dec = load_trained(folder / "generator")[0].net, load_trained(folder / "decoder")[0].net
        if not isinstance(gen, ThesisGenerator) or not isinstance(dec, OctaveDecoder):
            raise CheckpointError(f"{folder}: generator/ and decoder/ must hold the models "
                                  "'thesis' and 'thesis-decoder'")
    except CheckpointError:
        raise
    except Exception as e:  # corrupt or mismatched files
        msg = " ".join(str(e).split())[:200]
        raise CheckpointError(f"{folder}: cannot load the checkpoint ({type(e).__name__}: {msg})") \
            from None
    return gen.eval(), dec.eval()


def run_steps_per_beat(config: dict) -> int:
    """The time grid (steps per beat) of a training run from its ``config.json`` dict: the
    ``steps_per_beat`` of its data, or the JSB ``resolution`` it was trained at (``quarter``:
    1); 4 where the run does not say (the thesis' grid)."""
    from .data.datasets import JSB_RESOLUTIONS

    data = config.get("data") if isinstance(config, dict) else None
    if not isinstance(data, dict):
        return 4
    if isinstance(data.get("steps_per_beat"), int) and data["steps_per_beat"] > 0:
        return data["steps_per_beat"]
    if data.get("dataset") == "jsb":
        return JSB_RESOLUTIONS.get(data.get("resolution", "quarter"), 1)
    return 4


def checkpoint_steps_per_beat(folder=None) -> int:
    """The time grid the generator of a thesis-model checkpoint (as for
    :func:`load_thesis_model`) steps on: its run's data (``generator/config.json``); the
    author's files step on the thesis' grid, 4 steps per beat."""
    if folder is None:
        from .checkpoints import DEFAULT, find_checkpoint

        folder = find_checkpoint(DEFAULT)
    config = Path(folder) / "generator" / "config.json"
    if not config.is_file():
        return 4
    from .models.registry import load_config

    return run_steps_per_beat(load_config(config))


def generate(generator: ThesisGenerator, decoder: OctaveDecoder, prime, steps: int = 256,
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
    slower). Runs on one thread: the per-step work is tiny, and a second thread only waits
    (on a busy 2-core machine it made sampling 27x slower).
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
    g = torch.Generator().manual_seed(seed)
    y_prime = torch.as_tensor(np.asarray(prime), dtype=torch.float32)
    if y_prime.ndim == 2:
        y_prime = y_prime[None]
    B, n, _ = y_prime.shape
    x_prime = compress(y_prime)
    loop = SamplingLoop(GeneratorStep(generator), DecoderStep(decoder, gibbs_steps))
    if script:
        loop = compiled(loop)
    state = loop.generator.init_state(x_prime.new_zeros(B, generator.history_size, 12), start)
    state = loop.generator.prime(state, x_prime, g)
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
        *out, state, dstate = loop(state, dstate, y_prev, k, float(temperature), g)
        parts.append(out)
        y_prev, done = out[0][:, -1], done + k
        if bar is not None:
            bar.update(k)
    if bar is not None:
        bar.close()
    rolls, vels, xs, atts, decs, qs = (torch.cat([p[i] for p in parts], 2 if i >= 4 else 1)
                                       for i in range(6))
    # decisions come in the model's class order; report them in ours (0 = C)
    second = generator.to_model + 12 if generator.sampler.alphabet == "play-ban" else torch.tensor([12])
    to_ours = torch.cat([generator.to_model, second])  # model index -> ours (12: ban 0 / pause)
    order = torch.argsort(to_ours)  # ours[k] = model[order[k]]
    # reordered once at the end: per step, these small gathers cost as much as a voice
    decisions = to_ours[decs].permute(1, 2, 0).numpy()  # (B, T, V)
    probs = qs[..., order].permute(1, 2, 0, 3).numpy()  # (B, T, V, 24)
    return Sample(rolls.numpy().astype(np.uint8), np.rint(vels.numpy()).astype(np.uint8),
                  xs.numpy().astype(np.uint8), atts.numpy(), generator.config.semantics,
                  decisions, probs)
