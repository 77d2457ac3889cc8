"""Kill a training run with SIGKILL at random moments, resume it, and compare (issue 8).

    .venv/bin/python scripts/kill_resume.py [--kills 5] [--seed 0] [--model rnn-nade]
        [--dataset jsb [--path FOLDER]] [--config FILE] [--out DIR]

Trains a small model with the library's engine (``musicgen train``, one thread) twice, in
subprocesses: once uninterrupted, and once killed with SIGKILL after seeded random delays and
resumed with ``--resume``, ``--kills`` times, then resumed a last time to the end. A fifth of
the kills fall during start-up, the others at sorted uniform fractions of the uninterrupted
run's training time (counted from the step the resumed run starts at). After every kill each
file in the output folder must load (``checkpoint.pt``, ``model.pt``, ``config.json``,
``log.json``) and the validation log in the checkpoint must equal the uninterrupted run's up
to the same step; temporary files (``*.tmp``, left only by a kill inside a write, and deleted
by the next run) are listed. At the end no temporary file may be left, and ``model.pt`` and the
last weights in ``checkpoint.pt`` must equal the uninterrupted run's bit for bit.

Prints one row per run (kill time, step shown by the progress bar at the kill, step of the
checkpoint left behind, temporary files, files loading, log equal to the reference) and the
verdict. Exit status 0 when everything matched, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from musicgen_lib.data.home import missing_files, source_folder

ROOT = Path(__file__).resolve().parents[1]
JSB = source_folder("jsb")  # the data home's copy (musicgen data fetch jsb)
#: A tiny run (about 15 s of training on one thread) that still uses every random stream the
#: engine restores: cropping (numpy), transposition (torch), the learning-rate schedule.
TINY = {"model": {"n_hidden": 24, "n_recurrent": 24},
        "train": {"batch_size": 8, "max_steps": 1000, "valid_every": 20, "patience": 100,
                  "max_len": 32, "transpose": 2, "lr_patience": 2}}
LOG_KEYS = ("step", "epoch", "train_loss", "valid_nll", "lr")


def train_cmd(args, config: Path, out: Path, resume: bool) -> list:
    cmd = [sys.executable, "-m", "musicgen_lib.cli_models", "train", "--model", args.model,
           "--dataset", args.dataset, "--config", str(config), "--out", str(out), "--threads", "1"]
    if args.path:
        cmd += ["--path", str(args.path)]
    return cmd + (["--resume"] if resume else [])


def launch(cmd: list, log: Path, kill: tuple | None):
    """Run ``cmd``; with ``kill = (phase, seconds)`` SIGKILL it that many seconds after its
    start (phase ``"startup"``) or after its progress bar appeared (``"training"``), unless it
    ended first. Returns ``(killed, exit code, seconds to the bar, seconds in all,
    last step its progress bar showed)``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    t0 = time.monotonic()
    bar_at = None
    with open(log, "wb") as err:
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=err, stderr=subprocess.STDOUT)
        deadline = t0 + kill[1] if kill and kill[0] == "startup" else None
        while p.poll() is None:  # wait for the bar (training has begun), or the deadline
            if bar_at is None and b"%|" in log.read_bytes():
                bar_at = time.monotonic()
                if kill and kill[0] == "training":
                    deadline = bar_at + kill[1]
            if deadline is not None and time.monotonic() >= deadline:
                os.kill(p.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        p.wait()
    steps = re.findall(rb"\| *(\d+)/\d+ \[", log.read_bytes())
    killed = p.returncode == -signal.SIGKILL
    return (killed, p.returncode, None if bar_at is None else bar_at - t0,
            time.monotonic() - t0, int(steps[-1]) if steps else 0)


def inspect(out: Path, reference_log: list) -> dict:
    """What a run left in ``out``: temporary files, whether every file loads, checkpoint step,
    and whether its log equals the reference's up to that step."""
    tmp = sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp")) if out.exists() else []
    problems, step, same_log = [], None, None
    for name, read in [("checkpoint.pt", lambda f: torch.load(f, weights_only=False)),
                       ("model.pt", lambda f: torch.load(f, weights_only=True)),
                       ("config.json", lambda f: json.loads(f.read_text())),
                       ("log.json", lambda f: json.loads(f.read_text()))]:
        f = out / name
        if not f.exists():
            continue
        try:
            obj = read(f)
        except Exception as e:
            problems.append(f"{name}: {type(e).__name__}")
            continue
        if name == "checkpoint.pt":
            step = obj["state"]["step"]
            hist = [[r[k] for k in LOG_KEYS] for r in obj["state"]["history"]]
            same_log = hist == [[r[k] for k in LOG_KEYS] for r in reference_log[:len(hist)]]
    return {"tmp": tmp, "problems": problems, "step": step, "same_log": same_log}


def same_weights(a: Path, b: Path) -> tuple[bool, str]:
    """(equal, how) for two runs' model.pt and the model in their checkpoint.pt."""
    ma, mb = (torch.load(d / "model.pt", weights_only=True) for d in (a, b))
    ca, cb = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (a, b))
    best = ma.keys() == mb.keys() and all(torch.equal(ma[k], mb[k]) for k in ma)
    last = all(torch.equal(ca["model"][k], cb["model"][k]) for k in ca["model"])
    same_bytes = (a / "model.pt").read_bytes() == (b / "model.pt").read_bytes()
    return best and last, (f"model.pt: {len(ma)} tensors {'equal' if best else 'DIFFER'}, file bytes "
                           f"{'equal' if same_bytes else 'differ'}; last weights in checkpoint.pt "
                           f"{'equal' if last else 'DIFFER'} (step {ca['state']['step']} vs "
                           f"{cb['state']['step']})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=5, help="SIGKILLs before the last resume")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    ap.add_argument("--model", default="rnn-nade")
    ap.add_argument("--dataset", default="chorales" if missing_files("jsb") else "jsb")
    ap.add_argument("--path", default=None if missing_files("jsb") else str(JSB))
    ap.add_argument("--config", help="JSON options file (default: a tiny built-in one)")
    ap.add_argument("--out", help="folder for the two runs (default: a temporary folder)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory(prefix="kill_resume_") as tmp:
        base = Path(args.out or tmp)
        ref, run = base / "uninterrupted", base / "killed"
        for d in (ref, run):
            if d.exists():
                print(f"kill_resume: error: {d}: already exists; choose another --out", file=sys.stderr)
                return 2
        base.mkdir(parents=True, exist_ok=True)
        config = Path(args.config) if args.config else base / "config_in.json"
        if not args.config:
            config.write_text(json.dumps(TINY, indent=1))

        _, code, to_bar, wall, _ = launch(train_cmd(args, config, ref, False), base / "ref.log", None)
        if code != 0 or to_bar is None:
            print(f"kill_resume: error: the uninterrupted run failed (exit code {code}); see "
                  f"{base / 'ref.log'}", file=sys.stderr)
            return 1
        reference = json.loads((ref / "log.json").read_text())
        steps = torch.load(ref / "checkpoint.pt", weights_only=False)["state"]["step"]
        training = wall - to_bar
        print(f"uninterrupted: {steps} steps of {args.model} on {args.dataset}, "
              f"{to_bar:.1f} s of start-up then {training:.1f} s of training")

        rng = random.Random(args.seed)
        targets = sorted(rng.random() for _ in range(args.kills))  # fractions of the training
        rows, ok, done = [], True, 0.0
        for i in range(args.kills + 1):
            kill = None
            if i < args.kills:  # a fifth of the kills during start-up, the rest while training
                kill = (("startup", round(rng.uniform(0, to_bar), 2)) if rng.random() < 0.2 else
                        ("training", round(max(targets[i] - done, 0) * training, 2)))
            killed, code, _, _, shown = launch(train_cmd(args, config, run, True),
                                               base / f"run{i}.log", kill)
            info = inspect(run, reference)
            done = (info["step"] or 0) / steps
            rows.append((i + 1, kill if killed else None, code, shown, info))
            ok &= not info["problems"] and info["same_log"] is not False
            if not killed and (code != 0 or i < args.kills):
                ok &= code == 0
                print(f"run {i + 1} ended (exit code {code}) before its kill {kill}")
        print(f"\n{'run':>3} {'killed':>18} {'step shown':>10} {'checkpoint':>10} "
              f"{'temp files':>10} {'files load':>10} {'log = ref':>9}")
        yes = lambda v: "-" if v is None else "yes" if v else "NO"
        for n, kill, code, shown, info in rows:
            when = f"{kill[1]:.2f} s into {kill[0]}" if kill else f"no (exit {code})"
            print(f"{n:>3} {when:>18} {shown:>10} {str(info['step']):>10} "
                  f"{', '.join(info['tmp']) or 'none':>10} "
                  f"{'yes' if not info['problems'] else '; '.join(info['problems']):>10} "
                  f"{yes(info['same_log']):>9}")
        finished = rows[-1][1] is None and rows[-1][2] == 0
        ok &= not rows[-1][4]["tmp"]
        equal, how = same_weights(ref, run) if finished else (False, "the last resume did not finish")
        print(f"\nidentical to the uninterrupted run: {'yes' if equal else 'NO'} ({how})")
        if args.out:
            print(f"runs kept in {base}")
        return 0 if ok and equal else 1


if __name__ == "__main__":
    sys.exit(main())
