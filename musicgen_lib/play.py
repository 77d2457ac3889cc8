"""Generation with any catalogued checkpoint: continue a prime with the thesis model (its
generator and octave decoder, with temperature) or a reviewed model (thesis §4–5: LSTM, RBM,
RNN-RBM, RNN-NADE, mixtures), and get the result as rolls and MIDI bytes (notebook 11_play;
the checkpoints that can generate: :func:`musicgen_lib.checkpoints.available_models`; the
widgets around this: :mod:`musicgen_lib.app`). Everything here is deterministic for a seed.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoints import find_model, load_model
from .data import onset_to_sounding, roll_to_midi, roll_to_notes
from .data.primes import Prime
from .errors import DataError
from .sample import generate as thesis_generate

#: Longest continuation :func:`generate` accepts, in steps.
MAX_STEPS = 4096


@dataclass
class PlayResult:
    """Prime + continuation. ``model_roll`` (T, 88) is in the model's semantics; ``roll``
    (T, 88) is what sounds (``onset_to_sounding`` of an onset roll), for display."""

    model: str
    prime_name: str
    seed: int
    temperature: float | None
    steps_per_beat: int
    semantics: str
    prime_steps: int
    model_roll: np.ndarray
    roll: np.ndarray
    velocity: np.ndarray | None
    midi: bytes
    bpm: float
    seconds: float = field(default=0.0, compare=False)  # time the generation took

    @property
    def steps(self) -> int:
        """Generated steps (after the prime)."""
        return len(self.model_roll) - self.prime_steps

    def notes(self):
        return roll_to_notes(self.model_roll, self.steps_per_beat, self.semantics, self.velocity)

    def checksum(self) -> str:
        """A short hash of the roll in the model's semantics (equal rolls, equal checksums)."""
        return hashlib.sha256(np.ascontiguousarray(self.model_roll, np.uint8).tobytes()) \
            .hexdigest()[:12]

    def summary(self) -> str:
        """Two short deterministic lines: model and settings; prime, steps, notes, checksum."""
        temp = "" if self.temperature is None else f", temperature {self.temperature:g}"
        return (f"{self.model} (seed {self.seed}{temp}), prime {self.prime_name}:\n"
                f"  {self.prime_steps} + {self.steps} steps at {self.steps_per_beat} per beat, "
                f"{len(self.notes())} notes, roll {self.checksum()}")


def _midi_bytes(roll, steps_per_beat, semantics, velocity, bpm) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.mid"
        roll_to_midi(roll, path, steps_per_beat, semantics, velocity=velocity, tempo_bpm=bpm)
        return path.read_bytes()


def generate(model, prime, steps: int = 128, temperature: float = 1.0, seed: int = 0, *,
             prime_name: str = "prime", reference=None, checkpoints=None) -> PlayResult:
    """Continue ``prime`` ((n, 88) 0/1 roll in the model's semantics and steps per beat, or
    a :class:`Prime`) by ``steps`` steps with ``model`` (a name from :func:`available_models`
    or a :class:`PlayModel`). ``temperature`` applies to the thesis models only (the
    reviewed ones have none). Deterministic for a seed; runs torch on one thread.

    Notebook: 11_play."""
    import torch

    m = find_model(model, reference, checkpoints)
    if isinstance(prime, Prime):
        prime_name, prime = prime.name, prime.roll
    prime = np.asarray(prime)
    if prime.ndim != 2 or prime.shape[1] != 88 or len(prime) < 1:
        raise DataError(f"{prime_name}: a prime must be a (steps, 88) roll, not shape "
                        f"{tuple(prime.shape)}")
    prime = (prime > 0).astype(np.uint8)
    steps = int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise DataError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")
    if m.has_temperature and not float(temperature) > 0:
        raise DataError(f"temperature must be positive, not {temperature}")
    nets = load_model(m)
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if m.kind == "thesis":
            s = thesis_generate(*nets, prime, steps=steps, temperature=float(temperature),
                                seed=int(seed))
            cont, cvel = s.roll[0], s.velocity[0]
            velocity = np.concatenate([np.where(prime > 0, 80, 0), cvel]).astype(np.uint8)
            temp = float(temperature)
        else:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                torch.manual_seed(int(seed))
                out = nets.generate(steps, batch=1,
                                    prime=torch.as_tensor(prime, dtype=torch.float32)[None])
            cont, velocity, temp = out[0].numpy().astype(np.uint8), None, None
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    full = np.concatenate([prime, cont]).astype(np.uint8)
    if m.semantics == "onset":
        shown = onset_to_sounding(full)
    else:
        shown = full
    return PlayResult(m.name, prime_name, int(seed), temp, m.steps_per_beat, m.semantics,
                      len(prime), full, shown, velocity,
                      _midi_bytes(full, m.steps_per_beat, m.semantics, velocity, m.bpm),
                      m.bpm, seconds)
