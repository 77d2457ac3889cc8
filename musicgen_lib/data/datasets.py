"""Datasets of piano rolls with fixed splits, and their on-disk cache
(notebook 01_representations).

Five sources share one interface, :func:`load_dataset`:

``chorales``
    The Bach chorales bundled with music21 (350 distinct files): the embedded default,
    needs no path and no network.
``jsb``
    JSB Chorales as published by Boulanger-Lewandowski et al. (2012), the JSON files of
    github.com/czhuang/JSB-Chorales-dataset, with their own 229/76/77 split;
    ``resolution`` picks ``quarter`` (the benchmark, 1 step per beat), ``8th`` or ``16th``.
``jsb-satb``
    The same chorales at 16th notes with labelled voices (``Jsb16thSeparated.json``), as
    per-voice tokens: :mod:`musicgen_lib.data.satb` (notebook 04b_voices).
``piano-midi-de``
    A folder of piano-midi.de MIDI files, with the thesis' filters.
``piano-events``
    The same pieces as Performance RNN event sequences: :mod:`musicgen_lib.data.tokens`
    (notebook 04c_events_and_notes).
``chorale-triples``
    The ``chorales`` as BachProp's note triples, in the same splits (same notebook).
``chorale-melodies``
    The top line of each chorale, one token per 16th note: :mod:`musicgen_lib.data.melody`
    (notebook 04a_melody).
``midi``
    Any folder of MIDI files (no filters beyond readability).

Splits by piece (all but ``jsb``): a piece goes to ``train``/``valid``/``test`` by a
seeded hash of its name — ``u = sha256(f"{seed}:{name}") / 2**256``; train if
``u < 0.8``, valid if ``u < 0.9``, test otherwise. The split of a piece never depends
on which other files are present.

Parsed rolls are cached (``$MUSICGEN_CACHE``, default ``~/.cache/musicgen``) in one
compressed file per load, keyed by the content hash of every input file and every
option, so a changed file or option is never served stale.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataError, MidiError
from ..files import atomic_write
from .corpus import (SPLITS, Skipped, cache_path, chorale_files, chorale_notes, midi_files,
                     split_of)
from .corpus import progress as _progress
from .filters import THESIS_FILTERS, rejection_reason
from .midi import LOWEST_KEY, N_KEYS, NoteList, read_midi
from .pianoroll import SEMANTICS, notes_to_roll

DATASETS = ("chorales", "jsb", "piano-midi-de", "midi", "jsb-satb", "piano-events", "chorale-triples",
            "chorale-melodies")
JSB_RESOLUTIONS = {"quarter": 1, "8th": 2, "16th": 4}  # steps per beat


@dataclass
class Piece:
    """One piece: ``roll`` is ``(T, 88)`` uint8; ``velocity`` the same shape or None."""

    name: str
    roll: np.ndarray
    velocity: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.roll)


@dataclass
class Dataset:
    """Pieces by split, plus the files that were skipped and why.

    Notebook: 02_tools."""

    name: str
    splits: dict
    skipped: list = field(default_factory=list)
    steps_per_beat: int = 4
    semantics: str = "sounding"

    def pieces(self, split: Optional[str] = None) -> list:
        """The pieces of one split, or of all splits in order train, valid, test."""
        if split is None:
            return [p for s in self.splits.values() for p in s]
        if split not in self.splits:
            raise DataError(f"dataset {self.name!r} has no split {split!r} "
                            f"(it has {', '.join(self.splits)})")
        return self.splits[split]

    def stats(self) -> dict:
        """Per-split statistics and the skipped files, as a JSON-ready dict."""
        return {"dataset": self.name, "steps_per_beat": self.steps_per_beat,
                "semantics": self.semantics,
                "splits": {s: split_stats(ps) for s, ps in self.splits.items()},
                "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped]}


def split_stats(pieces: list) -> dict:
    """Pieces, steps, pitch range, max polyphony and max distinct pitch classes."""
    from .octave import compress

    if not pieces:
        return {"pieces": 0, "steps": 0}
    rolls = np.concatenate([p.roll for p in pieces])
    keys = np.flatnonzero(rolls.any(axis=0))
    lengths = [len(p) for p in pieces]
    return {"pieces": len(pieces), "steps": int(sum(lengths)),
            "mean_steps": round(float(np.mean(lengths)), 1),
            "lowest_pitch": int(keys.min() + LOWEST_KEY) if len(keys) else None,
            "highest_pitch": int(keys.max() + LOWEST_KEY) if len(keys) else None,
            "max_polyphony": int(rolls.sum(axis=1).max()),
            "max_pitch_classes": int(compress(rolls).sum(axis=1).max())}


def load_dataset(name: str, path=None, *, resolution: str = "quarter", steps_per_beat: int = 4,
                 semantics: str = "sounding", velocity: bool = False, seed: int = 0,
                 cache: bool = True, cache_dir=None, progress: bool = False) -> Dataset:
    """Load a dataset by name (see the module docstring for names and splits).

    ``path`` is the folder holding ``jsb-chorales-*.json`` (or one such file) for ``jsb``,
    a folder searched recursively for ``*.mid``/``*.midi`` for ``piano-midi-de`` and
    ``midi``; left out, ``jsb`` and ``piano-midi-de`` are read from the data home
    (:func:`~musicgen_lib.data.home.require`: a missing one names ``musicgen data fetch``),
    while ``midi`` needs it. Unreadable or filtered files are skipped and listed in
    ``Dataset.skipped`` with their reason. Raises :class:`DataError` for a path that does
    not exist, holds no MIDI, or an unknown option.

    Notebook: 01_representations, 02_tools, 03_rnn_rbm, 04_independent_vs_dependent,
    04a_melody, 04b_voices, 04c_events_and_notes, 04d_melody_vae, 04e_musegan,
    04f_classifying_vae, 05_attention, 06_voice_sampler, 07_octave_decoder,
    08_training_and_samples, 09_harmony_analysis, 10_discussion, 10b_beyond_the_thesis.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})")
    if semantics not in SEMANTICS:
        raise DataError(f"unknown semantics {semantics!r} (choose from {', '.join(SEMANTICS)})")
    if path is None and name in ("jsb", "jsb-satb", "piano-midi-de", "piano-events"):
        from .home import require

        path = require({"jsb-satb": "jsb", "piano-events": "piano-midi-de"}.get(name, name))
    if name == "jsb":
        return _load_jsb(path, resolution, semantics)
    if name == "jsb-satb":  # labelled voices, tokens not rolls (data/satb.py)
        from .satb import load_satb

        if semantics != "sounding":
            raise DataError("the labelled JSB voices hold sounding notes only (use semantics='sounding')")

        return load_satb(path)
    if name == "piano-events":  # Performance RNN events, tokens not rolls (data/events.py)
        from .events import load_events

        if semantics != "sounding":
            raise DataError("piano-events are events, not rolls: semantics does not apply")
        return load_events(path)
    if name == "chorale-triples":  # BachProp's note triples (data/note_triples.py)
        from .note_triples import load_triples

        if semantics != "sounding":
            raise DataError("chorale-triples are notes, not rolls: semantics does not apply")
        return load_triples(cache=cache, cache_dir=cache_dir, show_progress=progress)
    if name == "chorale-melodies":  # the top lines as melody tokens (data/melody.py)
        from .melody import load_melodies

        if semantics != "sounding":
            raise DataError("chorale-melodies are melody tokens, not rolls: semantics does not apply")
        return load_melodies()
    if name == "chorales":
        files = chorale_files()
        root, filters = None, ()
    else:
        if path is None:
            raise DataError(f"dataset {name!r} needs --path (a folder of MIDI files)")
        root = Path(path)
        if not root.exists():
            raise DataError(f"{root}: no such file or directory")
        files = midi_files(root)
        filters = THESIS_FILTERS if name == "piano-midi-de" else ()
    opts = dict(name=name, steps_per_beat=steps_per_beat, semantics=semantics,
                velocity=velocity, seed=seed, filters=[f.__name__ for f in filters])
    cache_file = cache_path(name, files, opts, cache_dir) if cache else None
    if cache_file is not None and cache_file.exists():
        try:
            return _read_cache(cache_file, name, steps_per_beat, semantics)
        except Exception:  # unreadable cache: parse again and overwrite it
            pass
    jobs = [(f, name == "chorales", filters, steps_per_beat, semantics, velocity)
            for _, f in files]
    splits, skipped = {s: [] for s in SPLITS}, []
    for (label, _), (roll, vel, reason) in zip(files, _parse_all(jobs, progress, name)):
        if reason:
            skipped.append(Skipped(label, reason))
        else:
            splits[split_of(label, seed)].append(Piece(label, roll, vel))
    ds = Dataset(name, splits, skipped, steps_per_beat, semantics)
    if cache_file is not None:
        _write_cache(cache_file, ds)
    return ds


# ---------------------------------------------------------------- parsing

def parse_file(job):
    """Parse one file as :func:`load_dataset` does, to ``(roll, velocity, None)``, or to
    ``(None, None, reason)`` when it is unreadable or filtered out.

    ``job`` is the tuple ``(path, is_music21, filters, steps_per_beat, semantics,
    velocity)``: a music21 corpus file (``is_music21``, :func:`chorale_notes`) or a MIDI
    file, the filters of :func:`~musicgen_lib.data.filters.rejection_reason`, and the
    options of :func:`~musicgen_lib.data.pianoroll.notes_to_roll`. ``velocity`` is None
    unless asked for; whole bars of leading silence are cut. Only a bad file's
    :class:`MidiError` is caught (its problem is the reason); one tuple, so that a process
    pool can map it over many files.
    """
    path, is_music21, filters, steps_per_beat, semantics, velocity = job
    try:
        notes = chorale_notes(path) if is_music21 else read_midi(path)
    except MidiError as e:
        return None, None, e.problem
    reason = rejection_reason(notes, filters)
    if reason:
        return None, None, reason
    try:
        out = notes_to_roll(notes, steps_per_beat, semantics, velocity)
    except MidiError as e:  # a roll too long to allocate
        return None, None, e.problem
    roll, vel = out if velocity else (out, None)
    cut = _leading_silence(roll, notes, steps_per_beat)
    return roll[cut:], None if vel is None else vel[cut:], None


def _parse_all(jobs: list, progress: bool, desc: str):
    """Results of :func:`parse_file` in order; music21 scores (slow to parse) are parsed
    in parallel processes, MIDI files (≈1 ms each) in this one."""
    workers = min(os.cpu_count() or 1, 8)
    if len(jobs) < 32 or not jobs[0][1] or workers < 2:
        return [parse_file(j) for j in _progress(jobs, progress, f"reading {desc}")]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as pool:
        return list(_progress(pool.map(parse_file, jobs, chunksize=8), progress,
                              f"reading {desc}", total=len(jobs)))


# ---------------------------------------------------------------- sources

def _load_jsb(path, resolution: str, semantics: str) -> Dataset:
    if resolution not in JSB_RESOLUTIONS:
        raise DataError(f"unknown JSB resolution {resolution!r} "
                        f"(choose from {', '.join(JSB_RESOLUTIONS)})")
    if semantics != "sounding":
        raise DataError("the JSB JSON files hold sounding notes only (use semantics='sounding')")
    path = Path(path)
    file = path / f"jsb-chorales-{resolution}.json" if path.is_dir() else path
    for res in JSB_RESOLUTIONS:  # a file named after its resolution says what it holds
        if file.name == f"jsb-chorales-{res}.json":
            resolution = res
    if not file.exists():
        raise DataError(f"{file}: no such file (expected the JSB Chorales JSON of "
                        "github.com/czhuang/JSB-Chorales-dataset)")
    try:
        data = json.loads(file.read_text())
        splits = {}
        for split in SPLITS:
            pieces = []
            for i, steps in enumerate(data[split]):
                roll = np.zeros((len(steps), N_KEYS), np.uint8)
                for t, chord in enumerate(steps):
                    roll[t, np.asarray(chord, dtype=np.int64) - LOWEST_KEY] = 1
                pieces.append(Piece(f"{split}/{i:03d}", roll))
            splits[split] = pieces
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise DataError(f"{file}: not a JSB Chorales JSON file ({type(e).__name__}: {e})") from None
    return Dataset("jsb", splits, [], JSB_RESOLUTIONS[resolution], "sounding")


def _leading_silence(roll: np.ndarray, notes: NoteList, steps_per_beat: int) -> int:
    """Steps of leading silence to strip: whole bars only, so bar lines stay in phase
    with the time counter (the thesis stripped all of it)."""
    sounding = np.flatnonzero(roll.any(axis=1))
    if not len(sounding):
        return 0
    num, den = (notes.time_signatures[0][1:] if notes.time_signatures else (4, 4))
    bar = steps_per_beat * num * 4 / den
    if bar != int(bar) or bar <= 0:
        return 0
    return int(sounding[0] // int(bar) * int(bar))


# ---------------------------------------------------------------- cache

def _write_cache(file: Path, ds: Dataset) -> None:
    pieces = [(s, p) for s in ds.splits for p in ds.splits[s]]
    arrays = {"rolls": np.concatenate([p.roll for _, p in pieces]) if pieces
              else np.zeros((0, N_KEYS), np.uint8),
              "lengths": np.array([len(p) for _, p in pieces], np.int64)}
    if pieces and pieces[0][1].velocity is not None:
        arrays["velocity"] = np.concatenate([p.velocity for _, p in pieces])
    meta = {"pieces": [[s, p.name] for s, p in pieces],
            "skipped": [[k.file, k.reason] for k in ds.skipped]}
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(file, lambda fh: np.savez_compressed(fh, meta=np.array(json.dumps(meta)),
                                                          **arrays))
    except OSError:  # a read-only cache folder only costs speed
        pass


def _read_cache(file: Path, name: str, steps_per_beat: int, semantics: str) -> Dataset:
    with np.load(file) as z:
        meta = json.loads(str(z["meta"]))
        rolls, lengths = z["rolls"], z["lengths"]
        vel = z["velocity"] if "velocity" in z.files else None
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    splits = {s: [] for s in SPLITS}
    for i, (split, pname) in enumerate(meta["pieces"]):
        a, b = bounds[i], bounds[i + 1]
        splits[split].append(Piece(pname, rolls[a:b], None if vel is None else vel[a:b]))
    return Dataset(name, splits, [Skipped(f, r) for f, r in meta["skipped"]],
                   steps_per_beat, semantics)
