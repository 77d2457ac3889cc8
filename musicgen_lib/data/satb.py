"""The JSB chorales with their voices labelled: soprano, alto, tenor, bass (``jsb-satb``).

Explained in notebooks/04b_voices.ipynb (the DeepBach-style model of thesis §5.2).

``Jsb16thSeparated.json`` (github.com/czhuang/JSB-Chorales-dataset, the data home's ``jsb``
folder) holds Boulanger-Lewandowski et al.'s split (train / valid / test: 229 / 76 / 77
chorales), each chorale a list of 16th-note steps, each step ``[S, A, T, B]`` MIDI pitches with
-1 for a silent voice. A held note and a repeated note look the same in it (one pitch per step,
no onsets).

Tokens: voice v's vocabulary is ``0`` = rest and ``1 .. n_v`` = the pitches ``lowest[v] ..
highest[v]``, the range that voice takes in the training split. A piece becomes a ``(T, 4)``
uint8 array of tokens, which the training engine batches like a roll (its last axis is not
88 keys here but 4 voices).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .midi import LOWEST_KEY, N_KEYS

FILE = "Jsb16thSeparated.json"
VOICES = ("soprano", "alto", "tenor", "bass")
REST = -1  # a silent voice, in pitches
SPLITS = ("train", "valid", "test")


@dataclass
class SatbPiece:
    """One chorale: ``satb`` ``(T, 4)`` MIDI pitches (-1: silent) and ``roll`` ``(T, 4)`` uint8
    tokens (what training reads, via ``.roll``)."""

    name: str
    satb: np.ndarray
    roll: np.ndarray

    def __len__(self) -> int:
        return len(self.satb)


class SatbDataset:
    """Chorales by split, with the per-voice ranges of the training split (``lowest``,
    ``highest``: 4 MIDI pitches each) that define the tokens; the interface of
    :class:`~musicgen_lib.data.datasets.Dataset` (``pieces(split)``, ``stats()``).

    Notebook: 04b_voices."""
    name, skipped, steps_per_beat, semantics = "jsb-satb", (), 4, "sounding"
    token_model = "deepbach"

    def __init__(self, splits: dict, lowest: list, highest: list):
        self.splits = splits
        self.lowest, self.highest = list(lowest), list(highest)

    def pieces(self, split: str | None = None) -> list:
        """The pieces of one split, or of all splits in order train, valid, test."""
        if split is None:
            return [p for s in SPLITS for p in self.splits[s]]
        if split not in self.splits:
            raise DataError(f"dataset jsb-satb has no split {split!r} (it has {', '.join(SPLITS)})")
        return self.splits[split]

    @property
    def model_options(self) -> dict:
        """The token ranges a model of these tokens needs (``musicgen train`` passes them)."""
        return {"lowest": self.lowest, "highest": self.highest}

    def stats(self) -> dict:
        out = {"dataset": self.name, "steps_per_beat": 4, "semantics": "sounding",
               "voices": list(VOICES), "lowest": self.lowest, "highest": self.highest,
               "splits": {}, "skipped": []}
        for s, ps in self.splits.items():
            out["splits"][s] = _split_stats(ps)
        return out


def _split_stats(pieces: list) -> dict:
    """The statistics of ``datasets.split_stats``, from the union of the voices."""
    from .octave import compress

    if not pieces:
        return {"pieces": 0, "steps": 0}
    a = np.concatenate([p.satb for p in pieces])
    roll, lengths = to_roll(a), [len(p) for p in pieces]
    return {"pieces": len(pieces), "steps": int(sum(lengths)),
            "mean_steps": round(float(np.mean(lengths)), 1),
            "lowest_pitch": int(a[a >= 0].min()), "highest_pitch": int(a.max()),
            "max_polyphony": int(roll.sum(axis=1).max()),
            "max_pitch_classes": int(compress(roll).sum(axis=1).max())}


def read_satb(path) -> dict:
    """``{split: [(T, 4) int64 arrays]}`` from the separated JSON (a file, or the folder that
    holds ``Jsb16thSeparated.json``); one-line :class:`DataError` for a missing or bad file.

    Notebook: 04b_voices."""
    path = Path(path)
    file = path / FILE if path.is_dir() else path
    if not file.exists():
        raise DataError(f"{file}: no such file (expected {FILE} of "
                        "github.com/czhuang/JSB-Chorales-dataset; `musicgen data fetch jsb`)")
    try:
        data = json.loads(file.read_text())
        out = {}
        for split in SPLITS:
            arrays = []
            for i, steps in enumerate(data[split]):
                a = np.asarray(steps, dtype=np.int64)
                if a.ndim != 2 or a.shape[1] != 4 or len(a) == 0:
                    raise ValueError(f"{split} chorale {i} is not a list of [S, A, T, B] steps")
                if ((a != REST) & ((a < LOWEST_KEY) | (a >= LOWEST_KEY + N_KEYS))).any():
                    raise ValueError(f"{split} chorale {i} has a pitch off the 88 keys")
                arrays.append(a)
            out[split] = arrays
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise DataError(f"{file}: not a separated JSB Chorales JSON file ({e})") from None
    return out


def voice_ranges(pieces: list) -> tuple[list, list]:
    """(lowest, highest) sounding pitch of each voice over ``pieces`` ((T, 4) pitch arrays)."""
    a = np.concatenate(pieces)
    lo = [int(a[a[:, v] != REST, v].min()) for v in range(4)]
    hi = [int(a[a[:, v] != REST, v].max()) for v in range(4)]
    return lo, hi


def to_tokens(satb, lowest, highest) -> np.ndarray:
    """(T, 4) pitches -> (T, 4) uint8 tokens (0 = rest, 1 + pitch - lowest[v]); a pitch outside
    its voice's range is a :class:`DataError`."""
    a = np.asarray(satb, dtype=np.int64)
    lo, hi = np.asarray(lowest), np.asarray(highest)
    bad = (a != REST) & ((a < lo) | (a > hi))
    if bad.any():
        t, v = np.argwhere(bad)[0]
        raise DataError(f"pitch {a[t, v]} of the {VOICES[v]} at step {t} is outside its range "
                        f"{lo[v]}..{hi[v]}")
    return np.where(a == REST, 0, a - lo + 1).astype(np.uint8)


def to_pitches(tokens, lowest) -> np.ndarray:
    """(..., 4) tokens -> (..., 4) int64 MIDI pitches, -1 for a rest (the inverse of
    :func:`to_tokens`).

    Notebook: 04b_voices, 10_discussion."""
    t = np.asarray(tokens, dtype=np.int64)
    return np.where(t == 0, REST, t - 1 + np.asarray(lowest))


def to_roll(satb) -> np.ndarray:
    """(T, 4) pitches -> (T, 88) uint8 sounding piano roll (the union of the voices: two voices
    on one key give one key), for the metrics and audio of 88-key rolls.

    Notebook: 04b_voices, 10_discussion."""
    a = np.asarray(satb, dtype=np.int64)
    roll = np.zeros((len(a), N_KEYS), np.uint8)
    t, v = np.nonzero(a != REST)
    roll[t, a[t, v] - LOWEST_KEY] = 1
    return roll


def load_satb(path=None) -> SatbDataset:
    """The ``jsb-satb`` dataset: the separated chorales as :class:`SatbPiece` s, tokens over
    the training split's ranges (``path`` left out: the data home's ``jsb`` folder).

    Notebook: 04b_voices."""
    if path is None:
        from .home import require

        path = require("jsb")
    raw = read_satb(path)
    lo, hi = voice_ranges(raw["train"])
    splits = {s: [SatbPiece(f"{s}/{i:03d}", a, to_tokens(a, lo, hi)) for i, a in enumerate(raw[s])]
              for s in SPLITS}
    return SatbDataset(splits, lo, hi)


__all__ = ["FILE", "VOICES", "SatbPiece", "SatbDataset", "read_satb", "voice_ranges",
           "to_tokens", "to_pitches", "to_roll", "load_satb"]
