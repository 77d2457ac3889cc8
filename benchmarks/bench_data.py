"""Speed of the data layer, as ratios against reference runs in the same process.

    python benchmarks/bench_data.py [--path FOLDER]   (default: the data home's piano-midi-de) [--reference-files 60]

1. Parsing all piano-midi.de files to piano rolls (no cache): our ticks-based loader
   (symusic) against mido + a pure-Python roll builder, on the same files.
2. A second load of the music21 chorales: from the cache, against parsing with music21.
Targets (issue "Foundation"): all 337 files in <= 5 s on 2 cores; chorales from the cache in
<= 1 s.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from musicgen_lib.data import load_dataset, notes_to_roll, read_midi
from musicgen_lib.data.datasets import chorale_notes, midi_files
from musicgen_lib.data.home import require


def mido_roll(path: Path, steps_per_beat: int = 4) -> np.ndarray:
    """Reference: a straightforward mido loader quantising by ticks."""
    import mido

    mf = mido.MidiFile(path)
    tps = mf.ticks_per_beat / steps_per_beat
    notes, open_ = [], {}
    for track in mf.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_[(msg.channel, msg.note)] = tick
            elif msg.type in ("note_on", "note_off") and (msg.channel, msg.note) in open_:
                s = open_.pop((msg.channel, msg.note))
                notes.append((round(s / tps), max(round(tick / tps), round(s / tps) + 1), msg.note))
    T = max((e for _, e, _ in notes), default=0)
    roll = np.zeros((T, 88), np.uint8)
    for s, e, p in notes:
        if 21 <= p <= 108:
            roll[s:e, p - 21] = 1
    return roll


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--path", help="default: the data home's piano-midi-de")
    ap.add_argument("--reference-files", type=int, default=60,
                    help="files parsed by the slow reference loaders (ratios are per file)")
    args = ap.parse_args()
    args.path = args.path or str(require("piano-midi-de"))
    files = [f for _, f in midi_files(Path(args.path))]

    def ours_all():
        return [notes_to_roll(read_midi(f)) for f in files]

    _, t_ours = timed(ours_all)
    ref = files[: args.reference_files]
    _, t_ref = timed(lambda: [mido_roll(f) for f in ref])
    per_ours, per_ref = t_ours / len(files), t_ref / len(ref)
    print(f"piano-midi.de: {len(files)} files -> rolls in {t_ours:.2f} s "
          f"({len(files) / t_ours:.0f} files/s; target <= 5 s)")
    print(f"  reference mido loader: {per_ref * 1e3:.1f} ms/file on {len(ref)} files; "
          f"ours {per_ours * 1e3:.2f} ms/file -> {per_ref / per_ours:.0f}x faster")
    with tempfile.TemporaryDirectory() as cache:
        _, t_first = timed(load_dataset, "piano-midi-de", Path(args.path),
                           cache_dir=cache)
        _, t_cached = timed(load_dataset, "piano-midi-de", Path(args.path),
                            cache_dir=cache)
    print(f"  load_dataset with filters: {t_first:.2f} s first, {t_cached:.2f} s from the cache")

    load_dataset("chorales")  # make sure the default cache holds them
    ds, t_chor = timed(load_dataset, "chorales")
    from music21 import corpus  # noqa: F401  (import cost is not part of the reference)
    sample = [corpus.getWork("bach/bwv66.6"), corpus.getWork("bach/bwv40.8")]
    _, t_m21 = timed(lambda: [chorale_notes(Path(p)) for p in sample])
    n = len(ds.pieces())
    print(f"chorales: {n} pieces from the cache in {t_chor:.2f} s (target <= 1 s); "
          f"parsing with music21 costs {t_m21 / len(sample) * 1e3:.0f} ms/piece -> "
          f"~{t_m21 / len(sample) * n / t_chor:.0f}x slower for all of them")


if __name__ == "__main__":
    main()
