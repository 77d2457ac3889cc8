"""The ``musicgen`` command line (also ``python -m musicgen_lib``).

Sub-commands follow the data's path; each is a thin layer over library functions.
Errors in the user's input print one line, ``musicgen: error: …``, and exit with 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import cli_types as types
from .errors import MusicgenError

EXAMPLES = """examples:
  musicgen data fetch all                    # the datasets and the author's files, into the data home
  musicgen data home                         # where the data home is and what it holds
  musicgen data stats --dataset chorales
  musicgen data stats --dataset jsb --resolution quarter
  musicgen data stats --dataset piano-midi-de --json
  musicgen data stats --dataset midi --path my-midi-folder
  musicgen data prepare my-midi-folder --out shards/mine
  musicgen train --model lstm --dataset shards --path shards/mine --out runs/lstm
  musicgen train --model rnn-nade --dataset jsb --out runs/nade
  musicgen evaluate --checkpoint runs/nade --dataset jsb --json
  musicgen evaluate --checkpoint checkpoints/thesis-jsb --dataset jsb
  musicgen sample --out sample.mid           # the chorale model shipped with the package
  musicgen sample --checkpoint "$(musicgen data home --source thesis-2018)" --out author.mid
  musicgen sample --checkpoint checkpoints/thesis-piano --generator checkpoints/thesis-piano/generator-path \
      --history 128 --temperature 0.8 --gibbs-steps 8 --prime-dataset piano-midi-de --out piano.mid
  musicgen render sample.mid --audio sample.mp3 --score sample.svg --roll sample.png
  musicgen analyze sample.mid --json
"""


def _add_dataset_args(p: argparse.ArgumentParser) -> None:
    from .data.datasets import DATASETS, JSB_RESOLUTIONS

    p.add_argument("--dataset", required=True, choices=DATASETS,
                   help="chorales (music21's bundled corpus, no path needed), jsb (BL 2012 JSON), "
                        "piano-midi-de (MIDI folder, thesis filters), midi (any MIDI folder), "
                        "jsb-satb (the JSB chorales' labelled voices, 16th notes), piano-events "
                        "(piano-midi-de as Performance RNN events), chorale-triples (chorales as "
                        "BachProp's note triples), chorale-melodies (the chorales' top lines)")
    p.add_argument("--path", help="dataset folder (or file); default for jsb and piano-midi-de: "
                                  "the data home (`musicgen data home`); not needed for chorales")
    p.add_argument("--resolution", default="quarter", choices=list(JSB_RESOLUTIONS),
                   help="JSB time resolution (default: quarter, the benchmark)")
    p.add_argument("--steps-per-beat", type=types.steps_per_beat, default=4,
                   help="grid for MIDI datasets, 1 to 96 (default: 4, 16 steps per 4/4 bar)")
    p.add_argument("--semantics", default="sounding", choices=["sounding", "onset"],
                   help="piano-roll semantics (default: sounding)")
    p.add_argument("--no-cache", action="store_true", help="parse again, ignoring the cache")


def load_dataset_from_args(args, progress: bool = True):
    """The dataset named by ``--dataset/--path/...`` arguments."""
    from .data import load_dataset
    from .errors import DataError

    if args.dataset == "jsb" and args.semantics != "sounding":
        raise DataError("the JSB chorales hold sounding notes only: use --semantics sounding")
    return load_dataset(args.dataset, args.path, resolution=args.resolution,
                        steps_per_beat=args.steps_per_beat, semantics=args.semantics,
                        cache=not args.no_cache, progress=progress and sys.stderr.isatty())


def dataset_stats(ds, chunk: int = 65536) -> dict:
    """``ds.stats()`` (the same numbers), computed piece by piece in chunks of ``chunk`` steps:
    the library's version stacks every roll and widens it to int32 (a 44-byte file of one
    99 000-quarter note took 4.4 GB at 75 steps per beat)."""
    import numpy as np

    from .data.midi import LOWEST_KEY
    from .data.octave import compress

    if hasattr(ds, "model_options"):  # tokens (voices, events, notes), not rolls: its own statistics
        return ds.stats()
    splits = {}
    for split, pieces in ds.splits.items():
        if not pieces:
            splits[split] = {"pieces": 0, "steps": 0}
            continue
        on, poly, classes = np.zeros(pieces[0].roll.shape[1], bool), 0, 0
        for p in pieces:
            for i in range(0, len(p.roll), chunk):
                part = p.roll[i:i + chunk]
                on |= part.any(axis=0)
                poly = max(poly, int(part.sum(axis=1).max()))
                classes = max(classes, int(compress(part).sum(axis=1).max()))
        keys, lengths = np.flatnonzero(on), [len(p) for p in pieces]
        splits[split] = {
            "pieces": len(pieces), "steps": int(sum(lengths)),
            "mean_steps": round(float(np.mean(lengths)), 1),
            "lowest_pitch": int(keys.min() + LOWEST_KEY) if len(keys) else None,
            "highest_pitch": int(keys.max() + LOWEST_KEY) if len(keys) else None,
            "max_polyphony": poly, "max_pitch_classes": classes}
    return {"dataset": ds.name, "steps_per_beat": ds.steps_per_beat, "semantics": ds.semantics,
            "splits": splits, "skipped": [{"file": s.file, "reason": s.reason} for s in ds.skipped]}


def _print_token_stats(stats: dict) -> None:
    u = stats["unit"]
    print(f"dataset {stats['dataset']} (one token per {u})")
    print(f"{'split':<7}{'pieces':>8}{u + 's':>10}{'mean':>9}{'max':>9}")
    for split, s in stats["splits"].items():
        print(f"{split:<7}{s['pieces']:>8}{s[u + 's']:>10}{s['mean_' + u + 's']:>9.0f}"
              f"{s['max_' + u + 's']:>9}")


def _print_roll_stats(stats: dict) -> None:
    print(f"dataset {stats['dataset']} ({stats['semantics']}, "
          f"{stats['steps_per_beat']} steps per beat)")
    print(f"{'split':<7}{'pieces':>8}{'steps':>10}{'mean':>9}{'pitches':>10}"
          f"{'max poly':>10}{'max pcs':>9}")
    for split, s in stats["splits"].items():
        if not s["pieces"]:
            print(f"{split:<7}{0:>8}{0:>10}")
            continue
        print(f"{split:<7}{s['pieces']:>8}{s['steps']:>10}{s['mean_steps']:>9.0f}"
              f"{s['lowest_pitch']:>5}-{s['highest_pitch']:<4}{s['max_polyphony']:>10}"
              f"{s['max_pitch_classes']:>9}")


def cmd_data_stats(args) -> int:
    stats = dataset_stats(load_dataset_from_args(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    if "unit" in stats:  # tokens (events, notes, melody steps): counted in their unit
        _print_token_stats(stats)
    else:
        _print_roll_stats(stats)
    if stats["skipped"]:
        print(f"skipped {len(stats['skipped'])} files:")
        for k in stats["skipped"]:
            print(f"  {k['file']}: {k['reason']}")
    return 0


def cmd_data_fetch(args) -> int:
    from .data.fetch import fetch

    r = fetch(args.names, home=args.home, mirror=args.mirror)
    for name, files in r.downloaded.items():
        print(f"{name}: {len(files)} files downloaded, {r.present[name]} already present "
              f"({r.home})")
    return 0


def cmd_data_home(args) -> int:
    from .data.home import SOURCES, data_home, missing_files, source_folder, sources

    if args.source:
        print(source_folder(args.source))
        return 0
    home = data_home()
    print(f"data home: {home}")
    for name in SOURCES:
        n, missing = len(sources()[name]["files"]), len(missing_files(name))
        state = "complete" if not missing else "absent" if missing == n else \
            f"incomplete ({missing} of {n} files missing)"
        print(f"  {name:<14} {state:<12} {source_folder(name)}")
    return 0


def _holds_shards(folder, names) -> bool:
    """Whether ``names`` in ``folder`` are what `musicgen data prepare` writes: its
    manifest.json (with the options it records) and shard-NNNNN.npz files."""
    import re

    from .data.shards import MANIFEST

    if MANIFEST not in names or not all(n == MANIFEST or re.fullmatch(r"shard-\d+\.npz", n)
                                        for n in names):
        return False
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and isinstance(manifest.get("options"), dict) \
        and "version" in manifest["options"]


def cmd_data_prepare(args) -> int:
    from .data.shards import prepare
    from .files import check_output_folder

    check_output_folder(args.out, ours=_holds_shards, what="shards")  # before any work
    r = prepare(args.folder, args.out, steps_per_beat=args.steps_per_beat,
                semantics=args.semantics, shard_size=args.shard_size, workers=args.workers,
                progress=sys.stderr.isatty(), force=args.force)
    print(f"{r.out}: {r.shards} shards ({len(r.written)} written, {len(r.reused)} already "
          f"complete), {r.pieces} pieces, {r.steps} steps")
    if r.skipped:
        print(f"skipped {len(r.skipped)} files:")
        for k in r.skipped:
            print(f"  {k.file}: {k.reason}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = types.Parser(
        prog="musicgen", description="Neural polyphonic music generation (Ivanov 2018, rebuilt).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = sub.add_parser("data", help="inspect and prepare datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    stats = data_sub.add_parser("stats", help="per-split pieces, steps, pitch range, polyphony, "
                                              "and the skipped files with their reasons")
    _add_dataset_args(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=cmd_data_stats)
    from .data.home import SOURCES

    fetch = data_sub.add_parser(
        "fetch", help="download datasets and the thesis author's files into the data home",
        description="Download each file from its public source at a pinned commit (or from "
                    "--mirror), verify its SHA-256 and move it into the data home; resumes "
                    "broken transfers, and downloads nothing that is already there. The data "
                    "home is $MUSICGEN_DATA, else ../shared beside the source checkout, else "
                    "the user's data folder.")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help=f"{', '.join(SOURCES)} or all (default: all)")
    fetch.add_argument("--home", help="the data home to fill (default: `musicgen data home`)")
    fetch.add_argument("--mirror", help="a URL laid out like the data home "
                       "(URL/datasets/jsb-chorales/...); default $MUSICGEN_MIRROR, else the "
                       "public sources")
    fetch.set_defaults(func=cmd_data_fetch)
    home = data_sub.add_parser("home", help="where the data home is and which sources it holds")
    home.add_argument("--source", choices=SOURCES, help="print only this source's folder")
    home.set_defaults(func=cmd_data_home)
    prep = data_sub.add_parser(
        "prepare", help="convert a folder of MIDI files into compressed shards of piano rolls",
        description="Parse every MIDI file under FOLDER (recursively) in parallel into "
                    "shard-NNNNN.npz files plus manifest.json; re-running skips complete shards.")
    prep.add_argument("folder", help="folder of MIDI files (*.mid, *.midi), searched recursively")
    prep.add_argument("--out", required=True, help="output folder for the shards")
    prep.add_argument("--steps-per-beat", type=types.steps_per_beat, default=4,
                      help="grid, 1 to 96 (default: 4, 16 steps per 4/4 bar)")
    prep.add_argument("--semantics", default="sounding", choices=["sounding", "onset"],
                      help="piano-roll semantics (default: sounding)")
    prep.add_argument("--shard-size", type=types.positive_int, default=256,
                      help="files per shard (default: 256)")
    prep.add_argument("--workers", type=types.workers, default=None,
                      help="parallel processes (default: the CPU count)")
    prep.add_argument("--force", action="store_true", help="replace shards in --out that come "
                      "from another folder or other options (the same ones are resumed)")
    prep.set_defaults(func=cmd_data_prepare)

    from .cli_models import add_evaluate_parser, add_train_parser
    from .cli_outputs import add_analyze_parser, add_render_parser
    from .cli_sample import add_sample_parser

    add_sample_parser(sub)
    add_train_parser(sub)
    add_evaluate_parser(sub)
    add_render_parser(sub)
    add_analyze_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a bad argument (2, one line printed)
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    try:
        return args.func(args)
    except MusicgenError as e:
        print(f"musicgen: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `musicgen data stats ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("musicgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
