"""Datasets of token sequences instead of piano rolls: the event and note representations of
the review (thesis §5.7 Performance RNN events, ``piano-events``; §5.8 BachProp note triples,
``chorale-triples``; §5.1 melody tokens, ``chorale-melodies``).

Explained in notebooks/04c_events_and_notes.ipynb and 04a_melody.ipynb.

A piece's ``roll`` is a ``(N, C)`` integer array, one row per token (an event: ``C = 1``; a
note triple: ``C = 3``), so that the training engine batches, pads and crops it as it does a
roll (``data.batches``): row ``n`` is the ``n``-th token, not a time step. Splits are those of
the source's pieces (:func:`~musicgen_lib.data.datasets.split_of`), so ``piano-events`` holds
exactly the pieces of ``piano-midi-de`` in the same splits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from .corpus import SPLITS


@dataclass
class TokenPiece:
    """One piece as tokens: ``roll`` ``(N, C)`` int16, what training reads."""

    name: str
    roll: np.ndarray

    def __len__(self) -> int:
        return len(self.roll)


@dataclass
class TokenDataset:
    """Token pieces by split, with the interface of
    :class:`~musicgen_lib.data.datasets.Dataset` (``pieces(split)``, ``stats()``,
    ``skipped``). ``token_model`` names the one model that reads these tokens, and
    ``unit`` what one token is (``event``, ``note``, ``step``).

    Notebook: 04c_events_and_notes."""

    name: str
    splits: dict
    token_model: str
    unit: str
    skipped: list = field(default_factory=list)
    steps_per_beat: int = 0
    semantics: str = "sounding"

    def pieces(self, split: str | None = None) -> list:
        """The pieces of one split, or of all splits in order train, valid, test."""
        if split is None:
            return [p for s in SPLITS for p in self.splits[s]]
        if split not in self.splits:
            raise DataError(f"dataset {self.name} has no split {split!r} (it has {', '.join(SPLITS)})")
        return self.splits[split]

    @property
    def model_options(self) -> dict:
        """Options a model of these tokens takes from the data (none: the vocabularies are fixed)."""
        return {}

    def stats(self) -> dict:
        out = {"dataset": self.name, "unit": self.unit, "splits": {},
               "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped]}
        for s, ps in self.splits.items():
            lengths = [len(p) for p in ps]
            out["splits"][s] = {"pieces": len(ps), f"{self.unit}s": int(sum(lengths)),
                                f"mean_{self.unit}s": round(float(np.mean(lengths)), 1) if ps else 0,
                                f"max_{self.unit}s": int(max(lengths, default=0))}
        return out


__all__ = ["TokenPiece", "TokenDataset"]
