"""Fuzz the MIDI loader with mutants of real files (issue 8: robust under bad input).

    .venv/bin/python scripts/fuzz_midi.py [-n 10000] [--seed 0] [--path DIR_OR_FILE ...]
        [--chorales 10] [--timeout 10] [--max-rss-mb 500] [--keep DIR]

Sources: the MIDI files under each ``--path`` (default: the data home's piano-midi.de folder,
if it is there: ``musicgen data fetch piano-midi-de``) and ``--chorales``
Bach chorales of music21's corpus, written to MIDI in a temporary folder.
Mutant ``i`` is drawn from the seed ``f"{seed}:{i}"`` (:func:`midi_fuzz.mutant`, in
``tests/midi_fuzz.py``: truncation, flipped bits, wrong chunk lengths, absurd divisions and
tempos, notes off the keyboard, notes held for hours, thousands of tracks, non-MIDI bytes,
...), so any mutant can be rebuilt from its number.

Each mutant is loaded as ``load_dataset`` loads a file (:func:`midi_fuzz.load`:
read, thesis filters, sounding, velocity and onset piano rolls) in one worker process, and
classified as loaded, filtered, a clean ``MidiError`` (counted by its problem with numbers
stripped), or a FAILURE: any other exception, no answer within ``--timeout`` seconds (the
worker is killed and restarted), a dead worker, or a worker whose peak RSS passed
``--max-rss-mb`` (its address space is also capped at ``--max-vm-mb``, so that a runaway
allocation fails instead of taking the machine). Failing mutants are written to ``--keep``.
Finally ``load_dataset`` is run on a folder of mutants, which must list every unreadable one
in ``skipped`` with a one-line reason.

Exit status 0 when there was no failure, 1 otherwise, 2 for bad arguments.
Target (issue 8): 10 000 mutants, 0 crashes, 0 hangs, peak RSS <= 500 MB.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fuzzer, a test tool: tests/midi_fuzz.py

import midi_fuzz as fuzz  # noqa: E402
from musicgen_lib.data.home import source_folder  # noqa: E402

DEFAULT_PATH = source_folder("piano-midi-de")


# ---------------------------------------------------------------- the worker

def _serve(conn, max_vm_mb: int, steps_per_beat: int) -> None:
    """Worker loop: receive a path, answer ``(outcome, detail, peak RSS in MB)``."""
    if max_vm_mb:
        resource.setrlimit(resource.RLIMIT_AS, (max_vm_mb << 20, max_vm_mb << 20))
    while True:
        path = conn.recv()
        if path is None:
            return
        try:
            outcome, detail = fuzz.load(path, steps_per_beat)
        except BaseException as e:  # MemoryError included: anything but MidiError is a bug
            outcome, detail = "FAILURE", f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        conn.send((outcome, detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))


class Worker:
    """One loader process, restarted after a hang, a crash or a memory overrun."""

    def __init__(self, max_vm_mb: int, steps_per_beat: int):
        self.args, self.proc, self.restarts = (max_vm_mb, steps_per_beat), None, 0

    def _start(self):
        ctx = mp.get_context("spawn")  # a clean process: its RSS is the loader's alone
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()

    def stop(self, kill: bool = False):
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.conn.send(None)
        self.proc.join(10)
        self.proc = None

    def load(self, path, timeout: float) -> tuple[str, str, int]:
        if self.proc is None:
            self._start()
        self.conn.send(str(path))
        if not self.conn.poll(timeout):
            self.stop(kill=True)
            self.restarts += 1
            return "FAILURE", f"hang (no answer in {timeout:g} s)", 0
        try:
            return self.conn.recv()
        except EOFError:
            self.proc.join(10)
            code = self.proc.exitcode
            self.proc, self.restarts = None, self.restarts + 1
            return "FAILURE", f"worker died (exit code {code})", 0


# ---------------------------------------------------------------- sources

def midi_files(paths) -> list:
    out = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in (".mid", ".midi"))
        else:
            print(f"fuzz_midi: error: {p}: no such file or directory", file=sys.stderr)
            raise SystemExit(2)
    return out


def chorale_files(n: int, folder: Path) -> list:
    """The first ``n`` chorales of music21's corpus, written as MIDI files into ``folder``."""
    if n <= 0:
        return []
    from music21 import corpus

    names = list(dict.fromkeys(corpus.chorales.Iterator(returnType="filename")))[:n]
    out = []
    for name in tqdm(names, desc="writing chorales", unit="file", disable=not sys.stderr.isatty()):
        f = folder / (name.replace("/", "_") + ".mid")
        corpus.parse(name).write("midi", fp=str(f))
        out.append(f)
    return out


# ---------------------------------------------------------------- the run

def check_dataset(folder: Path, sources: list, seed, n: int) -> str:
    """Write ``n`` mutants into ``folder`` and load them with ``load_dataset("midi")``:
    every file must come back as a piece or as a skipped file with a one-line reason."""
    from musicgen_lib.data import load_dataset

    for i in range(n):
        src = sources[random.Random(f"{seed}:dataset:{i}").randrange(len(sources))]
        data, _ = fuzz.mutant(src.read_bytes(), f"{seed}:dataset:{i}")
        (folder / f"m{i:04d}.mid").write_bytes(data)
    ds = load_dataset("midi", folder, cache=False)
    pieces = len(ds.pieces())
    bad = [s for s in ds.skipped if "\n" in s.reason or not s.reason]
    if pieces + len(ds.skipped) != n or bad:
        return (f"FAILURE: load_dataset on {n} mutants gave {pieces} pieces and "
                f"{len(ds.skipped)} skipped ({len(bad)} without a one-line reason)")
    return f"load_dataset('midi') on {n} mutants: {pieces} loaded, {len(ds.skipped)} skipped"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--mutants", type=int, default=10_000, help="number of mutants")
    ap.add_argument("--seed", default="0", help="seed of the mutants (default 0)")
    ap.add_argument("--path", action="append",
                    help=f"MIDI file or folder to mutate (repeatable; default {DEFAULT_PATH})")
    ap.add_argument("--chorales", type=int, default=10, help="music21 chorales to add (default 10)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per file before a hang")
    ap.add_argument("--max-rss-mb", type=int, default=500, help="peak RSS of the loader allowed")
    ap.add_argument("--max-vm-mb", type=int, default=3000, help="address-space cap of the worker")
    ap.add_argument("--steps-per-beat", type=int, default=4)
    ap.add_argument("--dataset-mutants", type=int, default=200,
                    help="mutants for the final load_dataset check (0: skip it)")
    ap.add_argument("--keep", default=str(Path(tempfile.gettempdir()) / "fuzz_midi_failures"),
                    help="folder for failing mutants")
    args = ap.parse_args(argv)
    if args.mutants < 1 or args.timeout <= 0:
        ap.error("--mutants and --timeout must be positive")
    paths = args.path or ([DEFAULT_PATH] if DEFAULT_PATH.exists() else [])

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz_midi_") as tmp:
        tmp = Path(tmp)
        sources = midi_files(paths) + chorale_files(args.chorales, tmp)
        if not sources:
            print("fuzz_midi: error: no MIDI files to mutate (give --path or --chorales)",
                  file=sys.stderr)
            return 2
        blobs = {}
        outcomes, problems, filtered, failures = Counter(), Counter(), Counter(), []
        by_mutation = {name: Counter() for name in fuzz.MUTATIONS}
        worker = Worker(args.max_vm_mb, args.steps_per_beat)
        peak, target = 0, tmp / "mutant.mid"
        bar = tqdm(range(args.mutants), desc="fuzzing", unit="mutant",
                   disable=not sys.stderr.isatty())  # a progress bar only on a terminal
        for i in bar:
            src = sources[random.Random(f"{args.seed}:{i}:source").randrange(len(sources))]
            if src not in blobs:
                blobs[src] = src.read_bytes()
            data, names = fuzz.mutant(blobs[src], f"{args.seed}:{i}")
            target.write_bytes(data)
            outcome, detail, rss = worker.load(target, args.timeout)
            peak = max(peak, rss)
            if rss > args.max_rss_mb:
                if outcome != "FAILURE":
                    outcome, detail = "FAILURE", f"peak RSS {rss} MB (limit {args.max_rss_mb} MB)"
                worker.stop(kill=True)  # a fresh worker: its high-water mark starts again
            outcomes[outcome] += 1
            for n in names:
                by_mutation[n][outcome] += 1
            if outcome == "MidiError":
                problems[fuzz.reason_key(detail)] += 1
            elif outcome == "filtered":  # each filter's reason on its own
                filtered.update(fuzz.reason_key(r) for r in detail.split("; "))
            elif outcome == "FAILURE":
                keep = Path(args.keep)
                keep.mkdir(parents=True, exist_ok=True)
                f = keep / f"{i:05d}-{'+'.join(names)}.mid"
                f.write_bytes(data)
                failures.append(f"mutant {i} of {src.name} ({'+'.join(names)}): {detail} -> {f}")
                bar.set_postfix(failures=len(failures))
        bar.close()
        worker.stop()
        fuzz_s = time.monotonic() - t0
        dataset_line = ""
        if args.dataset_mutants and not failures:  # in this process: only a loader that passed
            dataset_line = check_dataset(_fresh(tmp / "dataset"), sources, args.seed,
                                         args.dataset_mutants)
    report(args, len(sources), outcomes, problems, filtered, by_mutation, failures, peak, fuzz_s)
    if dataset_line:
        print(dataset_line)
    return 1 if failures or dataset_line.startswith("FAILURE") else 0


def _fresh(folder: Path) -> Path:
    folder.mkdir()
    return folder


def report(args, n_sources, outcomes, problems, filtered, by_mutation, failures, peak, secs):
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"\n{args.mutants} mutants of {n_sources} files (seed {args.seed}) in {secs:.0f} s")
    print(f"  loaded     {outcomes['ok']:6d}")
    print(f"  filtered   {outcomes['filtered']:6d}  (loaded, then dropped by the thesis filters:)")
    for reason, c in filtered.most_common():
        print(f"    {c:6d}  {reason}")
    print(f"  MidiError  {outcomes['MidiError']:6d}")
    for reason, c in problems.most_common():
        print(f"    {c:6d}  {reason[:110]}")
    print(f"  FAILURE    {outcomes['FAILURE']:6d}")
    for line in failures[:50]:
        print(f"    {line}")
    print("by mutation (mutants it took part in: loaded+filtered / MidiError / FAILURE):")
    for name, c in by_mutation.items():
        print(f"  {name:16s} {c['ok'] + c['filtered']:6d} {c['MidiError']:6d} {c['FAILURE']:6d}")
    print(f"peak RSS: loader process {peak} MB (limit {args.max_rss_mb} MB), "
          f"this process {own} MB")


if __name__ == "__main__":
    sys.exit(main())
