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

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataError, MidiError
from ..files import atomic_write
from .filters import THESIS_FILTERS, rejection_reason
from .midi import LOWEST_KEY, N_KEYS, NoteList, read_midi
from .pianoroll import SEMANTICS, notes_to_roll

DATASETS = ("chorales", "jsb", "piano-midi-de", "midi", "jsb-satb")
SPLITS = ("train", "valid", "test")
JSB_RESOLUTIONS = {"quarter": 1, "8th": 2, "16th": 4}  # steps per beat
#: Bumped whenever parsing changes, so old cache files are not reused.
CACHE_VERSION = 3  # 3: rolls over MAX_ROLL_STEPS are skipped, not made


@dataclass
class Piece:
    """One piece: ``roll`` is ``(T, 88)`` uint8; ``velocity`` the same shape or None."""

    name: str
    roll: np.ndarray
    velocity: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.roll)


@dataclass
class Skipped:
    """A file left out of a dataset, with the one-line reason."""

    file: str
    reason: str


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


def split_of(name: str, seed: int = 0, fractions=(0.8, 0.1)) -> str:
    """The split a piece belongs to, from a seeded hash of its name (see module doc)."""
    u = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest(), 16) / 2 ** 256
    return "train" if u < fractions[0] else "valid" if u < fractions[0] + fractions[1] else "test"


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

    Notebook: 01_representations, 02_tools, 03_rnn_rbm, 04_independent_vs_dependent, 04b_voices,
    05_attention,
    06_voice_sampler, 07_octave_decoder, 08_training_and_samples, 09_harmony_analysis,
    10_discussion.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})")
    if semantics not in SEMANTICS:
        raise DataError(f"unknown semantics {semantics!r} (choose from {', '.join(SEMANTICS)})")
    if path is None and name in ("jsb", "jsb-satb", "piano-midi-de"):
        from .home import require

        path = require("jsb" if name == "jsb-satb" else name)
    if name == "jsb":
        return _load_jsb(path, resolution, semantics)
    if name == "jsb-satb":  # labelled voices, tokens not rolls (data/satb.py)
        from .satb import load_satb

        if semantics != "sounding":
            raise DataError("the labelled JSB voices hold sounding notes only (use semantics='sounding')")

        return load_satb(path)
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
    cache_file = _cache_path(name, files, opts, cache_dir) if cache else None
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

def midi_files(root: Path) -> list:
    """``(label, path)`` pairs of the MIDI files (``*.mid``, ``*.midi``, any case) under the
    folder ``root``, searched recursively and sorted by path, each labelled with its path
    relative to ``root`` (``/``-separated); for a file ``root``, just ``[(name, root)]``.
    Raises :class:`DataError` when there is none (a missing ``root`` included)."""
    if root.is_file():
        return [(root.name, root)]
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".mid", ".midi")
                   and p.is_file())
    if not files:
        raise DataError(f"{root}: no MIDI files (*.mid, *.midi) found")
    return [(p.relative_to(root).as_posix(), p) for p in files]


def chorale_files(split: str | None = None) -> list:
    """(label, path) of the 350 distinct Bach chorales in music21's bundled corpus, or of
    those in one ``split`` (:func:`split_of`); each can be parsed alone with
    :func:`chorale_notes` (``musicgen sample``, notebook 11_play)."""
    from music21 import corpus

    prefer = {".mxl": 0, ".xml": 1, ".musicxml": 2, ".krn": 3}
    out = []
    for n in dict.fromkeys(corpus.chorales.Iterator(returnType="filename")):
        found = corpus.getWork(n)  # a path, or a list when the name is a prefix of others
        found = [Path(p) for p in (found if isinstance(found, list) else [found])]
        exact = [p for p in found if p.stem == n.rsplit("/", 1)[-1]] or found
        out.append((n, min(exact, key=lambda p: prefer.get(p.suffix, 9))))
    return out if split is None else [(n, f) for n, f in out if split_of(n) == split]


def chorale_notes(path: Path, ticks_per_beat: int = 480) -> NoteList:
    """Notes of a music21 corpus file (ties merged, repeats not expanded)."""
    from music21 import converter

    try:
        score = converter.parse(str(path)).stripTies()
    except Exception as e:
        raise MidiError(path, f"music21 cannot parse it ({' '.join(str(e).split())})") from None
    # A pickup bar is padded with rests to a full bar, so that bar lines fall on
    # multiples of the bar length, in phase with the model's time counter.
    measures = score.parts[0].getElementsByClass("Measure")
    pad = float(measures[0].paddingLeft) if len(measures) and measures[0].number == 0 else 0.0
    start, end, pitch, track = [], [], [], []
    for i, part in enumerate(score.parts):
        for el in part.flatten().notes:
            s = round((float(el.offset) + pad) * ticks_per_beat)
            e = round((float(el.offset + el.quarterLength) + pad) * ticks_per_beat)
            for p in el.pitches:
                start.append(s); end.append(max(e, s + 1)); pitch.append(p.midi); track.append(i)
    if not start:
        raise MidiError(path, "no notes")
    ts = [(round(float(t.offset) * ticks_per_beat), t.numerator, t.denominator)
          for t in score.parts[0].flatten().getElementsByClass("TimeSignature")]
    return NoteList.from_arrays(start, end, pitch, None, track, ticks_per_beat=ticks_per_beat,
                                time_signatures=ts, source=str(path))


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


def _progress(items, enabled: bool, desc: str, total=None):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="file", total=total)


# ---------------------------------------------------------------- cache

def cache_dir(path=None) -> Path:
    """The cache folder: ``path``, else ``$MUSICGEN_CACHE``, else ``~/.cache/musicgen``."""
    return Path(path or os.environ.get("MUSICGEN_CACHE") or Path.home() / ".cache" / "musicgen")


def _cache_path(name: str, files: list, opts: dict, directory) -> Path:
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, **opts}, sort_keys=True).encode())
    for label, f in files:
        h.update(label.encode() + b"\0")
        try:
            h.update(hashlib.sha256(Path(f).read_bytes()).digest())
        except OSError:
            h.update(b"unreadable")
    return cache_dir(directory) / f"{name}-{h.hexdigest()[:20]}.npz"


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
