"""Speed of the analysis and rendering outputs, each against a reference run in the same
process.

    python benchmarks/bench_analysis.py [--reference FOLDER]   (default: the data home's thesis-2018)
                                        [--reference-windows 120]

1. Analysing the author's published hour (``final-model-1h.mid``): reading, keys per bar,
   wrong notes, chord labels (cold cache) and every metric — against music21's own
   per-window Krumhansl–Schmuckler (``stream.analyze('krumhansl')`` on a stream of each
   bar's notes), timed on a subset of windows and extrapolated to the hour.
2. Rendering 30 s of the hour to MP3 (TinySoundFont, or the fallback) — against real time.
3. Engraving a 256-step excerpt as a two-staff SVG score — against music21's generic path
   (notes inserted at their offsets, ``makeNotation`` on export, same verovio call).

Targets (issue 6): the hour in <= 60 s on 2 cores; 30 s to MP3 <= 2 s; 256-step score <= 2 s.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from musicgen_lib.data.home import require


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def analyse_hour(path: Path):
    from musicgen_lib.analysis.harmony import analyze_harmony, roman_figure
    from musicgen_lib.analysis.metrics import aggregate, piece_metrics, split_periodic
    from musicgen_lib.data import notes_to_roll, read_midi

    roman_figure.cache_clear()
    notes = read_midi(path)
    roll = notes_to_roll(notes)
    onsets = notes_to_roll(notes, semantics="onset", n_steps=len(roll))
    h = analyze_harmony(roll, onsets)
    whole = piece_metrics(roll, onsets)
    per_fragment = [piece_metrics(r, o) for r, o in zip(split_periodic(roll, 264, 240, 16),
                                                        split_periodic(onsets, 264, 240, 16))]
    return h, whole, aggregate(per_fragment), len(roll)


def music21_windows(path: Path, n_windows: int) -> tuple:
    """Seconds per window of music21's own key analysis, on the first ``n_windows`` bars."""
    from music21 import chord, stream

    from musicgen_lib.data import notes_to_roll, read_midi

    roll = notes_to_roll(read_midi(path))[:16 * n_windows]
    streams = []
    for w in range(n_windows):
        s = stream.Stream()
        bar = roll[16 * w:16 * (w + 1)]
        for t in range(16):
            keys = np.flatnonzero(bar[t]) + 21
            if len(keys):
                s.insert(t / 4, chord.Chord([int(k) for k in keys], quarterLength=0.25))
        streams.append(s)
    t = time.perf_counter()
    keys = [s.analyze("krumhansl") for s in streams if len(s)]
    return (time.perf_counter() - t) / len(streams), keys


def music21_score(roll) -> str:
    from music21 import chord, clef, stream

    from musicgen_lib.render.score import score_svg

    upper, lower = stream.Part(), stream.Part()
    upper.insert(0, clef.TrebleClef())
    lower.insert(0, clef.BassClef())
    for k in range(88):
        col = np.r_[0, roll[:, k].astype(int), 0]
        starts = np.flatnonzero(np.diff(col) == 1)
        ends = np.flatnonzero(np.diff(col) == -1)
        for s, e in zip(starts, ends):
            (upper if k + 21 >= 60 else lower).insert(
                s / 4, chord.Chord([k + 21], quarterLength=(e - s) / 4))
    score = stream.Score([upper, lower])
    return score_svg(score)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", help="default: the data home's thesis-2018")
    ap.add_argument("--reference-windows", type=int, default=120,
                    help="bars analysed by music21 itself (timed, then extrapolated)")
    args = ap.parse_args()
    hour = Path(args.reference or require("thesis-2018")) / "final-model-1h.mid"

    import musicgen_lib.analysis.harmony as harmony
    harmony.key_profiles("krumhansl")  # imports music21 outside the timings
    import music21  # noqa: F401

    (h, whole, agg, T), t_hour = timed(analyse_hour, hour)
    per_window, _ = music21_windows(hour, args.reference_windows)
    n_windows = len(h.keys)
    t_ref = per_window * n_windows
    print(f"1. analysing the author's hour ({T} steps, {n_windows} one-bar windows, "
          f"{len(h.chords)} chord labels, every metric on the whole file and on "
          f"{agg['out_of_key_rate']['n']} fragments): {t_hour:.2f} s (target <= 60 s)")
    print(f"   music21 analyze('krumhansl') per window: {1000 * per_window:.1f} ms -> "
          f"{t_ref:.1f} s for the hour's keys alone; ratio {t_ref / t_hour:.1f}x")

    from musicgen_lib.data import notes_to_roll, read_midi
    from musicgen_lib.render.audio import audio_bytes, render_audio
    from musicgen_lib.render.score import roll_score_svg

    notes = read_midi(hour)
    roll = notes_to_roll(notes)
    onsets = notes_to_roll(notes, semantics="onset", n_steps=len(roll))
    render_audio(roll[:16])  # load the soundfont outside the timing
    mp3, t_audio = timed(audio_bytes, roll[:240])
    seconds = 240 / 8
    print(f"2. rendering {seconds:.0f} s of music to MP3 ({len(mp3) // 1024} KB, "
          f"{render_audio(roll[:16]).synthesizer}): {t_audio:.2f} s (target <= 2 s); "
          f"{seconds / t_audio:.0f}x real time")

    roll_score_svg(roll[16:32])  # warm music21/verovio imports
    _, t_score = timed(roll_score_svg, roll[16:272], onsets=onsets[16:272])
    _, t_generic = timed(music21_score, roll[16:272])
    print(f"3. engraving a 256-step score: {t_score:.2f} s (target <= 2 s); music21's generic "
          f"path {t_generic:.2f} s; ratio {t_generic / t_score:.1f}x")


if __name__ == "__main__":
    main()
