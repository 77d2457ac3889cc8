"""Primes: the first bar of real music that a model continues, in the model's piano-roll
semantics and time grid — from a roll, a note list, a MIDI file, an uploaded file's bytes,
or a test piece of a dataset (notebooks 11_play, and ``musicgen sample --prime``).

A prime's bar follows the piece's first time signature (6/8: three beats of quarter notes'
length); a roll without one is read in 4/4.
"""
from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, MidiError, MusicgenError
from .datasets import chorale_files, chorale_notes, load_dataset
from .home import require
from .midi import read_midi
from .pianoroll import notes_to_roll


@dataclass
class Prime:
    """A prime: ``roll`` (n, 88) uint8 in a model's semantics and steps per beat."""

    name: str
    roll: np.ndarray


def first_bar(roll, steps_per_beat: int = 4, beats_per_bar: int = 4,
              source: str = "prime") -> np.ndarray:
    """The first bar (on the bar grid from step 0) that holds a note; raises DataError when
    ``roll`` holds none.

    Notebook: 11_play."""
    roll = np.asarray(roll, dtype=np.uint8)
    sounding = np.flatnonzero(roll.any(axis=1)) if roll.ndim == 2 else np.zeros(0, int)
    if not len(sounding):
        raise DataError(f"{source}: holds no notes on the 88 piano keys")
    bar = max(1, int(steps_per_beat * beats_per_bar))
    a = int(sounding[0] // bar * bar)
    out = np.zeros((bar, roll.shape[1]), np.uint8)
    part = roll[a:a + bar]
    out[:len(part)] = part
    return out


def beats_per_bar(notes, steps_per_beat: int) -> float:
    """Beats (quarter notes) per bar from a note list's first time signature, if it makes
    a whole number of steps; else 4."""
    if notes.time_signatures:
        _, num, den = notes.time_signatures[0]
        beats = num * 4 / den if den else 0
        if beats > 0 and (beats * steps_per_beat) == int(beats * steps_per_beat):
            return beats  # may be fractional (6/8 = 3 beats; 3/8 = 1.5)
    return 4


def prime_from_notes(notes, semantics: str, steps_per_beat: int, name: str) -> Prime:
    """The first bar of a note list, in the given semantics and steps per beat."""
    roll = notes_to_roll(notes, steps_per_beat, semantics)
    beats = beats_per_bar(notes, steps_per_beat)
    return Prime(name, first_bar(roll, steps_per_beat, beats, source=name))


def prime_from_midi(path, semantics: str, steps_per_beat: int, name: str | None = None) -> Prime:
    """The first bar of a MIDI file (what ``midi_to_roll`` reads) in the given semantics.
    Raises :class:`MidiError` naming the file (``name`` if given) for a bad one."""
    name = name or Path(path).name
    try:
        notes = read_midi(path)
    except MidiError as e:
        raise MidiError(name, e.problem) from None
    if not len(notes):
        raise MidiError(name, "no notes")
    try:
        return prime_from_notes(notes, semantics, steps_per_beat, name)
    except DataError as e:  # no note on the 88 keys
        raise MidiError(name, str(e).split(": ", 1)[-1]) from None


def prime_from_upload(name: str, content: bytes, semantics: str, steps_per_beat: int) -> Prime:
    """The first bar of an uploaded MIDI file's bytes; errors name the upload.

    Notebook: 11_play."""
    name = Path(str(name) or "upload.mid").name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.mid"
        path.write_bytes(bytes(content))
        return prime_from_midi(path, semantics, steps_per_beat, name)


@functools.lru_cache(maxsize=1)
def _test_chorales() -> tuple:
    """(name, file) of the music21 chorales in the test split (names only: each is parsed
    when chosen, so the app needs no parse of the whole corpus)."""
    return tuple(chorale_files("test"))


@functools.lru_cache(maxsize=8)
def _dataset(name: str, path: str, semantics: str, steps_per_beat: int, resolution):
    return load_dataset(name, path, semantics=semantics, steps_per_beat=steps_per_beat,
                        resolution=resolution or "quarter")


class PrimeSource:
    """The test pieces that can prime a model trained on ``dataset`` in ``semantics`` at
    ``steps_per_beat`` (JSB: at ``resolution``): those of its own dataset when it is in the
    data home (``data``, default :func:`~musicgen_lib.data.home.data_home`), else the
    music21 chorales (always there); ``note`` says why when it falls back.

    Notebook: 11_play."""

    def __init__(self, dataset: str, semantics: str, steps_per_beat: int,
                 resolution: str | None = None, data=None):
        self.semantics, self.steps_per_beat = semantics, steps_per_beat
        self.dataset, self.note, self._pieces = "chorales", "", None
        if dataset in ("jsb", "piano-midi-de"):
            try:
                ds = _dataset(dataset, str(require(dataset, data)), semantics, steps_per_beat,
                              resolution)
                self._pieces = {p.name: p for p in ds.pieces("test") if p.roll.any()}
                self.dataset = dataset
            except MusicgenError:
                self.note = (f"{dataset} is not in the data home (`musicgen data fetch "
                             f"{dataset}`): priming with chorales")
        elif dataset not in ("chorales",):
            self.note = f"priming with chorales ({dataset} is not browsable here)"

    def names(self) -> list:
        if self._pieces is not None:
            return list(self._pieces)
        return [n for n, _ in _test_chorales()]

    def prime(self, name: str) -> Prime:
        label = f"{self.dataset} {name}"
        if self._pieces is not None:
            if name not in self._pieces:
                raise DataError(f"{self.dataset} has no test piece {name!r}")
            p = self._pieces[name]
            return Prime(label, first_bar(p.roll, self.steps_per_beat, source=label))
        files = dict(_test_chorales())
        if name not in files:
            raise DataError(f"no test chorale {name!r}")
        return prime_from_notes(chorale_notes(files[name]), self.semantics, self.steps_per_beat,
                                label)


def bar_with_history(roll, bar: int, history: int = 0, rng=None, source: str = "prime"):
    """A prime bar of ``roll`` (on the bar grid from step 0) and up to ``history`` steps
    before it: the first bar that holds a note pushed ``history`` steps on where the piece
    is long enough, or, with ``rng`` (a numpy Generator), a random bar from there on.
    Returns (prime (n, 88), its first step, its last step) — the steps of ``roll`` it holds
    (a piece shorter than a bar gives fewer steps than a bar). DataError when ``roll`` holds
    no note.

    Notebook: 08_training_and_samples (``musicgen sample``)."""
    roll = np.asarray(roll)
    sounding = np.flatnonzero(roll.any(axis=1)) if roll.ndim == 2 else np.zeros(0, int)
    if not len(sounding):
        raise DataError(f"{source}: the prime holds no notes")
    first = sounding[0] // bar * bar
    lo = min(first + history, max(first, (len(roll) - bar) // bar * bar))
    starts = np.arange(lo, max(lo + 1, len(roll) - bar + 1), bar)
    a = int(starts[rng.integers(len(starts))]) if rng is not None else int(lo)
    begin, end = max(0, a - history), min(len(roll), a + bar)
    return roll[begin:end], begin, end - 1


__all__ = ["Prime", "PrimeSource", "first_bar", "beats_per_bar", "bar_with_history",
           "prime_from_notes", "prime_from_midi", "prime_from_upload"]
