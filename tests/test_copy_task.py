"""The copy task of notebook 05: the history reader copies at a lag in its set within a few
dozen steps; the losses count only steps whose target exists."""
import torch

from musicgen_lib.models.copy_task import CopyTaskConfig, chance_loss, copy_batch, train_copy


def test_reader_learns_to_copy_quickly():
    cfg = CopyTaskConfig(lag=32, steps=200, length=40, batch=8, hidden=32, lr=1e-2)
    _, losses, acc = train_copy(cfg, reader=True)
    assert acc > 0.95
    assert losses[-1] < 0.6 * chance_loss(cfg)


def test_batches_are_seeded_and_sparse():
    cfg = CopyTaskConfig(length=40, batch=4)
    a = copy_batch(cfg, torch.Generator().manual_seed(1))
    b = copy_batch(cfg, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (4, 128 + 40, 12)
    assert abs(a.mean().item() - cfg.density) < 0.03
