"""Data-parallel training (musicgen_lib.distributed): `torchrun --nproc_per_node=2 -m musicgen_lib
train ...` on the CPU (gloo) follows the same trajectory as one process with the same global batch
(train losses, validation NLLs, final weights), also across a resume."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed

from musicgen_lib import distributed as dist
from musicgen_lib.cli_models import main

ROOT = Path(__file__).resolve().parents[1]

needs_gloo = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available")


def test_helpers_alone_do_nothing():
    """Outside torchrun: one rank, the whole batch, values unchanged."""
    assert not dist.is_distributed() and dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    assert dist.shard([1, 2, 3]) == [1, 2, 3] and dist.loss_weight(5, 5) == 1.0
    assert dist.all_reduce_sum(2.5) == 2.5 and dist.from_rank0(3.25) == 3.25 and dist.from_rank0(True) is True
    assert dist.local_device("cpu") == torch.device("cpu")


@pytest.fixture
def data(tmp_path):
    """7 training pieces and batch_size 3: every epoch ends with a batch of one piece, so the
    second rank has no piece at all there (it joins backward with weight 0). Random crops and
    transpositions; a high lr so that a validation gets worse and the lr is halved."""
    rng = np.random.default_rng(0)
    piece = lambda: [sorted(set(rng.integers(55, 80, size=4).tolist())) for _ in range(int(rng.integers(6, 14)))]
    d = {s: [piece() for _ in range(n)] for s, n in [("train", 7), ("valid", 3), ("test", 2)]}
    f = tmp_path / "jsb-chorales-quarter.json"
    f.write_text(json.dumps(d))
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"n_hidden": 6, "n_recurrent": 8},
                               "train": {"batch_size": 3, "valid_every": 2, "max_steps": 12,
                                         "patience": 100, "lr": 0.2, "max_len": 10,
                                         "transpose": 2, "lr_patience": 1}}))
    return ["--model", "rnn-nade", "--dataset", "jsb", "--path", str(f), "--config", str(cfg),
            "--threads", "1", "--no-progress"]


def torchrun(args, nproc=2):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        f"--nproc_per_node={nproc}", "-m", "musicgen_lib", "train", *args],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


@needs_gloo
def test_two_ranks_match_one_process(tmp_path, data, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", *data, "--out", str(one)]) == 0
    capsys.readouterr()
    # two ranks: 5 steps (the checkpoint is at step 4), then resumed to 12 by both ranks
    assert [r["step"] for r in torchrun([*data, "--out", str(two), "--max-steps", "5"])] == [5]  # rank 0 prints
    assert [r["step"] for r in torchrun([*data, "--out", str(two), "--resume"])] == [12]
    la, lb = (json.loads((d / "log.json").read_text()) for d in (one, two))
    assert [r["step"] for r in la] == [r["step"] for r in lb] == [2, 4, 6, 8, 10, 12]
    assert [(r["epoch"], r["lr"]) for r in la] == [(r["epoch"], r["lr"]) for r in lb]
    assert la[-1]["lr"] == 0.1  # the lr decay decided alike
    diffs = {k: max(abs(a[k] - b[k]) for a, b in zip(la, lb)) for k in ("train_loss", "valid_nll")}
    wa, wb = (torch.load(d / "checkpoint.pt", weights_only=False)["model"] for d in (one, two))
    diffs["weights"] = max(float((wa[k] - wb[k]).abs().max()) for k in wa)
    print("max |one process - two ranks|:", diffs)
    assert diffs["weights"] < 1e-5 and diffs["train_loss"] < 1e-4 and diffs["valid_nll"] < 1e-4, diffs
    assert not [p.name for p in two.iterdir() if p.name.endswith(".tmp")]
