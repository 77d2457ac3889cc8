"""The ``musicgen`` command line (also ``python -m musicgen_lib``).

Sub-commands follow the data's path; each is a thin layer over library functions.
Errors in the user's input print one line, ``musicgen: error: …``, and exit with 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import cli_types as types
from .errors import MusicgenError, OutputError

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
                        "piano-midi-de (MIDI folder, thesis filters), midi (any MIDI folder)")
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


def cmd_data_stats(args) -> int:
    stats = dataset_stats(load_dataset_from_args(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
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
                progress=sys.stderr.isatty())
    print(f"{r.out}: {r.shards} shards ({len(r.written)} written, {len(r.reused)} already "
          f"complete), {r.pieces} pieces, {r.steps} steps")
    if r.skipped:
        print(f"skipped {len(r.skipped)} files:")
        for k in r.skipped:
            print(f"  {k.file}: {k.reason}")
    return 0


def _sounding_checkpoints() -> list:
    """The committed thesis-model checkpoints whose generator reads sounding rolls (those
    that ``--prime-dataset jsb`` can prime), as paths to give ``--checkpoint``."""
    from .checkpoints import BUNDLED, CHECKOUT_CHECKPOINTS

    found = []
    for root in (BUNDLED, CHECKOUT_CHECKPOINTS):
        for config in sorted(root.glob("*/generator/config.json")):
            try:
                if json.loads(config.read_text())["config"]["semantics"] == "sounding":
                    found.append(str(config.parents[1]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return found


def cmd_sample(args) -> int:
    import numpy as np

    from .data import load_dataset, midi_to_roll, roll_to_midi
    from .errors import DataError
    from .files import check_output
    from .sample import checkpoint_steps_per_beat, generate, load_thesis_model, run_steps_per_beat

    if args.path and args.prime:
        raise DataError("--path is the folder of --prime-dataset; --prime reads one MIDI file")
    if args.path and args.prime_dataset is None:
        raise DataError("--path needs --prime-dataset (midi, jsb or piano-midi-de): "
                        "the dataset to read from that folder")
    if args.path and args.prime_dataset == "chorales":
        raise DataError("--prime-dataset chorales is music21's built-in corpus and takes no --path")
    prime_dataset = args.prime_dataset or "chorales"
    check_output(args.out, inputs=[args.prime], force=args.force, suffixes=(".mid", ".midi"))
    gen, dec = load_thesis_model(args.checkpoint) if args.checkpoint else load_thesis_model()
    # the grid the generator steps on: the prime is read, and the MIDI written, on it
    steps_per_beat = checkpoint_steps_per_beat(args.checkpoint)
    if args.generator:  # another generator run with this checkpoint's decoder
        from .models.thesis import ThesisGenerator
        from .train import load_trained

        model, config = load_trained(args.generator)
        gen = getattr(model, "net", None)
        if not isinstance(gen, ThesisGenerator):
            raise DataError(f"{args.generator}: not a run of the model 'thesis' (it holds a run "
                            f"of {config.get('model')!r})")
        if gen.config.semantics != dec.config.semantics:
            raise DataError(f"{args.generator}: reads {gen.config.semantics} rolls, the decoder "
                            f"{dec.config.semantics} rolls")
        if run_steps_per_beat(config) != steps_per_beat:
            raise DataError(f"{args.generator}: steps {run_steps_per_beat(config)} steps per beat, "
                            f"the checkpoint's generator {steps_per_beat}")
    semantics = gen.config.semantics
    checkpoint = args.checkpoint or "the default checkpoint"
    if prime_dataset == "jsb" and semantics != "sounding":
        usable = _sounding_checkpoints()
        raise DataError(
            f"--prime-dataset jsb holds sounding rolls only, and {checkpoint} reads "
            f"{semantics} rolls; prime it with --prime FILE.mid or another --prime-dataset, or "
            + (f"sample a checkpoint that reads sounding rolls: --checkpoint {' or '.join(usable)}"
               if usable else "sample a thesis model trained with semantics sounding"))
    bar = 4 * steps_per_beat  # a 4/4 bar
    rng = np.random.default_rng(args.seed)
    if args.prime:
        roll = midi_to_roll(args.prime, steps_per_beat=steps_per_beat, semantics=semantics)
        source = args.prime
    elif prime_dataset == "chorales":
        # one chorale of the test split, parsed alone: no need to parse the whole corpus
        from .data import notes_to_roll
        from .data.datasets import chorale_files, chorale_notes

        files = chorale_files("test")
        name, file = files[rng.integers(len(files))]
        roll = notes_to_roll(chorale_notes(file), steps_per_beat=steps_per_beat,
                             semantics=semantics)
        source = f"chorales:{name}"
    else:
        if prime_dataset == "jsb":
            from .data.datasets import JSB_RESOLUTIONS

            resolution = {v: k for k, v in JSB_RESOLUTIONS.items()}.get(steps_per_beat)
            if resolution is None:
                raise DataError(f"{checkpoint} steps {steps_per_beat} steps per beat; the JSB "
                                f"chorales come at {', '.join(map(str, JSB_RESOLUTIONS.values()))}")
            ds = load_dataset("jsb", args.path, resolution=resolution)
        else:
            ds = load_dataset(prime_dataset, args.path, steps_per_beat=steps_per_beat,
                              semantics=semantics)
        pieces = [p for p in ds.pieces("test") if len(p) > bar] or \
            [p for p in ds.pieces() if len(p) > bar]
        if not pieces:
            raise DataError(f"dataset {prime_dataset!r} has no piece longer than one bar")
        piece = pieces[rng.integers(len(pieces))]
        roll, source = piece.roll, f"{prime_dataset}:{piece.name}"
    sounding = np.flatnonzero(roll.any(axis=1))
    if not len(sounding):
        raise DataError(f"{source}: the prime holds no notes")
    # the prime bar, after --history steps of the piece where it has them
    first = sounding[0] // bar * bar
    lo = min(first + args.history, max(first, (len(roll) - bar) // bar * bar))
    starts = np.arange(lo, max(lo + 1, len(roll) - bar + 1), bar)
    a = int(starts[rng.integers(len(starts))]) if not args.prime else int(lo)
    prime = roll[max(0, a - args.history):a + bar]
    sample = generate(gen, dec, prime, steps=args.steps, temperature=args.temperature,
                      seed=args.seed, progress=sys.stderr.isatty(), gibbs_steps=args.gibbs_steps)
    out_roll = np.concatenate([prime, sample.roll[0]])
    velocity = np.concatenate([np.where(prime > 0, 80, 0), sample.velocity[0]]).astype(np.uint8)
    try:
        roll_to_midi(out_roll, args.out, steps_per_beat=steps_per_beat, semantics=semantics,
                     velocity=velocity)
    except OSError as e:
        raise OutputError(f"{args.out}: cannot write ({e.strerror})") from None
    print(f"wrote {args.out}: steps {a - len(prime) + bar}..{a + bar - 1} of {source} (the last bar "
          f"primes, the rest is history) and {args.steps} generated steps at {steps_per_beat} "
          f"per beat, seed {args.seed}")
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
    prep.set_defaults(func=cmd_data_prepare)

    sample = sub.add_parser("sample", help="generate music with the thesis model",
                            description="Prime the thesis model with one bar of real music "
                                        "and continue it; writes prime + continuation as MIDI.")
    sample.add_argument("--checkpoint",
                        help="a checkpoint folder (ours, or the author's folder holding "
                             "greats-model.pt and greats-decoder.pt); default: the committed "
                             "model trained on the music21 chorales")
    prime = sample.add_mutually_exclusive_group()
    prime.add_argument("--prime", help="a MIDI file whose first bar primes the model")
    prime.add_argument("--prime-dataset", choices=["chorales", "jsb", "piano-midi-de", "midi"],
                       help="prime with a random bar of a random test piece of this dataset "
                            "(default: chorales, built in); the sounding rolls of jsb prime "
                            "only checkpoints that read sounding rolls (thesis-jsb, "
                            "thesis-piano8)")
    sample.add_argument("--path", help="dataset folder for --prime-dataset (midi, jsb, "
                        "piano-midi-de)")
    sample.add_argument("--steps", type=types.sample_steps, default=256,
                        help=f"steps to generate, 1 to {types.MAX_SAMPLE_STEPS} (default 256; "
                             f"the music is kept in memory until the file is written)")
    sample.add_argument("--temperature", type=types.temperature, default=1.0,
                        help=f"divides the voices' logits, {types.TEMPERATURE[0]:g} to "
                             f"{types.TEMPERATURE[1]:g} (default 1)")
    sample.add_argument("--gibbs-steps", type=types.gibbs_steps,
                        help="the decoder's Gibbs sweeps per frame, 1 to "
                             f"{types.MAX_GIBBS_STEPS} (default: the checkpoint's; notebook 10 "
                             "uses 8 for thesis-piano)")
    sample.add_argument("--generator", help="a trained 'thesis' run to use instead of the "
                        "checkpoint's generator, e.g. checkpoints/thesis-piano/generator-path")
    sample.add_argument("--history", type=types.history, default=0, help="also read this many steps before "
                        "the prime bar (default 0; notebook 10 gives generator-path 128)")
    sample.add_argument("--seed", type=types.seed, default=0, help="0 to 2**32-1 (default 0)")
    sample.add_argument("--out", required=True, help="output MIDI file (.mid)")
    sample.add_argument("--force", action="store_true", help="replace --out if it exists")
    sample.set_defaults(func=cmd_sample)

    from .cli_models import add_evaluate_parser, add_train_parser
    from .cli_outputs import add_analyze_parser, add_render_parser

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
