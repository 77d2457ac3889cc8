"""Chords of piano rolls and the harmony analysis of the thesis' Fig. 17: the chord of
every window, its Roman numeral relative to the local key, the transitions between keys or
chords, and :func:`analyze_harmony`, which puts the keys, scales, wrong notes and chords of
one roll together.

Notebook: 09_harmony_analysis.

The tonality half — key profiles, scales, the key of every window, out-of-key notes, key
changes — is :mod:`musicgen_lib.analysis.keys`; its public names are re-exported here, so
``from musicgen_lib.analysis.harmony import KeyConfig, window_keys, ...`` keeps working.

Everything here is a pure function of a ``(T, 88)`` sounding roll (column ``k`` = MIDI
pitch ``21 + k``) and, where onsets matter, of the matching onset roll. music21 is called
only to name chords (Roman numerals relative to the local key), with a cache, since the
same (chord, key) pairs recur all the time.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..data.midi import LOWEST_KEY
from ..data.octave import PITCH_CLASS_NAMES
from .keys import (MAJOR_TONICS, MINOR_TONICS, NO_KEY, PROFILES, SCALES, KeyConfig, best_path,
                   global_key, key_changes, key_from_name, key_name, key_profiles, key_scores,
                   key_short, music21_key, out_of_key, scale_mask, scale_pcs, step_keys,
                   window_keys, window_pc_weights, window_starts)

__all__ = [
    # keys (re-exported from .keys)
    "NO_KEY", "SCALES", "PROFILES", "MAJOR_TONICS", "MINOR_TONICS", "KeyConfig", "key_name",
    "key_short", "key_from_name", "music21_key", "key_profiles", "scale_pcs", "scale_mask",
    "window_starts", "window_pc_weights", "key_scores", "best_path", "window_keys",
    "global_key", "step_keys", "out_of_key", "key_changes",
    # chords and the report of one piece
    "ChordConfig", "transitions", "is_tertian", "triad_kind", "roman_figure", "chord_pitches", "chord_label",
    "chord_labels", "chordify_labels", "HarmonyAnalysis", "onsets_of", "analyze_harmony",
]


@dataclass(frozen=True)
class ChordConfig:
    """How chords are labelled: one label per ``window`` steps (8 = half a bar). The chord
    of a window is its most-sounding pitch classes — those sounding at least ``threshold``
    times as long as the most-sounding one, at most ``max_notes`` — over the window's
    lowest sounding note of those classes (the bass, which gives the inversion).

    Notebook: 09_harmony_analysis."""

    window: int = 8
    threshold: float = 0.4
    max_notes: int = 4


def transitions(sequence, skip=("", None)) -> Counter:
    """Counts of transitions ``(a, b)`` between consecutive *different* items of a sequence
    (keys or chord labels), ignoring items in ``skip`` — the harmony transition graph as an
    edge list with weights.

    Notebook: 09_harmony_analysis."""
    seq = [s for s in sequence if s not in skip and not (isinstance(s, (int, np.integer)) and s < 0)]
    return Counter((a, b) for a, b in zip(seq, seq[1:]) if a != b)


def transition_matrix(counts, top: int = 12, normalize: str = "row"):
    """The ``top`` most frequent items of a transition Counter (:func:`transitions`), by
    transitions in or out, and the ``(top, top)`` matrix between them: row = from, column =
    to. ``normalize="row"``: each cell is the share of the row's transitions among these items
    (where the harmony goes next, given where it is); ``"all"``: the share of all transitions.
    Returns ``(labels, matrix)``.

    Notebook: 09_harmony_analysis."""
    if normalize not in ("row", "all"):
        raise ValueError("normalize must be 'row' or 'all'")
    totals = Counter()
    for (a, b), n in counts.items():
        totals[a] += n
        totals[b] += n
    labels = [x for x, _ in sorted(totals.items(), key=lambda kv: (-kv[1], str(kv[0])))[:top]]
    idx = {x: i for i, x in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)))
    for (a, b), n in counts.items():
        if a in idx and b in idx:
            m[idx[a], idx[b]] = n
    if normalize == "row":
        m /= np.maximum(m.sum(axis=1, keepdims=True), 1)
    else:
        m /= max(sum(counts.values()), 1)
    return labels, m


# ---------------------------------------------------------------- chords

#: Spellings tried for each pitch class relative to the tonic (the first is preferred):
#: chromatic degrees may be spelled sharp or flat, and the spelling that makes the chord a
#: plain triad or seventh (else the shortest figure) wins.
_SPELLINGS = {
    "major": ("C", ("D-", "C#"), "D", ("E-", "D#"), "E", "F", ("F#", "G-"), "G", ("A-", "G#"),
              "A", ("B-", "A#"), "B"),
    "minor": ("C", ("D-", "C#"), "D", ("E-", "D#"), ("E", "F-"), "F", ("F#", "G-"), "G",
              ("A-", "G#"), ("A", "B--"), ("B-", "A#"), ("B", "C-")),
}
_INVERSIONS = {False: ("", "6", "64"), True: ("7", "65", "43", "42")}
_QUALITY = {"diminished": "o", "half-diminished": "ø", "augmented": "+"}


def _spelled(midi: int, name: str):
    from music21 import pitch

    p = pitch.Pitch(name)
    p.octave = 4
    p.octave += (midi - p.midi) // 12
    return p


def _short_label(rn) -> str:
    """``V7``, ``I6``, ``viio``, ``bVI64``; a chord that is no plain triad or seventh gets
    its root's numeral and ``*`` (added or foreign notes)."""
    seventh = rn.isSeventh()
    if not (rn.isTriad() or seventh):
        return f"{rn.frontAlterationString}{rn.romanNumeralAlone}*"
    quality = rn.quality
    if quality == "diminished" and seventh and rn.isHalfDiminishedSeventh():
        quality = "half-diminished"
    inv = _INVERSIONS[seventh][min(rn.inversion(), 3 if seventh else 2)]
    return f"{rn.frontAlterationString}{rn.romanNumeralAlone}{_QUALITY.get(quality, '')}{inv}"


#: Interval sets (above the root) of the triads and seventh chords: a pitch-class set that
#: matches one of them has a plain tertian reading under some spelling.
_TERTIAN = {frozenset(x) for x in (
    (0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8),
    (0, 4, 7, 10), (0, 4, 7, 11), (0, 3, 7, 10), (0, 3, 6, 10), (0, 3, 6, 9), (0, 3, 7, 11),
    (0, 4, 8, 11), (0, 4, 8, 10))}


def is_tertian(pcs) -> bool:
    """Whether a set of pitch classes is a triad or a seventh chord (in any inversion)."""
    pcs = {p % 12 for p in pcs}
    return any(frozenset((p - r) % 12 for p in pcs) in _TERTIAN for r in pcs)


def triad_kind(pcs) -> str | None:
    """``"major"`` or ``"minor"`` when the pitch classes are exactly a major or minor triad (in
    any inversion, doublings folded), else None.

    Notebook: 06_voice_sampler."""
    pcs = {int(p) % 12 for p in pcs}
    if len(pcs) != 3:
        return None
    for root in pcs:
        shape = {(p - root) % 12 for p in pcs}
        if shape == {0, 4, 7}:
            return "major"
        if shape == {0, 3, 7}:
            return "minor"
    return None


@lru_cache(maxsize=20000)
def roman_figure(pitches: tuple, mode: str = "major", short: bool = True) -> str:
    """Roman numeral (music21 ``romanNumeralFromChord``) of a chord of MIDI ``pitches``
    (bass first) in **C major or C minor** (``mode``): transpose to C first. For a triad or
    seventh chord, chromatic notes are spelled both ways until music21 reads it as one (so
    A♭–C–E♭ in C major is ``bVI``, not a G♯ chord); other chords keep the first spelling.
    ``short``: a compact label (see :func:`_short_label`) instead of music21's figure."""
    from itertools import product

    from music21 import chord, key, roman

    k = key.Key("C" if mode == "major" else "c")
    options = [_SPELLINGS[mode][p % 12] for p in pitches]
    options = [o if isinstance(o, tuple) else (o,) for o in options]
    tertian = is_tertian(pitches)
    best, best_rank = None, None
    for names in product(*options):
        rn = roman.romanNumeralFromChord(
            chord.Chord([_spelled(p, n) for p, n in zip(pitches, names)]), k)
        rank = (not (rn.isTriad() or rn.isSeventh()), len(rn.figure))
        if best_rank is None or rank < best_rank:
            best, best_rank = rn, rank
        if not tertian or not rank[0]:
            break  # a plain reading found, or none to find
    return _short_label(best) if short else best.figure


def chord_pitches(roll, config: ChordConfig = ChordConfig()) -> list:
    """The chord of each chord window as a tuple of MIDI pitches, bass first (close
    position above it), or ``()`` for a silent window. Shape: one entry per window."""
    roll = np.asarray(roll).astype(bool)
    T = len(roll)
    weights = window_pc_weights(roll, config.window, config.window)   # (C, 12)
    out = []
    for c, start in enumerate(window_starts(T, config.window, config.window)):
        w = weights[c]
        if w.max() == 0:
            out.append(())
            continue
        order = np.argsort(-w, kind="stable")
        kept = [int(p) for p in order[:config.max_notes] if w[p] >= config.threshold * w.max()]
        keys = np.flatnonzero(roll[start:start + config.window].any(axis=0)) + LOWEST_KEY
        bass = int(min(p for p in keys if p % 12 in kept))
        others = sorted(bass + (p - bass) % 12 for p in kept if p != bass % 12)
        out.append((bass, *others))
    return out


def chord_label(pitches: tuple, k: int) -> str:
    """A readable label: a Roman numeral in key ``k`` for three or more pitch classes,
    note names for one or two (``'C'``, ``'C-E'``), ``''`` for silence."""
    if not pitches:
        return ""
    if len(pitches) < 3 or k < 0:
        return "-".join(PITCH_CLASS_NAMES[p % 12] for p in pitches)
    # The figure depends only on the intervals to the tonic: transpose to C (major) or
    # c (minor) with the bass in one octave, so the cache sees few distinct chords.
    tonic = int(k) % 12
    shift = tonic + 12 * ((pitches[0] - tonic - 48) // 12)
    return roman_figure(tuple(int(p) - shift for p in pitches), "major" if k < 12 else "minor")


def chord_labels(roll, keys_at_step, config: ChordConfig = ChordConfig()) -> list:
    """Chord label of every chord window, relative to the key in force at its start."""
    keys_at_step = np.asarray(keys_at_step)
    starts = window_starts(len(roll), config.window, config.window)
    return [chord_label(p, int(keys_at_step[s]) if len(keys_at_step) else NO_KEY)
            for p, s in zip(chord_pitches(roll, config), starts)]


def chordify_labels(stream, k=None) -> list:
    """For a music21 stream: ``chordify()`` it and label each vertical slice with its Roman
    numeral in key ``k`` (default: music21's own Krumhansl–Schmuckler key of the stream).
    Returns ``[(offset in quarter notes, figure), …]`` — the music21-native counterpart of
    :func:`chord_labels`, for scores rather than rolls."""
    from music21 import roman

    key_obj = stream.analyze("krumhansl") if k is None else music21_key(k)
    out = []
    for c in stream.chordify().recurse().getElementsByClass("Chord"):
        out.append((float(c.getOffsetInHierarchy(stream)),
                    roman.romanNumeralFromChord(c, key_obj).figure))
    return out


# ---------------------------------------------------------------- everything for one piece

@dataclass
class HarmonyAnalysis:
    """The Fig. 17 analysis of one roll. Shapes: ``W`` key windows, ``T`` steps, ``C`` chord
    windows."""

    keys: np.ndarray            # (W,) key per window, -1 = none
    key_starts: np.ndarray      # (W,) first step of each window
    keys_at_step: np.ndarray    # (T,) key in force at each step
    scale: np.ndarray           # (T, 12) bool: the 7 pitch classes in force
    wrong: np.ndarray           # (T, 88) bool: sounding cells outside the scale in force
    wrong_onsets: np.ndarray    # (T, 88) bool: note onsets outside the scale in force
    n_onsets: int               # notes struck
    chords: list                # (C,) chord labels ('' = silence)
    chord_starts: np.ndarray    # (C,) first step of each chord window
    config: KeyConfig = field(default_factory=KeyConfig)
    chord_config: ChordConfig = field(default_factory=ChordConfig)

    @property
    def out_of_key_rate(self) -> float:
        """Share of struck notes outside the scale in force (nan if no notes)."""
        return float(self.wrong_onsets.sum() / self.n_onsets) if self.n_onsets else float("nan")

    @property
    def changes(self) -> list:
        return key_changes(self.keys)


def onsets_of(roll) -> np.ndarray:
    """Onsets implied by a sounding roll: the first step of each run of 1s, ``(T, K)`` bool.
    (A key struck again while held is invisible here; pass the real onset roll when you have
    it.)

    Notebook: 04e_musegan, 10_discussion."""
    roll = np.asarray(roll).astype(bool)
    prev = np.zeros_like(roll)
    prev[1:] = roll[:-1]
    return roll & ~prev


def analyze_harmony(roll, onsets=None, config: KeyConfig = KeyConfig(),
                    chord_config: ChordConfig | None = ChordConfig()) -> HarmonyAnalysis:
    """Keys per window, the scale in force, wrong notes and chord labels of a ``(T, 88)``
    sounding roll (``onsets``: the matching onset roll; default: the starts of runs).
    ``chord_config=None`` skips chord labelling (the only part that calls music21 per
    window).

    Notebook: 09_harmony_analysis."""
    roll = np.asarray(roll).astype(bool)
    T = len(roll)
    onsets = onsets_of(roll) if onsets is None else np.asarray(onsets).astype(bool)[:T]
    keys = window_keys(roll, config)
    at_step = step_keys(keys, T, config.window, config.hop)
    wrong = out_of_key(roll, at_step, config.minor_scale)
    wrong_on = out_of_key(onsets, at_step, config.minor_scale)
    if chord_config is not None:
        chords = chord_labels(roll, at_step, chord_config)
        cstarts = window_starts(T, chord_config.window, chord_config.window)
    else:
        chords, cstarts, chord_config = [], np.zeros(0, np.int64), ChordConfig()
    return HarmonyAnalysis(keys, window_starts(T, config.window, config.hop), at_step,
                           scale_mask(at_step, config.minor_scale), wrong, wrong_on,
                           int(onsets.sum()), chords, cstarts, config, chord_config)
