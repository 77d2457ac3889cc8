"""The Transformer-NADE (models/transformer_nade.py): its relative attention against a loop over
pairs, and that it learns what lies a fixed distance back."""
import math

import numpy as np
import torch

from musicgen_lib.data.batches import pad_batch
from musicgen_lib.models import build
from musicgen_lib.models.transformer_nade import RelativeSelfAttention


@torch.no_grad()
def test_relative_attention_is_the_loop_over_pairs():
    torch.manual_seed(0)
    att = RelativeSelfAttention(d_model=8, n_heads=2, max_distance=3, dropout=0.0).eval()
    x = torch.randn(2, 7, 8)
    q, k, v = att.qkv(x).view(2, 7, 3, 2, 4).permute(2, 0, 3, 1, 4)
    out = torch.zeros(2, 2, 7, 4)
    for i in range(7):
        scores = torch.stack([(q[:, :, i] * (k[:, :, j] + att.rel[min(i - j, 3)])).sum(-1) / math.sqrt(4)
                              for j in range(i + 1)], -1)                        # (B, H, i + 1)
        out[:, :, i] = (torch.softmax(scores, -1)[..., None] * v[:, :, :i + 1]).sum(-2)
    ref = att.out(out.transpose(1, 2).reshape(2, 7, 8))
    assert torch.allclose(att(x), ref, atol=1e-5)


def test_it_learns_a_frame_three_steps_back():
    # random frames repeating with period 3: the past three frames decide the next one exactly
    rng = np.random.default_rng(0)
    rolls = []
    for _ in range(16):
        motif = (rng.random((3, 6)) < 0.4).astype(np.uint8)
        rolls.append(np.tile(motif, (8, 1)))                                    # (24, 6)
    x, mask = pad_batch(rolls)
    torch.manual_seed(0)
    m = build("transformer-nade", {"n_visible": 6, "d_model": 32, "n_heads": 2, "n_layers": 2,
                                   "d_ff": 64, "max_distance": 4, "dropout": 0.0, "n_hidden": 16})
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(300):
        loss, _ = m.training_loss(x, mask)
        opt.zero_grad(), loss.backward(), opt.step()
    m.eval()
    lp, _ = m.log_prob(x, mask)
    later = lp[:, 3:].mean()                           # after the first period: predictable
    assert -later < 0.3 < 6 * math.log(2) * 0.5        # far below a coin per key
    g = m.generate(6, batch=4, prime=x[:4, :9])
    assert torch.equal(g, x[:4, 9:15]) or (g == x[:4, 9:15]).float().mean() > 0.95
