"""Speed of the vectorised review models against per-time-step reference loops, measured in the
same process on the same batch (JSB chorales, quarter notes, if found; random rolls otherwise).

    python benchmarks/bench_review_models.py [--path FOLDER]   (default: the data home's jsb) [--repeat 3]

Prints one line per comparison: reference seconds, vectorised seconds and their ratio. The
reference loops are written here on purpose: they are what the library's code replaces.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from musicgen_lib.models import build
from musicgen_lib.models.rbm import free_energy, gibbs, log_partition_ais
from musicgen_lib.data.batches import pad_batch


def batch_of_pieces(path, n=16):
    """A padded batch of n training pieces (x (B, T, 88), mask (B, T))."""
    try:
        from musicgen_lib.data import load_dataset
        pieces = load_dataset("jsb", path, resolution="quarter").pieces("train")[:n]
        rolls = [p.roll for p in pieces]
    except Exception:
        rng = np.random.default_rng(0)
        rolls = [(rng.random((60, 88)) < 0.04).astype(np.uint8) for _ in range(n)]
    return pad_batch(rolls)


def timed(fn, repeat):
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


# ---------------------------------------------------------------- per-step references

def lstm_loss_per_step(m, x, mask):
    """The independent-Bernoulli LSTM, one time step per Python iteration."""
    state, v, total = None, torch.zeros(x.shape[0], 88), 0.0
    for t in range(x.shape[1]):
        u, state = m.rnn.step(v, state)
        lp = -torch.nn.functional.binary_cross_entropy_with_logits(m.out(u), x[:, t], reduction="none").sum(-1)
        total = total - (lp * mask[:, t]).sum()
        v = x[:, t]
    return total / mask.sum()


def nade_loss_per_step(m, x, mask):
    """RNN-NADE with a loop over time and, inside, NADE's loop over the 88 keys."""
    state, v, total = None, torch.zeros(x.shape[0], 88), 0.0
    for t in range(x.shape[1]):
        u, state = m.rnn.step(v, state)
        logits = m.nade.logits_loop(x[:, t], m.to_b(u), m.to_c(u))
        lp = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x[:, t], reduction="none").sum(-1)
        total = total - (lp * mask[:, t]).sum()
        v = x[:, t]
    return total / mask.sum()


def rbm_loss_per_step(m, x, mask):
    """RNN-RBM CD-k with a loop over time: one RBM and one Gibbs chain batch per step."""
    state, v, total = None, torch.zeros(x.shape[0], 88), 0.0
    for t in range(x.shape[1]):
        u, state = m.rnn.step(v, state)
        b, c = m.to_b(u), m.to_c(u)
        with torch.no_grad():
            vk = gibbs(x[:, t], m.W, b, c, m.cfg.cd_k)
        diff = free_energy(x[:, t], m.W, b, c) - free_energy(vk, m.W, b, c)
        total = total + (diff * mask[:, t]).sum()
        v = x[:, t]
    return total / mask.sum()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", help="default: the data home's jsb")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    x, mask = batch_of_pieces(args.path)  # None: the data home (load_dataset)
    print(f"batch: {x.shape[0]} pieces x {x.shape[1]} steps ({int(mask.sum())} real steps), "
          f"{torch.get_num_threads()} threads")

    def both(name, m, ref_loss):
        def vec():
            m.zero_grad()
            m.training_loss(x, mask)[0].backward()

        def ref():
            m.zero_grad()
            ref_loss(m, x, mask).backward()
        if "RBM" not in name:  # deterministic losses must agree
            torch.testing.assert_close(m.training_loss(x, mask)[0], ref_loss(m, x, mask), rtol=1e-4, atol=1e-4)
        tr, tv = timed(ref, args.repeat), timed(vec, args.repeat)
        print(f"{name:<34} per-step {tr * 1e3:8.1f} ms   vectorised {tv * 1e3:8.1f} ms   ratio {tr / tv:6.1f}x")

    both("LSTM-Bernoulli train step", build("lstm").train(False), lstm_loss_per_step)
    both("RNN-NADE train step", build("rnn-nade").train(False), nade_loss_per_step)
    both("RNN-RBM CD-25 train step", build("rnn-rbm").train(False), rbm_loss_per_step)

    m = build("rnn-rbm", {"init_std": 0.05}).eval()
    with torch.no_grad():
        b, c = m.biases(x)
        b, c = b[mask][:128], c[mask][:128]  # 128 positions, 20 chains x 100 temperatures
    tr = timed(lambda: [log_partition_ais(m.W, b[i], c[i], 20, 100) for i in range(len(b))], 1)
    tv = timed(lambda: log_partition_ais(m.W, b, c, 20, 100), 1)
    print(f"{'AIS log Z, 128 steps':<34} per-step {tr * 1e3:8.1f} ms   vectorised {tv * 1e3:8.1f} ms   ratio {tr / tv:6.1f}x")
    nade = build("rnn-nade").nade
    v = x[mask]
    bb, cc = torch.randn(len(v), 88), torch.randn(len(v), 150)
    tr = timed(lambda: nade.logits_loop(v, bb, cc).sum().backward(), args.repeat)
    tv = timed(lambda: nade.logits(v, bb, cc).sum().backward(), args.repeat)
    print(f"{'NADE over 88 keys (loop vs matmul)':<34} per-key  {tr * 1e3:8.1f} ms   vectorised {tv * 1e3:8.1f} ms   ratio {tr / tv:6.1f}x")


if __name__ == "__main__":
    main()
