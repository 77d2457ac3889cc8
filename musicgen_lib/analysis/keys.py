"""Keys and tonality of piano rolls: key profiles, the scales a key puts in force, the key
of every window, smoothed key paths, the key in force at each step, out-of-key ("wrong")
notes and key changes — the tonality half of the thesis' Fig. 17 analysis (the chords and
the whole report of one piece are in :mod:`musicgen_lib.analysis.harmony`, which
re-exports every public name of this module).

Notebook: 09_harmony_analysis.

Everything here is a pure function of a ``(T, 88)`` sounding roll (column ``k`` = MIDI
pitch ``21 + k``) or of a ``(T, 12)`` pitch-class roll.

Key finding is Krumhansl–Schmuckler as music21 does it (``analysis.discrete``): the
duration-weighted pitch-class distribution of a window is correlated (Pearson) with the
24 rotations of a major and a minor key profile, and the best correlation wins. The
profiles are read from music21; the correlations of *all* windows are one matrix
product here, so an hour of music takes milliseconds instead of music21's seconds per
hundred windows.

Keys are integers ``0..23``: ``tonic`` for major (0 = C major), ``12 + tonic`` for minor
(21 = A minor); ``-1`` is "no key" (an empty window).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..data.midi import LOWEST_KEY
from ..data.octave import FOLD, PROFILES, key_profiles  # the profiles are data: their home

NO_KEY = -1
#: Scale degrees (semitones above the tonic) of the 7-note scales a key can put in force.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural": (0, 2, 3, 5, 7, 8, 10),   # natural minor (aeolian)
    "harmonic": (0, 2, 3, 5, 7, 8, 11),  # harmonic minor (raised 7th)
    "melodic": (0, 2, 3, 5, 7, 9, 11),   # ascending melodic minor
}
MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


@dataclass(frozen=True)
class KeyConfig:
    """How keys are found.

    ``window``/``hop`` in steps (16 = one 4/4 bar at 4 steps per beat, the default: the
    thesis' "key per 4-beat window"). ``minor_scale`` picks the 7 notes a minor key puts in
    force (``natural``, ``harmonic`` or ``melodic``). ``change_penalty`` > 0 smooths the
    key path: the most likely sequence under "sum of correlations minus the penalty per key
    change" (Viterbi); 0 keeps each window's own best key (plain Krumhansl–Schmuckler).

    Notebook: 09_harmony_analysis.
    """

    window: int = 16
    hop: int = 16
    profile: str = "krumhansl"
    minor_scale: str = "natural"
    change_penalty: float = 0.0

    def __post_init__(self):
        if self.window < 1 or self.hop < 1:
            raise ValueError("window and hop must be positive")
        if self.minor_scale not in ("natural", "harmonic", "melodic"):
            raise ValueError(f"unknown minor scale {self.minor_scale!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown key profile {self.profile!r} (choose from {', '.join(PROFILES)})")


def key_name(k: int) -> str:
    """``0 -> 'C major'``, ``21 -> 'A minor'``, ``-1 -> '—'``.

    Notebook: 04d_melody_vae, 04f_classifying_vae, 09_harmony_analysis."""
    if k < 0:
        return "—"
    return f"{MAJOR_TONICS[k]} major" if k < 12 else f"{MINOR_TONICS[k - 12]} minor"


def key_short(k: int) -> str:
    """Compact name: ``'C'`` for C major, ``'a'`` for A minor (music21's convention).

    Notebook: 09_harmony_analysis."""
    if k < 0:
        return "—"
    return MAJOR_TONICS[k] if k < 12 else MINOR_TONICS[k - 12].lower()


def key_from_name(name: str) -> int:
    """Inverse of :func:`key_name` / :func:`key_short`: ``'C major'``, ``'a'``, ``'F# minor'``,
    ``'B- major'`` (music21 spelling) all work."""
    from music21 import pitch

    parts = name.strip().split()
    tonic = parts[0]
    mode = parts[1].lower() if len(parts) > 1 else ("minor" if tonic[0].islower() else "major")
    if mode not in ("major", "minor"):
        raise ValueError(f"unknown key {name!r}")
    pc = pitch.Pitch(tonic[0].upper() + tonic[1:].replace("b", "-")).pitchClass
    return pc + (12 if mode == "minor" else 0)


def music21_key(k: int):
    """The music21 ``key.Key`` for key ``k``."""
    from music21 import key

    tonic = (MAJOR_TONICS[k] if k < 12 else MINOR_TONICS[k - 12]).replace("b", "-")
    return key.Key(tonic if k < 12 else tonic.lower())


@lru_cache(maxsize=None)
def scale_pcs(k: int, minor_scale: str = "natural") -> tuple:
    """The 7 pitch classes key ``k`` puts in force (empty for ``NO_KEY``).

    Notebook: 09_harmony_analysis."""
    if k < 0:
        return ()
    steps = SCALES["major"] if k < 12 else SCALES[minor_scale]
    return tuple(sorted((k % 12 + s) % 12 for s in steps))


@lru_cache(maxsize=None)
def _scale_table(minor_scale: str) -> np.ndarray:
    """``(25, 12)`` bool: row ``k`` marks key ``k``'s scale; the last row (key -1) is empty."""
    t = np.zeros((25, 12), bool)
    for k in range(24):
        t[k, list(scale_pcs(k, minor_scale))] = True
    t.setflags(write=False)
    return t


def scale_mask(keys, minor_scale: str = "natural") -> np.ndarray:
    """``(..., 12)`` bool: the pitch classes in force under each key of ``keys`` (any shape;
    -1 gives an all-False row).

    Notebook: 04f_classifying_vae."""
    return _scale_table(minor_scale)[np.asarray(keys)]


def _pc_per_step(roll) -> np.ndarray:
    """``(T, 12)`` float: how many keys of each pitch class sound at each step."""
    roll = np.asarray(roll)
    if roll.shape[-1] == 12:
        return roll.astype(float)
    return roll.astype(np.float32) @ FOLD.astype(np.float32)


def window_starts(n_steps: int, window: int = 16, hop: int = 16) -> np.ndarray:
    """Start step of each window: ``0, hop, 2·hop, …`` while below ``n_steps`` (at least one);
    windows running past the end are cut short."""
    return np.arange(0, max(n_steps, 1), hop)


def window_pc_weights(roll, window: int = 16, hop: int = 16) -> np.ndarray:
    """``(W, 12)`` duration-weighted pitch-class distribution of every window (sounding
    key-steps per class; what music21 gets from a stream of the window's notes)."""
    pcs = _pc_per_step(roll)                                  # (T, 12)
    T = len(pcs)
    cum = np.zeros((T + 1, 12))
    np.cumsum(pcs, axis=0, out=cum[1:])
    starts = window_starts(T, window, hop)
    ends = np.minimum(starts + window, T)
    return cum[ends] - cum[starts]                            # (W, 12)


def key_scores(weights, profile: str = "krumhansl") -> np.ndarray:
    """``(W, 24)`` Pearson correlation of each window's distribution with each key's
    profile (music21's "correlation coefficient"); 0 where the distribution is flat or
    empty."""
    w = np.asarray(weights, dtype=float)
    prof = key_profiles(profile)
    wc = w - w.mean(axis=-1, keepdims=True)
    pc = prof - prof.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(wc, axis=-1, keepdims=True) * np.linalg.norm(pc, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (wc @ pc.T) / norm
    return np.where(norm > 0, r, 0.0)


def best_path(scores, penalty: float) -> np.ndarray:
    """Viterbi: the key sequence maximising ``Σ scores[w, k_w] − penalty·#changes``."""
    W, K = scores.shape
    back = np.zeros((W, K), np.int64)
    total = scores[0].copy()
    for w in range(1, W):
        stay = total
        jump = total.max() - penalty
        best_prev = int(total.argmax())
        move = jump > stay
        back[w] = np.where(move, best_prev, np.arange(K))
        total = np.where(move, jump, stay) + scores[w]
    path = np.zeros(W, np.int64)
    path[-1] = int(total.argmax())
    for w in range(W - 1, 0, -1):
        path[w - 1] = back[w, path[w]]
    return path


def window_keys(roll, config: KeyConfig = KeyConfig()) -> np.ndarray:
    """``(W,)`` the key of every window (``-1`` for a window where nothing sounds)."""
    weights = window_pc_weights(roll, config.window, config.hop)   # (W, 12)
    scores = key_scores(weights, config.profile)                    # (W, 24)
    empty = weights.sum(axis=1) == 0
    if config.change_penalty > 0 and len(scores):
        keys = best_path(scores, config.change_penalty)
    else:
        keys = scores.argmax(axis=1)
    return np.where(empty, NO_KEY, keys)


def global_key(roll, profile: str = "krumhansl") -> int:
    """The one key of a whole roll (Krumhansl–Schmuckler on its full distribution).

    Notebook: 04d_melody_vae."""
    w = _pc_per_step(roll).sum(axis=0, keepdims=True)
    if w.sum() == 0:
        return NO_KEY
    return int(key_scores(w, profile)[0].argmax())


def step_keys(keys, n_steps: int, window: int = 16, hop: int = 16) -> np.ndarray:
    """``(T,)`` the key in force at each step: that of the window centred nearest to it."""
    keys = np.asarray(keys)
    t = np.arange(n_steps)
    idx = np.clip((t - (window - hop) // 2) // hop, 0, len(keys) - 1)
    return keys[idx]


def out_of_key(roll, keys_at_step, minor_scale: str = "natural") -> np.ndarray:
    """``(T, 88)`` bool: the cells of ``roll`` (sounding or onset, 88 keys) whose pitch class
    is outside the scale in force at their step. Nothing is flagged where there is no key."""
    roll = np.asarray(roll).astype(bool)
    in_scale = scale_mask(keys_at_step, minor_scale)                # (T, 12)
    key_pc = (np.arange(roll.shape[1]) + LOWEST_KEY) % 12
    has_key = np.asarray(keys_at_step) >= 0
    return roll & ~in_scale[:, key_pc] & has_key[:, None]


def key_changes(keys) -> list:
    """``[(window, old_key, new_key), …]``: where the key changes, ignoring empty windows
    (a key resumed after silence is no change).

    Notebook: 09_harmony_analysis."""
    out, prev = [], NO_KEY
    for w, k in enumerate(np.asarray(keys).tolist()):
        if k < 0:
            continue
        if prev >= 0 and k != prev:
            out.append((w, prev, k))
        prev = k
    return out
