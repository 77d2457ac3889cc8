"""Octave compression, the octave mask, the time counter and transposition
(notebook 01_representations; thesis §6.2, Fig. 11).

Pitch-class convention: **class 0 is C** — key ``k`` (MIDI pitch ``21 + k``) has class
``(21 + k) % 12``, the usual ``pitch % 12``. All 88 keys are folded (the author's
``compress()`` folded only the first 84 and counted from A: his class ``j`` is our class
``(j + 9) % 12``; :func:`to_author_order` converts).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .midi import LOWEST_KEY, N_KEYS

N_CLASSES = 12
#: Pitch class of each of the 88 keys, shape (88,).
KEY_CLASS = (np.arange(N_KEYS) + LOWEST_KEY) % N_CLASSES
#: (88, 12) one-hot matrix: FOLD[k, c] = 1 iff key k has pitch class c.
FOLD = np.eye(N_CLASSES, dtype=np.uint8)[KEY_CLASS]
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
#: Offset between the author's classes (0 = A) and ours (0 = C).
AUTHOR_OFFSET = 9


def compress(roll: np.ndarray) -> np.ndarray:
    """Fold a ``(..., 88)`` roll to ``(..., 12)`` pitch classes: class c is on iff any key of
    class c is on. Works on numpy arrays and torch tensors.

    Notebook: 01_representations, 04f_classifying_vae, 05_attention, 06_voice_sampler,
    07_octave_decoder, 08_training_and_samples, 10_discussion."""
    if hasattr(roll, "new_tensor"):  # torch
        fold = roll.new_tensor(FOLD)
        return (roll @ fold).clamp_(max=1)
    return np.minimum(np.asarray(roll, np.int32) @ FOLD, 1).astype(np.uint8)


def octave_mask(x12: np.ndarray) -> np.ndarray:
    """Expand ``(..., 12)`` pitch classes to the ``(..., 88)`` mask of keys allowed to sound.

    Notebook: 01_representations."""
    if hasattr(x12, "new_tensor"):
        return x12[..., KEY_CLASS.tolist()]
    return np.asarray(x12)[..., KEY_CLASS]


def to_author_order(x12: np.ndarray) -> np.ndarray:
    """Reorder ``(..., 12)`` classes from ours (0 = C) to the author's (0 = A)."""
    idx = (np.arange(N_CLASSES) + AUTHOR_OFFSET) % N_CLASSES
    return x12[..., idx.tolist()] if hasattr(x12, "new_tensor") else np.asarray(x12)[..., idx]


def from_author_order(x12: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_author_order`."""
    idx = (np.arange(N_CLASSES) - AUTHOR_OFFSET) % N_CLASSES
    return x12[..., idx.tolist()] if hasattr(x12, "new_tensor") else np.asarray(x12)[..., idx]


def time_bits(n_steps: int, start: int = 0, n_bits: int = 6) -> np.ndarray:
    """The binary time counter: row ``t`` holds ``(start + t) mod 2**n_bits`` as bits,
    least significant first, shape ``(n_steps, n_bits)`` float32. With 4 steps per beat
    the bits mark 1/16, 1/8, 1/4 notes, half bars, bars and pairs of bars.

    Notebook: 01_representations."""
    t = (start + np.arange(n_steps))[:, None]
    return ((t >> np.arange(n_bits)) & 1).astype(np.float32)


def transpose12(x12, k: int):
    """Transpose pitch classes by ``k`` semitones: a cyclic roll of the last axis.

    Notebook: 01_representations."""
    if hasattr(x12, "new_tensor"):
        import torch

        return torch.roll(x12, k, dims=-1)
    return np.roll(x12, k, axis=-1)


def transpose88(roll, k: int):
    """Transpose a ``(..., 88)`` roll by ``k`` semitones; keys shifted past either end
    of the keyboard are dropped (zeroed), not wrapped.

    Notebook: 01_representations."""
    out = roll.clone() if hasattr(roll, "new_tensor") else np.array(roll, copy=True)
    out[..., :] = 0
    if k > 0:
        out[..., k:] = roll[..., :-k]
    elif k < 0:
        out[..., :k] = roll[..., -k:]
    else:
        out[...] = roll
    return out


#: Key profiles music21 offers (``analysis.discrete`` class names), for Krumhansl–Schmuckler key
#: finding (analysis/keys.py) and the key labels of the classifying VAE (models/classifying_vae.py).
PROFILES = {"krumhansl": "KrumhanslSchmuckler", "aarden": "AardenEssen",
            "temperley": "TemperleyKostkaPayne", "bellman": "BellmanBudge",
            "simple": "SimpleWeights"}


def key_profiles(profile: str = "krumhansl") -> np.ndarray:
    """``(24, 12)`` key profiles from music21: row ``k`` weights the 12 pitch classes for
    key ``k`` (rows 0..11 major on C..B, 12..23 minor). Read once per profile."""
    return _key_profiles(profile)


@lru_cache(maxsize=None)
def _key_profiles(profile: str) -> np.ndarray:
    from music21.analysis import discrete

    analyser = getattr(discrete, PROFILES[profile])()
    out = np.zeros((24, 12))
    for base, mode in ((0, "major"), (12, "minor")):
        w = np.asarray(analyser.getWeights(mode), dtype=float)
        for tonic in range(12):
            out[base + tonic] = np.roll(w, tonic)  # weight of pc j is w[(j - tonic) % 12]
    out.setflags(write=False)
    return out
