"""The ``musicgen sample`` sub-command (wired into cli.py): prime the thesis model with a bar
of real music and continue it; writes prime + continuation as MIDI.

    musicgen sample --out sample.mid           # the chorale model shipped with the package
    musicgen sample --checkpoint DIR [--generator RUN] [--prime F.mid | --prime-dataset NAME]
    musicgen sample --checkpoint checkpoints/review-piano/performance-rnn --steps 2000 --out p.mid

A checkpoint of a model of events or notes (Performance RNN, BachProp; notebook 04c) is sampled
from the start instead: ``--steps`` events or notes, no prime.

Explained in notebooks/08_training_and_samples.ipynb.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import cli_types as types
from .errors import DataError, MusicgenError, OutputError


def add_sample_parser(sub):
    sample = sub.add_parser("sample", help="generate music with the thesis model",
                            description="Prime the thesis model with one bar of real music "
                                        "and continue it; writes prime + continuation as MIDI.")
    sample.add_argument("--checkpoint",
                        help="a checkpoint folder (ours, or the author's folder holding "
                             "greats-model.pt and greats-decoder.pt); default: the committed "
                             "model trained on the music21 chorales. A Performance RNN or "
                             "BachProp run (checkpoints/review-piano/performance-rnn, "
                             "checkpoints/review-chorales/bachprop) generates --steps events or "
                             "notes from the start")
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
    return sample


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


def _other_generator(run, dec, steps_per_beat: int):
    """The generator network of the ``thesis`` run ``run`` (``--generator``), checked to read
    the decoder's rolls on the checkpoint's time grid."""
    from .checkpoints import load_trained, run_steps_per_beat
    from .models.thesis import ThesisGenerator

    model, config = load_trained(run)
    gen = getattr(model, "net", None)
    if not isinstance(gen, ThesisGenerator):
        raise DataError(f"{run}: not a run of the model 'thesis' (it holds a run "
                        f"of {config.get('model')!r})")
    if gen.cfg.semantics != dec.cfg.semantics:
        raise DataError(f"{run}: reads {gen.cfg.semantics} rolls, the decoder "
                        f"{dec.cfg.semantics} rolls")
    if run_steps_per_beat(config) != steps_per_beat:
        raise DataError(f"{run}: steps {run_steps_per_beat(config)} steps per beat, "
                        f"the checkpoint's generator {steps_per_beat}")
    return gen


def _prime_roll(args, prime_dataset: str, semantics: str, steps_per_beat: int, rng,
                checkpoint: str):
    """(roll, source, bar): the whole piece whose bar primes the model — --prime's file, or a
    random test piece of --prime-dataset (read on the checkpoint's grid and semantics) — and
    the steps of its bar: its first time signature's (a MIDI file's, a chorale's), else 4/4."""
    from .data import load_dataset, notes_to_roll, read_midi
    from .data.datasets import JSB_RESOLUTIONS, chorale_files, chorale_notes
    from .data.primes import beats_per_bar

    def from_notes(notes, source):
        roll = notes_to_roll(notes, steps_per_beat=steps_per_beat, semantics=semantics)
        return roll, source, int(beats_per_bar(notes, steps_per_beat) * steps_per_beat)

    if args.prime:
        return from_notes(read_midi(args.prime), args.prime)
    if prime_dataset == "chorales":
        # one chorale of the test split, parsed alone: no need to parse the whole corpus
        files = chorale_files("test")
        name, file = files[rng.integers(len(files))]
        return from_notes(chorale_notes(file), f"chorales:{name}")
    bar = 4 * steps_per_beat  # rolls without metre: 4/4
    if prime_dataset == "jsb":
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
    return piece.roll, f"{prime_dataset}:{piece.name}", bar


def _token_model(folder) -> bool:
    """Whether ``folder`` is a trained run of a model that generates from the start, without a
    prime: a model of tokens (events, notes) or a GAN's generator (whole fragments from noise)."""
    from .models import registry

    try:
        name = registry.canonical(json.loads((Path(folder) / "config.json").read_text())["model"])
    except (OSError, ValueError, KeyError, TypeError, MusicgenError):
        return False
    cls = registry.MODELS[name][0]
    return cls.step_unit != "frame" or getattr(cls, "adversarial", False)


def _sample_tokens(args) -> int:
    """``musicgen sample`` of a token model or a GAN: ``--steps`` events, notes or frames drawn
    from the start at ``--temperature`` (a GAN: the scale of its noise), written as MIDI (prime
    options do not apply)."""
    import torch

    from .checkpoints import load_trained
    from .data import write_midi

    for option in ("prime", "prime_dataset", "generator", "history", "gibbs_steps"):
        if getattr(args, option):
            raise DataError(f"--{option.replace('_', '-')} does not apply to {args.checkpoint}: its "
                            "model generates from the start, without a prime")
    model, config = load_trained(args.checkpoint)
    rng = torch.Generator().manual_seed(args.seed)
    tokens = model.generate(args.steps, batch=1, temperature=args.temperature, generator=rng)[0]
    notes = model.to_notes(tokens.numpy())
    try:
        write_midi(notes, args.out)
    except OSError as e:
        raise OutputError(f"{args.out}: cannot write ({e.strerror})") from None
    count = "" if model.step_unit == "note" else f" ({len(notes)} notes)"
    print(f"wrote {args.out}: {args.steps} {model.step_unit}s of {config['model']}{count}, "
          f"temperature {args.temperature:g}, seed {args.seed}")
    return 0


def cmd_sample(args) -> int:
    from .checkpoints import checkpoint_steps_per_beat, load_thesis_model
    from .data import roll_to_midi
    from .data.primes import bar_with_history
    from .files import check_output
    from .sample import generate

    if args.path and args.prime:
        raise DataError("--path is the folder of --prime-dataset; --prime reads one MIDI file")
    if args.path and args.prime_dataset is None:
        raise DataError("--path needs --prime-dataset (midi, jsb or piano-midi-de): "
                        "the dataset to read from that folder")
    if args.path and args.prime_dataset == "chorales":
        raise DataError("--prime-dataset chorales is music21's built-in corpus and takes no --path")
    prime_dataset = args.prime_dataset or "chorales"
    check_output(args.out, inputs=[args.prime], force=args.force, suffixes=(".mid", ".midi"))
    if args.checkpoint and _token_model(args.checkpoint):  # Performance RNN, BachProp
        return _sample_tokens(args)
    gen, dec = load_thesis_model(args.checkpoint)
    # the grid the generator steps on: the prime is read, and the MIDI written, on it
    steps_per_beat = checkpoint_steps_per_beat(args.checkpoint)
    if args.generator:  # another generator run with this checkpoint's decoder
        gen = _other_generator(args.generator, dec, steps_per_beat)
    semantics = gen.cfg.semantics
    checkpoint = args.checkpoint or "the default checkpoint"
    if prime_dataset == "jsb" and semantics != "sounding":
        usable = _sounding_checkpoints()
        raise DataError(
            f"--prime-dataset jsb holds sounding rolls only, and {checkpoint} reads "
            f"{semantics} rolls; prime it with --prime FILE.mid or another --prime-dataset, or "
            + (f"sample a checkpoint that reads sounding rolls: --checkpoint {' or '.join(usable)}"
               if usable else "sample a thesis model trained with semantics sounding"))
    rng = np.random.default_rng(args.seed)
    roll, source, bar = _prime_roll(args, prime_dataset, semantics, steps_per_beat, rng, checkpoint)
    prime, first, last = bar_with_history(roll, bar, args.history, None if args.prime else rng,
                                          source)
    sample = generate(gen, dec, prime, steps=args.steps, temperature=args.temperature,
                      seed=args.seed, progress=sys.stderr.isatty(), gibbs_steps=args.gibbs_steps)
    out_roll = np.concatenate([prime, sample.roll[0]])
    velocity = np.concatenate([np.where(prime > 0, 80, 0), sample.velocity[0]]).astype(np.uint8)
    try:
        roll_to_midi(out_roll, args.out, steps_per_beat=steps_per_beat, semantics=semantics,
                     velocity=velocity)
    except OSError as e:
        raise OutputError(f"{args.out}: cannot write ({e.strerror})") from None
    print(f"wrote {args.out}: steps {first}..{last} of {source} (the last bar primes, the rest "
          f"is history) and {args.steps} generated steps at {steps_per_beat} per beat, "
          f"seed {args.seed}")
    return 0
