"""The copy task of notebook 05_attention: can a model reproduce the frame it saw ``lag``
steps ago? An LSTM must carry the frame in its state all that time; the thesis' history
reader (§6.3) can look it up.

Frames are random 12-dim binary vectors (like octave-compressed music, ``density`` of the
classes on); the target at step t is ``x_{t - lag}``. Both models read ``x_t`` at step t.

    lstm:             y_t = Linear(LSTM(x_1..x_t))
    lstm + reader:    y_t = Linear([LSTM(x_1..x_t), read_t]),  read_t = sum_k w_tk x_{t - lags_k}
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .history_reader import THESIS_LAGS, HistoryReader


@dataclass(frozen=True)
class CopyTaskConfig:
    """The copy task (random 12-dim frames, the target the frame ``lag`` steps back) and the
    training of the models that learn it.

    Notebook: 05_attention."""

    lag: int = 32            # the target is the frame this many steps back
    n_classes: int = 12
    density: float = 0.25    # probability that a class is on
    length: int = 160        # steps per sequence (losses count steps t >= lag only)
    batch: int = 32
    hidden: int = 100
    lags: tuple = THESIS_LAGS
    steps: int = 300         # Adam steps
    lr: float = 3e-3
    seed: int = 0


def copy_batch(cfg: CopyTaskConfig, rng: torch.Generator, batch: int | None = None):
    """Frames with their full past: (B, P + length, 12), P = the reader's largest lag."""
    P = max(cfg.lags)
    shape = (batch or cfg.batch, P + cfg.length, cfg.n_classes)
    return (torch.rand(shape, generator=rng) < cfg.density).float()


class CopyModel(nn.Module):
    """An LSTM, optionally with a :class:`HistoryReader` over the frames already seen."""

    def __init__(self, cfg: CopyTaskConfig, reader: bool):
        super().__init__()
        self.cfg = cfg
        self.lstm = nn.LSTM(cfg.n_classes, cfg.hidden, batch_first=True)
        self.reader = HistoryReader(cfg.n_classes, cfg.hidden, cfg.lags) if reader else None
        self.out = nn.Linear(cfg.hidden + (cfg.n_classes if reader else 0), cfg.n_classes)

    def forward(self, frames):
        """frames (B, P + T, 12) -> logits (B, T, 12) of x_{t - lag}, attention (B, T, L) or None."""
        P = max(self.cfg.lags)
        x = frames[:, P:]                                  # (B, T, 12) the steps that are predicted
        h, _ = self.lstm(x)                                # (B, T, H), h_t has read x_1..x_t
        if self.reader is None:
            return self.out(h), None
        # the reader's frames end at x_t, so its lag h reads x_{t-h}
        read, weights, _ = self.reader(x, frames)          # (B, T, 12), (B, T, L)
        return self.out(torch.cat([h, read], -1)), weights

    def loss(self, frames):
        """BCE in nats per frame over the steps whose target lies inside the sequence."""
        P, lag = max(self.cfg.lags), self.cfg.lag
        logits, _ = self(frames)
        target = frames[:, P - lag:frames.shape[1] - lag]  # x_{t - lag}: (B, T, 12)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        return bce[:, lag:].mean()


@torch.no_grad()
def copy_accuracy(model: CopyModel, frames) -> float:
    """Share of the 12 classes of x_{t - lag} predicted right (threshold 0.5), steps t >= lag."""
    P, lag = max(model.cfg.lags), model.cfg.lag
    logits, _ = model(frames)
    target = frames[:, P - lag:frames.shape[1] - lag]
    return float(((logits > 0).float() == target)[:, lag:].float().mean())


def train_copy(cfg: CopyTaskConfig, reader: bool, progress: bool = False):
    """Train a :class:`CopyModel` on fresh random batches; returns (model, losses per step,
    held-out accuracy). Deterministic given ``cfg.seed``.

    Notebook: 05_attention."""
    torch.manual_seed(cfg.seed)
    model = CopyModel(cfg, reader)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    losses = []
    steps = range(cfg.steps)
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc=f"lag {cfg.lag}, {'LSTM + reader' if reader else 'LSTM'}", leave=False)
    for _ in steps:
        loss = model.loss(copy_batch(cfg, g))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    test = copy_batch(cfg, torch.Generator().manual_seed(cfg.seed + 12345), batch=64)
    return model.eval(), losses, copy_accuracy(model, test)


def chance_loss(cfg: CopyTaskConfig) -> float:
    """Nats per frame of the best guess that ignores the past: each class on with p = density.

    Notebook: 05_attention."""
    p = torch.tensor(cfg.density)
    return float(-(p * p.log() + (1 - p) * (1 - p).log()) * cfg.n_classes)


__all__ = ["CopyTaskConfig", "CopyModel", "copy_batch", "copy_accuracy", "train_copy", "chance_loss"]
