"""Speed of the thesis model: training iteration (vectorised vs the per-step reference, in
the same process), share of the machine's fp32 matmul throughput, and sampling speed.

    python benchmarks/bench_thesis.py [--batch 140] [--steps 256] [--threads 2]

Targets (issue "The proposed model"): an iteration at 140 x 256 >= 6x faster than the
per-step reference and >= 40 % of the measured matmul throughput by FLOP count; sampling
>= 1500 new steps/s at batch 1 and >= 20 000 in aggregate at batch 64, decoder included
(the step compiled by TorchScript, as musicgen_lib.sample.generate runs it, against the same
code run eagerly).
"""
from __future__ import annotations

import argparse
import time

import torch

from musicgen_lib.models.octave_decoder import DecoderConfig, OctaveDecoder
from musicgen_lib.models.thesis import ThesisConfig, ThesisGenerator
from musicgen_lib.sample import generate
from thesis_reference import per_step_loss


def lstm_flops(inp, hid, n):
    """Forward FLOPs of an LSTM over n (batch x step) positions."""
    return 2 * 4 * hid * (inp + hid) * n


def iteration_flops(cfg: ThesisConfig, B: int, T: int) -> float:
    """Forward + backward (3x forward) FLOPs of one training iteration."""
    n = B * T
    x = cfg.n_classes + cfg.time_bits
    fwd = (lstm_flops(x, cfg.local_size, n) + lstm_flops(x, cfg.reader_size, n)
           + lstm_flops(cfg.local_size + cfg.n_classes, cfg.aggregation_size, n)
           + cfg.n_voices * lstm_flops(cfg.aggregation_size + 2 * cfg.n_classes,
                                       cfg.voice_size, n))
    return 3 * fwd


def matmul_gflops(size=2048, reps=5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * size ** 3 * reps / (time.perf_counter() - t) / 1e9


def timed(fn, reps=1):
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=140)
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--sampling-only", action="store_true", help="skip the training iteration")
    ap.add_argument("--bf16", action="store_true", help="also time the iteration under bfloat16 "
                    "autocast (TrainConfig.bf16)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = ThesisConfig()
    model = ThesisGenerator(cfg)
    B, T = args.batch, args.steps
    hist = (torch.rand(B, 128, 12) < 0.25).float()
    x = (torch.rand(B, T, 12) < 0.25).float()

    def fast():
        loss, _ = model(hist, x)
        loss.backward()

    def fast_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, _ = model(hist, x)
        loss.backward()

    def slow():
        per_step_loss(model, hist, x).backward()

    if not args.sampling_only:
        train_iteration(args, cfg, B, T, fast, slow, fast_bf16 if args.bf16 else None)
    sampling(cfg)


def train_iteration(args, cfg, B, T, fast, slow, fast_bf16=None):
    t_fast = timed(fast, 2)
    peak = matmul_gflops()
    flops = iteration_flops(cfg, B, T)
    print(f"training iteration {B} x {T}: {t_fast:.2f} s vectorised "
          f"({flops / t_fast / 1e9:.1f} GFLOP/s = {flops / t_fast / 1e9 / peak:.0%} of the "
          f"measured {peak:.0f} GFLOP/s fp32 matmul; target >= 40 %)")
    if not args.skip_reference:
        t_slow = timed(slow)
        print(f"  per-step reference: {t_slow:.2f} s -> vectorised is {t_slow / t_fast:.1f}x "
              f"faster (target >= 6x; the author's loop: 6.9 s)")
        print(f"  2400 iterations: {2400 * t_fast / 60:.0f} min (target <= 45 min)")
        need = t_slow / 6
        print(f"  6x the reference means {need:.2f} s: {flops / need / 1e9 / peak:.0%} of the fp32 "
              "matmul peak for this iteration's FLOPs")
    if fast_bf16 is not None:  # same process, right after the fp32 runs
        t_bf = timed(fast_bf16, 2)
        print(f"  bf16 autocast: {t_bf:.2f} s ({t_fast / t_bf:.2f}x the fp32 iteration"
              + (f", {t_slow / t_bf:.1f}x the reference" if not args.skip_reference else "")
              + f"); 2400 iterations: {2400 * t_bf / 60:.0f} min")


def sampling(cfg):
    # a trained model: how many classes the voices pick and the decoder must place (and
    # rescue) changes the work per step, so random weights would time a different workload
    from pathlib import Path

    from musicgen_lib.checkpoints import load_thesis_model

    trained = Path(__file__).resolve().parents[1] / "checkpoints" / "thesis-piano"
    if trained.is_dir():
        gen, dec = load_thesis_model(trained)
        print(f"sampling with {trained.name} (trained on piano-midi.de)")
    else:
        gen, dec = ThesisGenerator(cfg).eval(), OctaveDecoder(DecoderConfig()).eval()
        print("sampling with random weights")
    # 256 new steps per piece at both sizes; each time includes reading the one-bar prime;
    # eager = the same step code run without TorchScript (the same samples)
    for B, target in ((1, 1500), (64, 20000)):
        prime = (torch.rand(B, 16, 88) < 0.05).numpy()
        t = {s: timed(lambda s=s: generate(gen, dec, prime, steps=256, script=s), 2)
             for s in (False, True)}
        rate = B * 256 / t[True]
        print(f"sampling, batch {B}: {rate:.0f} new steps/s{' in aggregate' if B > 1 else ''} "
              f"(target >= {target}{'; the author: 243' if B == 1 else ''}), {t[False] / t[True]:.2f}x the "
              f"eager step; one hour at 120 bpm (28 800 steps) in {28800 / rate:.1f} s")


if __name__ == "__main__":
    main()
