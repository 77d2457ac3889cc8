"""Training fragments with their history, augmentation and batches
(notebook 01_representations; thesis §7.2).

Every piece is cut into fragments of ``length`` steps (256) at a ``stride`` (32). Each
fragment comes with the ``history`` frames (128) that precede it in the same piece —
zeros before the piece starts — so that the attention over lags up to 128 reads real
music from the first step. (The author's loop kept only the last 32 history frames.)
Pieces shorter than one fragment give none.

Augmentation (thesis §7.2): a whole batch is transposed by one random ``k`` in
``[-6, 5]`` semitones — cyclic on 12 pitch classes, a shift with the edge keys zeroed
on the 88 keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, NamedTuple

import numpy as np

from .midi import N_KEYS
from .octave import transpose88

if TYPE_CHECKING:  # torch is imported lazily, when batches are made
    import torch


@dataclass(frozen=True)
class FragmentConfig:
    """How pieces are cut (thesis defaults).

    Notebook: 01_representations, 07_octave_decoder."""

    length: int = 256
    stride: int = 32
    history: int = 128
    transpose_low: int = -6  # augmentation range, inclusive
    transpose_high: int = 5


class Batch(NamedTuple):
    """A batch of fragments as torch tensors (uint8 0/1 values, float32 on request)."""

    history: "torch.Tensor"  # (B, history, 88) frames before each fragment
    roll: "torch.Tensor"  # (B, length, 88) the fragment
    start: "torch.Tensor"  # (B,) step of the fragment's first frame in its piece
    piece: "torch.Tensor"  # (B,) piece index
    shift: int  # the transposition applied to the whole batch


class Fragments:
    """All fragments of a list of pieces, cut lazily from one padded array.

    ``len(fragments)`` is their number; ``fragments.get(idx)`` returns a :class:`Batch`
    for an array of fragment indices; :meth:`batches` iterates shuffled batches.

    Notebook: 01_representations, 05_attention, 07_octave_decoder, 08_training_and_samples.
    """

    def __init__(self, pieces, config: FragmentConfig = FragmentConfig()):
        self.cfg = c = config
        rolls = [np.asarray(getattr(p, "roll", p), np.uint8) for p in pieces]
        # One array: [history zeros, piece 0, history zeros, piece 1, ...] — a window of
        # history + length rows starting at (offset + start) is then always in bounds.
        parts, offsets, pos = [], [], 0
        for r in rolls:
            parts += [np.zeros((c.history, N_KEYS), np.uint8), r]
            offsets.append(pos + c.history)
            pos += c.history + len(r)
        self.data = np.concatenate(parts) if parts else np.zeros((0, N_KEYS), np.uint8)
        index = [(i, s) for i, r in enumerate(rolls)
                 for s in range(0, len(r) - c.length + 1, c.stride)]
        self.index = np.array(index, np.int64).reshape(-1, 2)  # (N, 2): piece, start
        self.offsets = np.array(offsets, np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def get(self, idx, shift: int = 0) -> Batch:
        """The fragments ``idx`` (array of indices), transposed by ``shift`` semitones."""
        import torch

        c = self.cfg
        idx = np.atleast_1d(np.asarray(idx, np.int64))
        piece, start = self.index[idx, 0], self.index[idx, 1]
        first = self.offsets[piece] + start - c.history  # (B,)
        rows = first[:, None] + np.arange(c.history + c.length)  # (B, history + length)
        window = self.data[rows]  # (B, history + length, 88)
        if shift:
            window = transpose88(window, shift)
        window = torch.from_numpy(np.ascontiguousarray(window))
        return Batch(window[:, :c.history], window[:, c.history:],
                     torch.from_numpy(start), torch.from_numpy(piece), shift)

    def batches(self, batch_size: int, seed: int = 0, shuffle: bool = True,
                augment: bool = False, drop_last: bool = False) -> Iterator[Batch]:
        """One epoch of batches; the order and shifts depend only on ``seed``."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
        c = self.cfg
        for a in range(0, len(order), batch_size):
            idx = order[a:a + batch_size]
            if drop_last and len(idx) < batch_size:
                break
            shift = int(rng.integers(c.transpose_low, c.transpose_high + 1)) if augment else 0
            yield self.get(idx, shift)
