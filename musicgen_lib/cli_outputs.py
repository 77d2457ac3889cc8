"""``musicgen render`` and ``musicgen analyze``: hear, see and measure MIDI files
(notebook 09_harmony_analysis). Thin layers over :mod:`musicgen_lib.render` and
:mod:`musicgen_lib.analysis`; wired into :mod:`musicgen_lib.cli` with
:func:`add_render_parser` and :func:`add_analyze_parser`.

    musicgen render FILE.mid --audio out.mp3 --score out.svg --roll out.png [--start BAR --bars N]
    musicgen analyze FILE.mid|DIR [--json] [--report out.html] [--window 16 --hop 16]
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

from . import cli_types as types
from .errors import OutputError
from .files import atomic_write_bytes, check_output

#: ``musicgen render`` draws at most this many steps of piano roll (512 bars; beyond some
#: 4 000 steps a step is narrower than a pixel of the widest plot, and every bar line costs
#: time: 400 000 steps took 36 s) and engraves at most this many bars of score (128 bars
#: take some 8 s and 4 MB of SVG); a longer range is cut, with a note on stderr.
MAX_ROLL_STEPS = 8192
MAX_SCORE_BARS = 128


# ---------------------------------------------------------------- render

def add_render_parser(subparsers) -> None:
    """Register ``render`` on the ``musicgen`` sub-command parsers."""
    p = subparsers.add_parser(
        "render", help="MIDI file -> audio (MP3/WAV/FLAC), engraved score (SVG), piano roll (PNG)",
        description="Render a MIDI file (or a range of its bars) as audio with a General MIDI "
                    "piano, as a two-staff score engraved by verovio, and as a piano-roll plot.")
    p.add_argument("file", help="MIDI file")
    p.add_argument("--audio", metavar="OUT", help="audio file: .mp3, .wav or .flac")
    p.add_argument("--score", metavar="OUT.svg", help="engraved score (SVG)")
    p.add_argument("--roll", metavar="OUT.png", help="piano-roll plot (PNG)")
    p.add_argument("--start", type=types.bar_number, default=1, metavar="BAR",
                   help="first bar to render (default 1)")
    p.add_argument("--bars", type=types.bar_number, metavar="N",
                   help="number of bars (default: to the end; the score defaults to 32 bars). "
                        f"At most {MAX_SCORE_BARS} bars are engraved, {MAX_ROLL_STEPS} steps "
                        "drawn, and an hour of audio rendered; a longer range is cut, with a "
                        "note on stderr. Bars follow the file's time signatures (4/4 without)")
    p.add_argument("--bpm", type=types.bpm, default=120.0,
                   help=f"tempo for the audio of a bar range, {types.BPM[0]:g} to "
                        f"{types.BPM[1]:g} (default 120; a whole file keeps its own tempo map)")
    p.add_argument("--synth", default="auto", choices=["auto", "tinysoundfont", "sine"],
                   help="synthesiser (auto: TinySoundFont if installed, else a sine fallback)")
    p.add_argument("--force", action="store_true", help="replace output files that exist")
    p.set_defaults(func=cmd_render)


def _read_rolls(path: Path):
    """``(sounding, onset)`` rolls of a MIDI file at 4 steps per beat, and its bars (its
    time signatures: :func:`~musicgen_lib.data.metre.note_bars`)."""
    from .data import notes_to_roll, read_midi
    from .data.metre import note_bars

    notes = read_midi(path)
    roll = notes_to_roll(notes)
    onsets = notes_to_roll(notes, semantics="onset", n_steps=len(roll))
    return roll, onsets, note_bars(notes, len(roll), 4)


def cmd_render(args) -> int:
    import sys

    from .render.audio import AudioConfig, write_audio

    if not (args.audio or args.score or args.roll):
        raise OutputError("nothing to do: give --audio, --score and/or --roll")
    path = Path(args.file)
    for out, suffixes in ((args.audio, (".mp3", ".wav", ".flac")), (args.score, (".svg",)),
                          (args.roll, (".png",))):
        if out:
            check_output(out, inputs=[path], force=args.force, suffixes=suffixes)
    roll, onsets, all_bars = _read_rolls(path)  # bars in the file's metre
    if args.start > len(all_bars):
        raise OutputError(f"{path}: --start {args.start} is past the end ({len(all_bars)} bars)")
    chosen = all_bars[args.start - 1:None if args.bars is None else args.start - 1 + args.bars]
    a, b = chosen[0].start, chosen[-1].end
    whole = a == 0 and b == len(roll)
    if args.audio:
        from .render.audio import MAX_SECONDS, clip_events, events_from_midi, events_from_roll

        cfg = AudioConfig(bpm=args.bpm, synthesizer=args.synth)
        # the notes in seconds first: their length bounds the audio before it is allocated
        events = events_from_midi(path) if whole else events_from_roll(roll[a:b], cfg)
        if events.duration > MAX_SECONDS:
            _note(f"{path}: the audio would last {_hms(events.duration)}; rendering its first "
                  f"{_hms(MAX_SECONDS)} (the limit)")
            events = clip_events(events, 0.0, MAX_SECONDS - cfg.tail)
        r = write_audio(events, args.audio, cfg)
        print(f"{args.audio}: {r.seconds:.1f} s, {r.synthesizer}")
        if r.is_fallback:
            print("musicgen: warning: no soundfont synthesiser installed; the audio is a sine "
                  "fallback (pip install --no-deps tinysoundfont)", file=sys.stderr)
    if args.score:
        from .render.score import ScoreConfig, roll_score_svg

        from .data.metre import shifted

        engraved = chosen if args.bars is not None else chosen[:32]
        if len(engraved) > MAX_SCORE_BARS:
            _note(f"{path}: engraving {MAX_SCORE_BARS} bars of {len(engraved)} "
                  f"(the limit of a score)")
            engraved = engraved[:MAX_SCORE_BARS]
        sb = engraved[-1].end
        svg = roll_score_svg(roll[a:sb], ScoreConfig(split="auto"), onsets[a:sb],
                             bars=shifted(engraved, -a))
        _write_text(args.score, svg)
        signatures = ", ".join(dict.fromkeys(x.signature for x in engraved))
        print(f"{args.score}: bars {args.start}-{args.start - 1 + len(engraved)} ({signatures})")
    if args.roll:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .render.plots import plot_roll

        rb = b
        if rb - a > MAX_ROLL_STEPS:
            rb = a + MAX_ROLL_STEPS
            drawn = sum(x.end <= rb for x in chosen)
            _note(f"{path}: drawing {drawn} bars of {len(chosen)} ({MAX_ROLL_STEPS} steps, the "
                  f"limit of a piano-roll plot)")
        fig, ax = plt.subplots(figsize=(min(4 + (rb - a) / 25, 40), 4.5))
        plot_roll(roll[a:rb], ax, start_step=a, title=path.name, bars=chosen)
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, dpi=100, format="png")
        plt.close(fig)
        _write_bytes(args.roll, png.getvalue())
        print(f"{args.roll}: {rb - a} steps")
    return 0


def _note(text: str) -> None:
    import sys

    print(f"musicgen: note: {text}", file=sys.stderr)


def _hms(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min" if m else f"{seconds:.0f} s"


def _write_bytes(path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror})") from None


def _write_text(path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- analyze

def add_analyze_parser(subparsers) -> None:
    """Register ``analyze`` on the ``musicgen`` sub-command parsers."""
    p = subparsers.add_parser(
        "analyze", help="tonality, harmony and texture metrics of MIDI files (one file or a folder)",
        description="Measure MIDI files: out-of-key rate, key changes per minute, pitch-class "
                    "entropy, notes per onset step, onset density, pitch range, empty bars, "
                    "repetition; per file and for the set with 95% bootstrap intervals.")
    p.add_argument("path", help="a MIDI file or a folder (searched recursively)")
    p.add_argument("--json", action="store_true",
                   help="print JSON: {'files': [...], 'aggregate': {...}}")
    p.add_argument("--report", metavar="OUT.html", help="an HTML report with tables and figures")
    p.add_argument("--window", type=types.key_steps,
                   help="key window in steps (default: a bar of the file's metre, its most "
                        "frequent bar: 16 steps in 4/4, 12 in 3/4 and 6/8)")
    p.add_argument("--hop", type=types.key_steps, help="key hop in steps (default: the window)")
    p.add_argument("--minor", default="natural", choices=["natural", "harmonic", "melodic"],
                   help="the 7-note minor scale (default natural)")
    p.add_argument("--force", action="store_true", help="replace the report if it exists")
    p.set_defaults(func=cmd_analyze)


def _analyzed_files(path: Path) -> list:
    """The paths ``analyze`` reads: the MIDI files under a folder
    (:func:`~musicgen_lib.data.datasets.midi_files`), or ``path`` itself whatever its name."""
    from .data.datasets import midi_files
    from .errors import DataError

    if path.is_dir():
        try:
            return [p for _, p in midi_files(path)]
        except DataError as e:  # no MIDI files: nothing to analyse
            raise OutputError(str(e)) from None
    if not path.exists():
        raise OutputError(f"{path}: no such file or directory")
    return [path]


def _bar_steps(bars: list) -> int:
    """The length of a file's most frequent full bar, in steps (16 without any)."""
    from collections import Counter

    full = Counter(b.steps for b in bars[:-1]) or Counter(b.steps for b in bars)
    return max(full, key=lambda n: (full[n], n)) if full else 16


def analyze_files(files: list, window: int | None = None, hop: int | None = None,
                  minor: str = "natural"):
    """``(per-file results, aggregate, skipped)`` for a list of MIDI paths. The metrics'
    bars, and the key window and hop where not given, are each file's most frequent bar."""
    from .analysis.harmony import KeyConfig
    from .analysis.metrics import MetricsConfig, aggregate, piece_metrics
    from .errors import MidiError

    results, skipped = [], []
    for f in files:
        try:
            roll, onsets, bars = _read_rolls(f)
        except MidiError as e:
            skipped.append({"file": str(f), "reason": e.problem})
            continue
        bar = _bar_steps(bars)
        key = KeyConfig(window=window or bar, hop=hop or window or bar, minor_scale=minor)
        cfg = MetricsConfig(key=key, bar=bar)
        results.append({"file": str(f), "bar_steps": bar, **piece_metrics(roll, onsets, cfg)})
    metrics = [{k: v for k, v in r.items() if k not in ("file", "bar_steps")} for r in results]
    return results, aggregate(metrics) if metrics else {}, skipped


def _clean(x):
    """JSON-safe: nan -> None, floats rounded to 6 digits."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 6)
    return x


def cmd_analyze(args) -> int:
    from .analysis.metrics import HEADLINE_METRICS

    if args.report:
        check_output(args.report, inputs=[args.path], force=args.force, suffixes=(".html", ".htm"))
    files = _analyzed_files(Path(args.path))
    results, agg, skipped = analyze_files(files, args.window, args.hop, args.minor)
    if not results:
        raise OutputError(f"{args.path}: no readable MIDI file "
                          f"({'; '.join(s['file'] + ': ' + s['reason'] for s in skipped[:3])})")
    if args.json:
        print(json.dumps(_clean({"files": results, "aggregate": agg, "skipped": skipped}), indent=2))
    else:
        print(f"{len(results)} file(s) analysed" + (f", {len(skipped)} skipped" if skipped else ""))
        print(f"{'metric':<26}{'mean':>10}{'95% interval':>22}")
        for name in list(HEADLINE_METRICS) + ["polyphony"]:
            a = agg[name]
            print(f"{name:<26}{a['mean']:>10.3f}    [{a['ci_low']:.3f}, {a['ci_high']:.3f}]")
        for s in skipped:
            print(f"skipped {s['file']}: {s['reason']}")
    if args.report:
        _write_text(args.report, html_report(results, agg, skipped, files,
                                             window=args.window, hop=args.hop, minor=args.minor))
        if not args.json:
            print(f"report: {args.report}")
    return 0


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def html_report(results: list, agg: dict, skipped: list, files: list, window: int | None = None,
                hop: int | None = None, minor: str = "natural", figures: int = 3) -> str:
    """A self-contained HTML page: the aggregate with intervals, one row per file, and a
    Fig. 17-style harmony chart of the first 256 steps of up to ``figures`` files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .analysis.harmony import KeyConfig, analyze_harmony
    from .analysis.metrics import HEADLINE_METRICS
    from .render.plots import plot_harmony

    names = list(HEADLINE_METRICS) + ["polyphony"]
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{agg[n]['mean']:.3f}</td>"
        f"<td>[{agg[n]['ci_low']:.3f}, {agg[n]['ci_high']:.3f}]</td>"
        f"<td>{esc(HEADLINE_METRICS.get(n, 'keys sounding on non-silent steps'))}</td></tr>"
        for n in names)
    per_file = "".join(
        "<tr><td>" + esc(Path(r["file"]).name) + "</td>"
        + "".join(f"<td>{r[n]:.3f}</td>" for n in names) + "</tr>" for r in results)
    figs = []
    done = {r["file"] for r in results}
    for f in [f for f in files if str(f) in done][:figures]:
        roll, onsets, bars = _read_rolls(f)
        seg = slice(0, min(256, len(roll)))
        w = window or _bar_steps(bars)
        h = analyze_harmony(roll[seg], onsets[seg], KeyConfig(window=w, hop=hop or w, minor_scale=minor))
        fig, ax = plt.subplots(figsize=(15, 3.8))
        plot_harmony(roll[seg], h, ax, title=f"{Path(f).name}: first {seg.stop} steps")
        fig.tight_layout()
        figs.append(f'<img alt="harmony of {esc(Path(f).name)}" src="data:image/png;base64,{_png(fig)}">')
    skipped_html = "".join(f"<li>{esc(s['file'])}: {esc(s['reason'])}</li>" for s in skipped)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>musicgen analyze</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>Tonality and texture of {len(results)} file(s)</h1>
<p>Keys by Krumhansl&ndash;Schmuckler (music21's profiles) per {f"{window}-step window" if window
else "bar (each file's most frequent bar)"}, hop {hop or window or "a bar"};
{esc(minor)} minor scales. Intervals: 95% bootstrap over files.</p>
<h2>Aggregate</h2>
<table><tr><th>metric</th><th>mean</th><th>95% interval</th><th>what</th></tr>{rows}</table>
<h2>Harmony (thesis Fig. 17)</h2>
<p>Shaded: the 7-note scale in force; grey: notes; red: out-of-key notes; above: the key where
it changes (lower case = minor); below: chords as Roman numerals in the local key.</p>
{''.join(figs)}
<h2>Per file</h2>
<table><tr><th>file</th>{''.join(f'<th>{esc(n)}</th>' for n in names)}</tr>{per_file}</table>
{f'<h2>Skipped</h2><ul>{skipped_html}</ul>' if skipped else ''}
</body></html>
"""
