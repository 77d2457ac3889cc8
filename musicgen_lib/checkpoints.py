"""Trained models from disk: where committed checkpoints are found, loading a training run, a
thesis-model pair (generator + decoder) or the thesis author's files, a run's log and time
grid, and the catalogue of the checkpoints that can generate.

The default chorale model ships inside the package (``musicgen_lib/bundled/``, so an installed
``musicgen sample`` works anywhere); the others live in the source checkout's
``checkpoints/`` folder, or anywhere a path names them. Three kinds of folder hold a model:

* a **training run** (``musicgen train``): ``config.json`` + ``model.pt`` (+ ``checkpoint.pt``,
  ``log.csv``) — :func:`load_trained`;
* a **thesis-model pair**: ``generator/`` (a run of ``thesis``) and ``decoder/`` (a run of
  ``thesis-decoder``) — :func:`load_thesis_model`, :func:`load_thesis_pair`;
* the **author's files** ``greats-model.pt`` and ``greats-decoder.pt`` (thesis 2018), loaded
  in faithful mode — :func:`load_author_generator`, :func:`load_author_decoder`.

Notebook: 03–11 (every chapter that loads a trained model).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.datasets import JSB_RESOLUTIONS
from .data.home import source_folder
from .errors import CheckpointError, MusicgenError
from .models import registry
from .models.octave_decoder import DecoderConfig, OctaveDecoder
from .models.thesis import ThesisConfig, ThesisGenerator
from .models.thesis_seq import ThesisDecoderModel, ThesisGeneratorModel, ThesisPair

#: Checkpoints shipped inside the package (package data).
BUNDLED = Path(__file__).resolve().with_name("bundled")
#: The checkout's committed checkpoints (absent when the package is installed from a wheel).
CHECKOUT_CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
#: The model ``musicgen sample`` and the play app use when none is named.
DEFAULT = "thesis-chorales"
#: The thesis author's published weights (generator, decoder), as in his reference folder.
AUTHOR_FILES = ("greats-model.pt", "greats-decoder.pt")
#: Reviewed models that have a ``generate`` (the thesis model in the engine does not).
REVIEW_MODELS = ("lstm", "rbm", "rnn-rbm", "rnn-nade", "mixture", "biaxial")


def find_checkpoint(name: str) -> Path:
    """The folder of the committed checkpoint ``name`` (e.g. ``thesis-chorales``,
    ``review-jsb/rnn-rbm``, ``thesis-piano/generator-path``): the package's own first, then
    the checkout's. A :class:`CheckpointError` says where it looked.

    Notebook: every chapter that loads a trained model — 03_rnn_rbm, 04_independent_vs_dependent,
    04b_voices, 05_attention, 06_voice_sampler, 07_octave_decoder, 08_training_and_samples,
    09_harmony_analysis, 10_discussion."""
    for root in (BUNDLED, CHECKOUT_CHECKPOINTS):
        folder = root / name
        if folder.is_dir():
            return folder
    raise CheckpointError(f"{name}: no such committed checkpoint (looked in {BUNDLED} and "
                          f"{CHECKOUT_CHECKPOINTS}; the others than {DEFAULT} come with the "
                          f"source checkout, or name a checkpoint folder by its path)")


def is_thesis_folder(folder) -> bool:
    """Whether ``folder`` holds a thesis-model pair: ``generator/`` and ``decoder/`` runs."""
    folder = Path(folder)
    return (folder / "generator").is_dir() and (folder / "decoder").is_dir()


def is_author_folder(folder) -> bool:
    """Whether ``folder`` holds the author's two files (:data:`AUTHOR_FILES`)."""
    return all((Path(folder) / f).is_file() for f in AUTHOR_FILES)


# ---------------------------------------------------------------- training runs

def load_trained(folder, which: str = "model.pt"):
    """(model in eval mode, config dict) from a training run's folder: ``config.json`` and
    ``model.pt`` (or ``checkpoint.pt``, whose ``model`` entry is used). Raises
    CheckpointError if unusable.

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 04a_melody, 04b_voices,
    04c_events_and_notes, 04d_melody_vae, 04e_musegan, 04f_classifying_vae, 05_attention,
    06_voice_sampler, 08_training_and_samples, 09_harmony_analysis, 10_discussion,
    10b_beyond_the_thesis."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    cfg = registry.load_config(folder / "config.json")
    model = registry.model_from_config(cfg)
    file = folder / which
    if not file.exists() and which == "model.pt" and (folder / "checkpoint.pt").exists():
        file = folder / "checkpoint.pt"
    if not file.exists():
        raise CheckpointError(f"{file}: no such file")
    try:
        state = torch.load(file, map_location="cpu", weights_only=False)
        if "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        model.load_state_dict(state)
    except Exception as e:
        raise CheckpointError(f"{file}: cannot load it into model {cfg['model']} ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return model.eval(), cfg


def init_from(model, folder) -> None:
    """Load the weights of the trained run in ``folder`` into ``model`` (training option
    ``init``: fine-tuning). The run must be of the same model with the same shapes; options
    that change no weight (such as the generator's ``self_condition``) may differ. A model with
    a ``grow_from`` method may instead start from another model's run (an RNN-DBN from a
    trained RNN-RBM)."""
    trained, cfg = load_trained(folder)
    mine = registry.name_of(model)
    if registry.canonical(cfg["model"]) != mine:
        if hasattr(model, "grow_from"):  # a deeper model grown from a trained shallower one
            try:
                model.grow_from(trained)
            except ValueError as e:
                raise CheckpointError(f"{folder}: {e}") from None
            return
        raise CheckpointError(f"{folder}: holds a run of model {cfg['model']}, not {mine}")
    try:
        model.load_state_dict(trained.state_dict())
    except RuntimeError as e:
        raise CheckpointError(f"{folder}: its weights do not fit this model's configuration "
                              f"({str(e).splitlines()[0]})") from None


def read_log(path) -> dict:
    """The log of a training run, from its folder or its ``log.csv``: ``{column: float array}``
    with one entry per validation, in the columns the engine writes (``step``, ``epoch``,
    ``train_loss``, ``valid_nll``, ``lr``, ``time_s``). ``step`` counts optimiser steps (the
    iterations, the x axis of a training curve); ``train_loss`` is the mean training loss since
    the previous validation, ``time_s`` the run's wall time so far. Empty cells read as NaN.
    Raises CheckpointError for a missing or unreadable log.

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 04a_melody, 04b_voices,
    04c_events_and_notes, 04d_melody_vae, 04e_musegan, 04f_classifying_vae, 05_attention,
    08_training_and_samples, 10b_beyond_the_thesis."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.csv"
    try:
        reader = csv.DictReader(io.StringIO(path.read_text()))
        rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CheckpointError(f"{path}: cannot read the training log ({type(e).__name__})") from None
    columns = reader.fieldnames or []
    if "step" not in columns:
        raise CheckpointError(f"{path}: not a training log (no 'step' column)")
    try:
        return {k: np.array([float(r[k]) if r[k] not in ("", None) else math.nan for r in rows])
                for k in columns}
    except ValueError as e:
        raise CheckpointError(f"{path}: a cell of the training log is not a number ({e})") from None


def log_summary(log: dict) -> dict:
    """Where a run's validation loss was lowest and how both losses went on after it, from a
    log as :func:`read_log` gives it: ``best_step``, ``best_valid``, ``train_at_best`` (the
    training loss logged at that validation), ``last_step``, ``last_valid``, ``last_train``,
    ``valid_rise`` (last minus best validation loss: > 0 when it got worse) and ``gap`` (last
    validation minus last training loss: how much better the model does on its training
    windows than on held-out pieces). Floats; the steps as ints.

    Notebook: 05_attention, 08_training_and_samples."""
    valid, train, steps = log["valid_nll"], log["train_loss"], log["step"]
    best = int(np.nanargmin(valid))
    return {"best_step": int(steps[best]), "best_valid": float(valid[best]),
            "train_at_best": float(train[best]), "last_step": int(steps[-1]),
            "last_valid": float(valid[-1]), "last_train": float(train[-1]),
            "valid_rise": float(valid[-1] - valid[best]), "gap": float(valid[-1] - train[-1])}


def run_steps_per_beat(config: dict) -> int:
    """The time grid (steps per beat) of a training run from its ``config.json`` dict: the
    ``steps_per_beat`` of its data, or the JSB ``resolution`` it was trained at (``quarter``:
    1); 4 where the run does not say (the thesis' grid)."""
    data = config.get("data") if isinstance(config, dict) else None
    if not isinstance(data, dict):
        return 4
    if isinstance(data.get("steps_per_beat"), int) and data["steps_per_beat"] > 0:
        return data["steps_per_beat"]
    if data.get("dataset") == "jsb":
        return JSB_RESOLUTIONS.get(data.get("resolution", "quarter"), 1)
    return 4


# ---------------------------------------------------------------- the thesis model

def load_author_generator(path) -> ThesisGenerator:
    """The author's ``greats-model.pt`` in a :class:`ThesisGenerator` (faithful mode).

    Notebook: 05_attention, 06_voice_sampler, 08_training_and_samples."""
    model = ThesisGenerator(ThesisConfig.faithful())
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_author_decoder(path) -> OctaveDecoder:
    """The author's ``greats-decoder.pt`` in an :class:`OctaveDecoder` (faithful mode:
    classes counted from A, one Gibbs sweep, no rescue of classes that got no key).

    Notebook: 07_octave_decoder."""
    dec = OctaveDecoder(DecoderConfig(class_origin=9, keep_classes=False, velocity=True))
    dec.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return dec.eval()


def _thesis_runs(folder: Path) -> tuple:
    """The engine models of a thesis-model pair's ``generator/`` and ``decoder/`` runs,
    checked to be a ``thesis`` and a ``thesis-decoder`` that read the same rolls."""
    gen, dec = load_trained(folder / "generator")[0], load_trained(folder / "decoder")[0]
    if not isinstance(gen, ThesisGeneratorModel) or not isinstance(dec, ThesisDecoderModel):
        raise CheckpointError(f"{folder}: generator/ and decoder/ must hold the models "
                              "'thesis' and 'thesis-decoder'")
    if gen.cfg.semantics != dec.cfg.semantics:
        raise CheckpointError(f"{folder}: the generator reads {gen.cfg.semantics} rolls, the "
                              f"decoder {dec.cfg.semantics} rolls")
    return gen, dec


def load_thesis_pair(folder) -> ThesisPair:
    """The whole thesis model over 88 keys (:class:`ThesisPair`, for evaluation) from a
    folder holding ``generator/`` and ``decoder/`` runs.

    Notebook: 08_training_and_samples (``musicgen evaluate`` on a thesis-model folder)."""
    return ThesisPair(*_thesis_runs(Path(folder))).eval()


def load_thesis_model(folder=None):
    """(generator, decoder) networks for sampling from a checkpoint folder: ours (a
    thesis-model pair) or the author's (:data:`AUTHOR_FILES`, loaded in faithful mode).
    Without a folder, the default model shipped with the package (:data:`DEFAULT`).

    Notebook: 05_attention, 06_voice_sampler, 07_octave_decoder, 08_training_and_samples,
    09_harmony_analysis, 10_discussion."""
    folder = Path(folder) if folder is not None else find_checkpoint(DEFAULT)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    try:
        if is_author_folder(folder):
            return (load_author_generator(folder / AUTHOR_FILES[0]),
                    load_author_decoder(folder / AUTHOR_FILES[1]))
        if not is_thesis_folder(folder):
            raise CheckpointError(f"{folder}: not a thesis-model checkpoint (no generator/ and "
                                  f"decoder/ runs, nor the author's {' and '.join(AUTHOR_FILES)})")
        gen, dec = _thesis_runs(folder)
    except CheckpointError:
        raise
    except Exception as e:  # corrupt or mismatched files
        msg = " ".join(str(e).split())[:200]
        raise CheckpointError(f"{folder}: cannot load the checkpoint ({type(e).__name__}: {msg})") \
            from None
    return gen.net.eval(), dec.net.eval()


def checkpoint_steps_per_beat(folder=None) -> int:
    """The time grid the generator of a thesis-model checkpoint (as for
    :func:`load_thesis_model`) steps on: its run's data (``generator/config.json``); the
    author's files step on the thesis' grid, 4 steps per beat."""
    folder = Path(folder) if folder is not None else find_checkpoint(DEFAULT)
    config = folder / "generator" / "config.json"
    if not config.is_file():
        return 4
    return run_steps_per_beat(registry.load_config(config))


# ---------------------------------------------------------------- the catalogue

@dataclass(frozen=True)
class PlayModel:
    """A checkpoint that can generate, and the representation it works in.

    Notebook: 11_play."""

    name: str
    kind: str             # "thesis" (generator + octave decoder) or "review" (a SequenceModel)
    folder: Path
    dataset: str          # the data it was trained on: chorales, piano-midi-de, jsb, midi
    semantics: str        # onset or sounding
    steps_per_beat: int
    description: str
    bpm: float = 90.0     # playback tempo
    resolution: str | None = None  # JSB resolution (jsb only)

    @property
    def has_temperature(self) -> bool:
        return self.kind == "thesis"

    @property
    def label(self) -> str:
        return f"{self.name}: {self.description}"


def _review_model(folder: Path) -> PlayModel | None:
    """The reviewed model in ``folder``, or None if it is not one that can generate."""
    if not ((folder / "config.json").is_file() and (folder / "model.pt").is_file()):
        return None
    try:
        cfg = json.loads((folder / "config.json").read_text())
        model = registry.canonical(cfg["model"])
    except (OSError, ValueError, KeyError, TypeError, MusicgenError):
        return None
    if model not in REVIEW_MODELS:
        return None
    data = cfg.get("data") or {}
    dataset = data.get("dataset", "jsb")
    if dataset == "jsb":
        resolution = data.get("resolution", "quarter")
        spb = JSB_RESOLUTIONS.get(resolution, 1)
        where = f"JSB Chorales, {spb} step{'s' if spb > 1 else ''} per beat"
    else:
        resolution, spb = None, int(data.get("steps_per_beat", 4))
        where = f"{dataset}, {spb} steps per beat"
    return PlayModel(f"review-jsb/{folder.name}", "review", folder, dataset,
                     data.get("semantics", "sounding"), spb,
                     f"reviewed model {model} trained on {where}", 90.0, resolution)


def available_models(reference=None, checkpoints=None) -> list:
    """The committed checkpoints that can generate, as :class:`PlayModel` s: the thesis
    model trained on the chorales (shipped with the package), the author's weights when
    ``reference`` (default: the data home's ``thesis-2018``) holds them, and every reviewed
    model under ``checkpoints/review-jsb/`` (a missing folder is simply not listed).

    Notebook: 11_play."""
    root = Path(checkpoints) if checkpoints is not None else CHECKOUT_CHECKPOINTS
    reference = Path(reference) if reference is not None else source_folder("thesis-2018")
    out = []
    own = BUNDLED / DEFAULT if checkpoints is None else root / DEFAULT
    if is_thesis_folder(own):
        out.append(PlayModel("thesis-chorales", "thesis", own, "chorales", "onset", 4,
                             "the thesis model trained on the music21 Bach chorales", 90.0))
    if is_author_folder(reference):
        out.append(PlayModel("author-piano", "thesis", reference, "piano-midi-de", "onset", 4,
                             "the thesis author's published weights, trained on piano music",
                             120.0))
    review = root / "review-jsb"
    if review.is_dir():
        for folder in sorted(p for p in review.iterdir() if p.is_dir()):
            m = _review_model(folder)
            if m is not None:
                out.append(m)
    return out


def find_model(model, reference=None, checkpoints=None) -> PlayModel:
    """A :class:`PlayModel` by name (or the model itself)."""
    if isinstance(model, PlayModel):
        return model
    models = available_models(reference, checkpoints)
    for m in models:
        if m.name == model:
            return m
    raise MusicgenError(f"no model {model!r} (available: {', '.join(m.name for m in models)})")


_LOADED: dict = {}


def load_model(model: PlayModel):
    """The networks of a catalogued model, loaded once: ``(generator, decoder)`` for the
    thesis model, the :class:`~musicgen_lib.models.base.SequenceModel` for a reviewed one."""
    key = (model.kind, str(model.folder))
    if key not in _LOADED:
        _LOADED[key] = (load_thesis_model(model.folder) if model.kind == "thesis"
                        else load_trained(model.folder)[0])
    return _LOADED[key]
