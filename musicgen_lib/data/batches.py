"""Piano rolls as padded tensor batches: what the training engine and evaluation feed a model.

A batch holds whole pieces (or windows of them), padded with silence to the longest and masked:
x (B, T_max, 88) float32 and mask (B, T_max) bool, True on real steps.

Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 08_training_and_samples, 10_discussion.
"""
from __future__ import annotations

import numpy as np
import torch


def as_rolls(pieces) -> list:
    """Pieces (objects with .roll) or arrays -> list of (T, 88) uint8 arrays, empty ones dropped.
    Token arrays whose ids do not fit a byte (Performance RNN's 388 events) stay int16."""
    rolls = [np.asarray(getattr(p, "roll", p)) for p in pieces]
    rolls = [r.astype(np.int16 if r.dtype.kind in "iu" and r.size and r.max() > 255 else np.uint8,
                      copy=False) for r in rolls]
    return [r for r in rolls if len(r)]


def pad_batch(rolls: list) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (T_i, 88) arrays -> x (B, T_max, 88) float32 zero-padded, mask (B, T_max) bool.

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 04a_melody, 04b_voices, 04c_events_and_notes,
    04d_melody_vae, 04f_classifying_vae, 08_training_and_samples, 10_discussion."""
    T = max(len(r) for r in rolls)
    x = torch.zeros(len(rolls), T, rolls[0].shape[1])
    mask = torch.zeros(len(rolls), T, dtype=torch.bool)
    for i, r in enumerate(rolls):
        x[i, :len(r)] = torch.from_numpy(np.asarray(r, dtype=np.float32))
        mask[i, :len(r)] = True
    return x, mask


def batches(rolls: list, batch_size: int):
    """Padded batches in length order (little padding) for evaluation: yields (x, mask)."""
    order = sorted(range(len(rolls)), key=lambda i: len(rolls[i]))
    for i in range(0, len(order), batch_size):
        yield pad_batch([rolls[j] for j in order[i:i + batch_size]])


def transpose_batch(x: torch.Tensor, k: int) -> torch.Tensor:
    """Shift all keys by k semitones, keys pushed past either edge are dropped."""
    if k == 0:
        return x
    out = torch.zeros_like(x)
    if k > 0:
        out[..., k:] = x[..., :-k]
    else:
        out[..., :k] = x[..., -k:]
    return out


__all__ = ["as_rolls", "pad_batch", "batches", "transpose_batch"]
