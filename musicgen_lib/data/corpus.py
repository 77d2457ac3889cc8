"""Where the pieces of a dataset come from: the files of a source, the split each piece
belongs to, the files left out and why, and the cache key of parsed data. Shared by the roll
datasets (data/datasets.py) and the token datasets (data/events.py, data/note_triples.py).

Notebook: 01_representations.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, MidiError
from .midi import NoteList

SPLITS = ("train", "valid", "test")
#: Bumped whenever parsing changes, so old cache files are not reused.
CACHE_VERSION = 3  # 3: rolls over MAX_ROLL_STEPS are skipped, not made


@dataclass
class Skipped:
    """A file left out of a dataset, with the one-line reason."""

    file: str
    reason: str


def split_of(name: str, seed: int = 0, fractions=(0.8, 0.1)) -> str:
    """The split a piece belongs to, from a seeded hash of its name (see module doc)."""
    u = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest(), 16) / 2 ** 256
    return "train" if u < fractions[0] else "valid" if u < fractions[0] + fractions[1] else "test"


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


def progress(items, enabled: bool, desc: str, total=None):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="file", total=total)



def cache_dir(path=None) -> Path:
    """The cache folder: ``path``, else ``$MUSICGEN_CACHE``, else ``~/.cache/musicgen``."""
    return Path(path or os.environ.get("MUSICGEN_CACHE") or Path.home() / ".cache" / "musicgen")


def cache_path(name: str, files: list, opts: dict, directory) -> Path:
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, **opts}, sort_keys=True).encode())
    for label, f in files:
        h.update(label.encode() + b"\0")
        try:
            h.update(hashlib.sha256(Path(f).read_bytes()).digest())
        except OSError:
            h.update(b"unreadable")
    return cache_dir(directory) / f"{name}-{h.hexdigest()[:20]}.npz"
