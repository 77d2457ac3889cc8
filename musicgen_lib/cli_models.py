"""The `musicgen train` and `musicgen evaluate` sub-commands (wired into cli.py).

    musicgen train --model NAME --dataset NAME [--path P] [--config file.json] --out DIR [--resume]
    musicgen evaluate --checkpoint DIR --dataset NAME [--path P] --split test --json
    torchrun --nproc_per_node=N -m musicgen_lib train ...   data-parallel (musicgen_lib/distributed.py)

--config is a JSON object {"model": {...model options...}, "train": {...training options...}}
(either section may be left out), or a config.json written by a previous training run.
Explained in notebooks/03_rnn_rbm.ipynb.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import cli_types as types
from .errors import ConfigError, MusicgenError
from .models import registry


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train a model on a dataset (resumable)",
                              description="Train one of the reviewed models; writes config.json, "
                              "model.pt (best on validation), checkpoint.pt and log.csv to --out.")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(registry.MODELS)}")
    _data_args(p)
    p.add_argument("--config", help='JSON file {"model": {...}, "train": {...}} of options')
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--force", action="store_true", help="replace the run saved in --out "
                   "(a folder that holds anything but a run is never written into)")
    p.add_argument("--max-steps", type=types.positive_int,
                   help="override the training option max_steps")
    p.add_argument("--max-minutes", type=types.positive_float,
                   help="stop resumably after this wall time")
    p.add_argument("--seed", type=types.seed, help="override the training option seed")
    p.add_argument("--init", help="start from the weights of this trained run's folder "
                   "(fine-tuning; the training option init)")
    p.add_argument("--threads", type=types.threads, help="torch CPU threads")
    _device_arg(p)
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (there is one only when stderr is a terminal)")
    p.set_defaults(func=run_train)
    return p


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("evaluate", help="NLL per step and frame accuracy of a checkpoint",
                              description="Negative log-likelihood in nats per time step (averaged "
                              "over all steps of the split) and expected frame accuracy, as in "
                              "Boulanger-Lewandowski et al. 2012.")
    p.add_argument("--checkpoint", required=True, help="folder with config.json and model.pt, or "
                   "a thesis-model folder with generator/ and decoder/ runs")
    _data_args(p)
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--ais-chains", type=types.ais_chains,
                   help="AIS chains per step (RBM-based models)")
    p.add_argument("--ais-betas", type=types.ais_betas, help="AIS intermediate temperatures")
    p.add_argument("--samples", type=types.accuracy_samples,
                   help="samples per step for frame accuracy")
    p.add_argument("--no-accuracy", action="store_true", help="skip frame accuracy")
    p.add_argument("--seed", type=types.seed, default=0)
    p.add_argument("--threads", type=types.threads, help="torch CPU threads")
    _device_arg(p)
    p.set_defaults(func=run_evaluate)
    return p


def _device_arg(p):
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where the model and batches live (default cpu); under torchrun, cuda "
                        "means the GPU numbered LOCAL_RANK")


def _data_args(p):
    p.add_argument("--dataset", required=True, help="jsb, jsb-satb, chorales, chorale-triples, chorale-melodies, piano-midi-de, "
                   "piano-events, midi, or shards "
                   "(a folder written by `musicgen data prepare`; training streams from it)")
    p.add_argument("--path", help="dataset folder or file (jsb, piano-midi-de, midi, shards)")
    p.add_argument("--resolution", default="quarter", help="jsb: quarter, 8th or 16th")
    p.add_argument("--steps-per-beat", type=types.steps_per_beat, default=4,
                   help="MIDI datasets: grid steps per beat, 1 to 96 (default 4)")


def _load_data(args, semantics: str = "sounding"):
    """The dataset of the arguments, in the piano-roll semantics the model was built for."""
    from .data import load_dataset

    if args.dataset == "shards":  # a folder from `musicgen data prepare`: streamed in training
        from .data.shards import ShardedRolls

        if not args.path:
            raise MusicgenError("--dataset shards needs --path, the folder `musicgen data prepare` wrote")
        try:
            train = ShardedRolls(args.path, "train")
            if not isinstance(train.options, dict) or "semantics" not in train.options:
                raise KeyError("options")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise MusicgenError(f"{args.path}: not a folder written by `musicgen data prepare` "
                                f"(its manifest.json is not one that command writes)") from None
        if train.options["semantics"] != semantics:
            raise MusicgenError(f"{args.path}: holds {train.options['semantics']} rolls, the model "
                                f"reads {semantics} rolls; prepare the folder with --semantics {semantics}")
        return _Shards(args.path, train), {"dataset": "shards", "path": args.path, **train.options}
    if args.dataset == "jsb" and semantics != "sounding":
        raise MusicgenError(f"the model reads {semantics} rolls, and the JSB chorales hold "
                            "sounding notes only: use another dataset (chorales, piano-midi-de, "
                            "midi) or a model configuration with semantics sounding")
    kw = {"resolution": args.resolution} if args.dataset == "jsb" else {"steps_per_beat": args.steps_per_beat}
    if semantics != "sounding":
        kw["semantics"] = semantics
    ds = load_dataset(args.dataset, args.path, **kw)
    if getattr(ds, "skipped", None):  # reported, never silently dropped
        first = ds.skipped[0]
        more = f" and {len(ds.skipped) - 1} more (`musicgen data stats` lists them)" \
            if len(ds.skipped) > 1 else ""
        print(f"musicgen: note: skipped {first.file}: {first.reason}{more}", file=sys.stderr)
    from .data.tokens import TokenDataset

    if isinstance(ds, TokenDataset):  # events or notes: no grid, no piano-roll semantics
        return ds, {"dataset": args.dataset, "path": args.path}
    info = {"dataset": args.dataset, "path": args.path, "semantics": semantics,
            **({"resolution": args.resolution} if args.dataset == "jsb" else {"steps_per_beat": args.steps_per_beat})}
    return ds, info


def _check_lengths(ds, splits, spb_hint: str) -> None:
    """Refuse, before any batch is made, pieces longer than ``cli_types.MAX_PIECE_STEPS``
    (a batch holds whole pieces, padded to the longest; the streamed training split of a
    shards folder is not checked here)."""
    for split in splits:
        pieces = ds.pieces(split)
        if not isinstance(pieces, list):
            continue
        for piece in pieces:
            n = len(piece)
            if n > types.MAX_PIECE_STEPS:
                raise MusicgenError(
                    f"{piece.name}: {types.spaced(n)} steps long{spb_hint}; train and evaluate "
                    f"read at most {types.spaced(types.MAX_PIECE_STEPS)} steps per piece (a batch "
                    f"holds whole pieces): leave it out or choose a coarser --steps-per-beat")


def _grid(info: dict) -> str:
    spb = info.get("steps_per_beat")
    return f" at {spb} steps per beat" if spb else ""


def _out_of_memory(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and (
        "can't allocate memory" in str(e) or "out of memory" in str(e).lower()))


class _Shards:
    """The splits of a prepared folder as load_dataset's pieces(split): train streamed."""

    def __init__(self, path, train):
        self.path, self.train = path, train

    def pieces(self, split):
        from .data.shards import ShardedRolls

        return self.train if split == "train" else list(ShardedRolls(self.path, split))


def _read_options(path, model_name: str):
    """(model options, train options) from --config."""
    if path is None:
        return {}, {}
    d = registry.load_config(path)
    if isinstance(d.get("model"), str):  # a config.json written by training
        if registry.canonical(d["model"]) != registry.canonical(model_name):
            raise ConfigError(f"{path}: is a configuration of model {d['model']}, not {model_name}")
        model_opts, train_opts = d.get("config", {}), d.get("train", {})
    else:
        unknown = sorted(set(d) - {"model", "train"})
        if unknown:
            raise ConfigError(f"{path}: unknown section(s) {', '.join(unknown)}; expected 'model' and 'train'")
        model_opts, train_opts = d.get("model", {}), d.get("train", {})
    if not isinstance(model_opts, dict) or not isinstance(train_opts, dict):
        raise ConfigError(f"{path}: 'model' and 'train' must be JSON objects")
    return model_opts, train_opts


def _guarded(command: str, memory_hint: str, work, args) -> int:
    """``work(args)``'s exit code, or 2 after one line on stderr for bad input
    (MusicgenError) or out of memory (with ``memory_hint``: what to make smaller)."""
    try:
        return work(args)
    except MusicgenError as e:
        print(f"musicgen {command}: error: {e}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        if not _out_of_memory(e):
            raise
        print(f"musicgen {command}: error: out of memory (the longest piece or the batch is too "
              f"large: try {memory_hint})", file=sys.stderr)
        return 2


def run_train(args) -> int:
    try:
        return _guarded("train", "a coarser --steps-per-beat, a smaller batch_size or max_len",
                        _train, args)
    except KeyboardInterrupt:
        print("musicgen train: interrupted; continue with the same command and --resume",
              file=sys.stderr)
        return 130


def _train(args) -> int:
    import torch

    from . import distributed
    from .files import check_run_folder
    from .train import make_train_config, train

    check_run_folder(args.out, resume=args.resume, overwrite=args.force)  # before any work
    if args.resume and not (Path(args.out) / "checkpoint.pt").exists():
        print(f"musicgen train: note: {args.out} holds no run to resume; starting a new one",
              file=sys.stderr)
    name = registry.canonical(args.model)
    model_opts, train_opts = _read_options(args.config, name)
    for k in ("max_steps", "max_minutes", "seed", "init"):
        if getattr(args, k) is not None:
            train_opts[k] = getattr(args, k)
    if getattr(registry.MODELS[name][0], "adversarial", False):  # MuseGAN: a critic, no likelihood
        return _train_adversarial(args, name, model_opts, train_opts)
    cfg = make_train_config(train_opts)
    model_cfg = registry.make_config(name, model_opts)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = distributed.local_device(args.device)
    joined = distributed.init_from_env(args.device)  # under torchrun: join the other ranks
    ds, info = _load_data(args, getattr(model_cfg, "semantics", "sounding"))
    model_cfg = _fit_to_data(name, model_cfg, model_opts, ds)
    _check_lengths(ds, ("valid",) if cfg.max_len else ("train", "valid"), _grid(info))
    torch.manual_seed(cfg.seed)  # the initial weights
    model = registry.build(name, model_cfg).to(device)
    res = train(model, ds.pieces("train"), ds.pieces("valid"), cfg, Path(args.out),
                resume=args.resume, overwrite=args.force, data_info=info,
                progress=not args.no_progress and sys.stderr.isatty())
    main_rank = distributed.is_main()
    if joined:
        distributed.cleanup()
    if main_rank:
        print(json.dumps({"out": str(args.out), "step": res.step, "stopped": res.stopped,
                          "best_valid_nll": res.best_valid, "best_step": res.best_step}))
    return 0


def _train_adversarial(args, name: str, model_opts: dict, train_opts: dict) -> int:
    """``musicgen train`` of a GAN (models/musegan.py) by :func:`~musicgen_lib.train_gan.train_gan`
    on a roll dataset at 16th notes, on the CPU."""
    import torch

    from .train_gan import make_gan_train_config, train_gan

    if "init" in train_opts:
        raise ConfigError(f"--init does not apply to {name}: its run trains a generator and a critic")
    cfg = make_gan_train_config(train_opts)
    model_cfg = registry.make_config(name, model_opts)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds, info = _load_data(args, "sounding")
    sixteenths = info.get("steps_per_beat") == 4 or info.get("resolution") == "16th"
    if "semantics" not in info or args.dataset == "shards" or not sixteenths:
        raise ConfigError(f"{name} reads sounding piano rolls at 16th notes: use --dataset chorales, "
                          "jsb with --resolution 16th, or piano-midi-de")
    torch.manual_seed(cfg.seed)  # the initial weights
    model = registry.build(name, model_cfg)
    res = train_gan(model, ds.pieces("train"), ds.pieces("valid"), cfg, Path(args.out),
                    resume=args.resume, overwrite=args.force, data_info=info,
                    progress=not args.no_progress and sys.stderr.isatty())
    print(json.dumps({"out": str(args.out), "step": res.step, "stopped": res.stopped,
                      "valid_wasserstein": res.history[-1]["valid_wasserstein"]}))
    return 0


def _fit_to_data(name: str, model_cfg, model_opts: dict, ds):
    """A dataset of tokens, not rolls (jsb-satb, piano-events), is read by one model only,
    and names the options that model needs (jsb-satb: the token ranges): they fill in what
    --config does not set; other pairings are refused."""
    needs = getattr(ds, "model_options", None)
    reads = getattr(registry.MODELS[registry.canonical(name)][0], "reads_dataset", None) \
        if name in registry.MODELS else None
    if needs is None:
        if reads:
            raise ConfigError(f"model {name} reads tokens, not piano rolls: use --dataset {reads}")
        return model_cfg
    if reads != ds.name:
        raise ConfigError(f"dataset {ds.name} holds tokens, not piano rolls: only model "
                          f"{ds.token_model} reads it")
    return registry.make_config(name, {**needs, **model_opts})


def run_evaluate(args) -> int:
    return _guarded("evaluate", "a coarser --steps-per-beat or fewer --samples / --ais-chains",
                    _evaluate, args)


def _evaluate(args) -> int:
    import torch

    from .checkpoints import is_thesis_folder, load_thesis_pair, load_trained
    from .distributed import local_device
    from .evaluate import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    if is_thesis_folder(args.checkpoint):  # the whole thesis model over 88 keys
        model, cfg = load_thesis_pair(args.checkpoint), {"model": "thesis + thesis-decoder"}
    else:
        model, cfg = load_trained(args.checkpoint)
    if getattr(model, "adversarial", False):
        raise ConfigError(f"{args.checkpoint}: {cfg['model']} has no likelihood to evaluate (a GAN: "
                          "an implicit model); notebook 10 judges its samples")
    model.to(local_device(args.device))
    ds, info = _load_data(args, getattr(model.cfg, "semantics", "sounding"))
    name = cfg["model"] if isinstance(cfg.get("model"), str) else ""
    _fit_to_data(name, model.cfg, {}, ds)  # a token dataset goes to its one model only
    needs = getattr(ds, "model_options", None) or {}  # and what the data sets must match
    if any(getattr(model.cfg, k, None) != v for k, v in needs.items()):
        raise ConfigError(f"{args.checkpoint}: the model's token ranges are not those of dataset "
                          f"{ds.name} (its training split's)")
    _check_lengths(ds, (args.split,), _grid(info))
    res = evaluate(model, ds.pieces(args.split), n_samples=args.samples, ais_chains=args.ais_chains,
                   ais_betas=args.ais_betas, seed=args.seed, accuracy=not args.no_accuracy,
                   progress=not args.json and sys.stderr.isatty())
    res = {"model": cfg["model"], "dataset": args.dataset, "split": args.split, **res}
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>15}: {v:.4f}" if isinstance(v, float) else f"{k:>15}: {v}")
    return 0


def main(argv=None) -> int:
    """Stand-alone entry for these two sub-commands: python -m musicgen_lib.cli_models train ..."""
    parser = types.Parser(prog="musicgen")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_evaluate_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
