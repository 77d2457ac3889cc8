"""Keys, scales, out-of-key ("wrong") notes and chords of piano rolls — the harmony and
tonality analysis of the thesis' Fig. 17 (notebook 09_harmony_analysis).

Everything here is a pure function of a ``(T, 88)`` sounding roll (column ``k`` = MIDI
pitch ``21 + k``) and, where onsets matter, of the matching onset roll.

Key finding is Krumhansl–Schmuckler as music21 does it (``analysis.discrete``): the
duration-weighted pitch-class distribution of a window is correlated (Pearson) with the
24 rotations of a major and a minor key profile, and the best correlation wins. The
profiles are read from music21; the correlations of *all* windows are one matrix
product here, so an hour of music takes milliseconds instead of music21's seconds per
hundred windows. music21 itself is called only to name chords (Roman numerals relative to
the local key), with a cache, since the same (chord, key) pairs recur all the time.

Keys are integers ``0..23``: ``tonic`` for major (0 = C major), ``12 + tonic`` for minor
(21 = A minor); ``-1`` is "no key" (an empty window).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..data.midi import LOWEST_KEY
from ..data.octave import FOLD, PITCH_CLASS_NAMES

NO_KEY = -1
#: Scale degrees (semitones above the tonic) of the 7-note scales a key can put in force.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural": (0, 2, 3, 5, 7, 8, 10),   # natural minor (aeolian)
    "harmonic": (0, 2, 3, 5, 7, 8, 11),  # harmonic minor (raised 7th)
    "melodic": (0, 2, 3, 5, 7, 9, 11),   # ascending melodic minor
}
#: Key profiles music21 offers (``analysis.discrete`` class names).
PROFILES = {"krumhansl": "KrumhanslSchmuckler", "aarden": "AardenEssen",
            "temperley": "TemperleyKostkaPayne", "bellman": "BellmanBudge",
            "simple": "SimpleWeights"}
MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


@dataclass(frozen=True)
class KeyConfig:
    """How keys are found.

    ``window``/``hop`` in steps (16 = one 4/4 bar at 4 steps per beat, the default: the
    thesis' "key per 4-beat window"). ``minor_scale`` picks the 7 notes a minor key puts in
    force (``natural``, ``harmonic`` or ``melodic``). ``change_penalty`` > 0 smooths the
    key path: the most likely sequence under "sum of correlations minus the penalty per key
    change" (Viterbi); 0 keeps each window's own best key (plain Krumhansl–Schmuckler).
    """

    window: int = 16
    hop: int = 16
    profile: str = "krumhansl"
    minor_scale: str = "natural"
    change_penalty: float = 0.0

    def __post_init__(self):
        if self.window < 1 or self.hop < 1:
            raise ValueError("window and hop must be positive")
        if self.minor_scale not in ("natural", "harmonic", "melodic"):
            raise ValueError(f"unknown minor scale {self.minor_scale!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown key profile {self.profile!r} (choose from {', '.join(PROFILES)})")


@dataclass(frozen=True)
class ChordConfig:
    """How chords are labelled: one label per ``window`` steps (8 = half a bar). The chord
    of a window is its most-sounding pitch classes — those sounding at least ``threshold``
    times as long as the most-sounding one, at most ``max_notes`` — over the window's
    lowest sounding note of those classes (the bass, which gives the inversion)."""

    window: int = 8
    threshold: float = 0.4
    max_notes: int = 4


# ---------------------------------------------------------------- keys

def key_name(k: int) -> str:
    """``0 -> 'C major'``, ``21 -> 'A minor'``, ``-1 -> '—'``."""
    if k < 0:
        return "—"
    return f"{MAJOR_TONICS[k]} major" if k < 12 else f"{MINOR_TONICS[k - 12]} minor"


def key_short(k: int) -> str:
    """Compact name: ``'C'`` for C major, ``'a'`` for A minor (music21's convention)."""
    if k < 0:
        return "—"
    return MAJOR_TONICS[k] if k < 12 else MINOR_TONICS[k - 12].lower()


def key_from_name(name: str) -> int:
    """Inverse of :func:`key_name` / :func:`key_short`: ``'C major'``, ``'a'``, ``'F# minor'``,
    ``'B- major'`` (music21 spelling) all work."""
    from music21 import pitch

    parts = name.strip().split()
    tonic = parts[0]
    mode = parts[1].lower() if len(parts) > 1 else ("minor" if tonic[0].islower() else "major")
    if mode not in ("major", "minor"):
        raise ValueError(f"unknown key {name!r}")
    pc = pitch.Pitch(tonic[0].upper() + tonic[1:].replace("b", "-")).pitchClass
    return pc + (12 if mode == "minor" else 0)


def music21_key(k: int):
    """The music21 ``key.Key`` for key ``k``."""
    from music21 import key

    tonic = (MAJOR_TONICS[k] if k < 12 else MINOR_TONICS[k - 12]).replace("b", "-")
    return key.Key(tonic if k < 12 else tonic.lower())


@lru_cache(maxsize=None)
def key_profiles(profile: str = "krumhansl") -> np.ndarray:
    """``(24, 12)`` key profiles from music21: row ``k`` weights the 12 pitch classes for
    key ``k`` (rows 0..11 major on C..B, 12..23 minor)."""
    from music21.analysis import discrete

    analyser = getattr(discrete, PROFILES[profile])()
    out = np.zeros((24, 12))
    for base, mode in ((0, "major"), (12, "minor")):
        w = np.asarray(analyser.getWeights(mode), dtype=float)
        for tonic in range(12):
            out[base + tonic] = np.roll(w, tonic)  # weight of pc j is w[(j - tonic) % 12]
    out.setflags(write=False)
    return out


def scale_pcs(k: int, minor_scale: str = "natural") -> tuple:
    """The 7 pitch classes key ``k`` puts in force (empty for ``NO_KEY``)."""
    if k < 0:
        return ()
    steps = SCALES["major"] if k < 12 else SCALES[minor_scale]
    return tuple(sorted((k % 12 + s) % 12 for s in steps))


@lru_cache(maxsize=None)
def _scale_table(minor_scale: str) -> np.ndarray:
    """``(25, 12)`` bool: row ``k`` marks key ``k``'s scale; the last row (key -1) is empty."""
    t = np.zeros((25, 12), bool)
    for k in range(24):
        t[k, list(scale_pcs(k, minor_scale))] = True
    t.setflags(write=False)
    return t


def scale_mask(keys, minor_scale: str = "natural") -> np.ndarray:
    """``(..., 12)`` bool: the pitch classes in force under each key of ``keys`` (any shape;
    -1 gives an all-False row)."""
    return _scale_table(minor_scale)[np.asarray(keys)]


def _pc_per_step(roll) -> np.ndarray:
    """``(T, 12)`` float: how many keys of each pitch class sound at each step."""
    roll = np.asarray(roll)
    if roll.shape[-1] == 12:
        return roll.astype(float)
    return roll.astype(np.float32) @ FOLD.astype(np.float32)


def window_starts(n_steps: int, window: int = 16, hop: int = 16) -> np.ndarray:
    """Start step of each window: ``0, hop, 2·hop, …`` while below ``n_steps`` (at least one);
    windows running past the end are cut short."""
    return np.arange(0, max(n_steps, 1), hop)


def window_pc_weights(roll, window: int = 16, hop: int = 16) -> np.ndarray:
    """``(W, 12)`` duration-weighted pitch-class distribution of every window (sounding
    key-steps per class; what music21 gets from a stream of the window's notes)."""
    pcs = _pc_per_step(roll)                                  # (T, 12)
    T = len(pcs)
    cum = np.zeros((T + 1, 12))
    np.cumsum(pcs, axis=0, out=cum[1:])
    starts = window_starts(T, window, hop)
    ends = np.minimum(starts + window, T)
    return cum[ends] - cum[starts]                            # (W, 12)


def key_scores(weights, profile: str = "krumhansl") -> np.ndarray:
    """``(W, 24)`` Pearson correlation of each window's distribution with each key's
    profile (music21's "correlation coefficient"); 0 where the distribution is flat or
    empty."""
    w = np.asarray(weights, dtype=float)
    prof = key_profiles(profile)
    wc = w - w.mean(axis=-1, keepdims=True)
    pc = prof - prof.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(wc, axis=-1, keepdims=True) * np.linalg.norm(pc, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (wc @ pc.T) / norm
    return np.where(norm > 0, r, 0.0)


def best_path(scores, penalty: float) -> np.ndarray:
    """Viterbi: the key sequence maximising ``Σ scores[w, k_w] − penalty·#changes``."""
    W, K = scores.shape
    back = np.zeros((W, K), np.int64)
    total = scores[0].copy()
    for w in range(1, W):
        stay = total
        jump = total.max() - penalty
        best_prev = int(total.argmax())
        move = jump > stay
        back[w] = np.where(move, best_prev, np.arange(K))
        total = np.where(move, jump, stay) + scores[w]
    path = np.zeros(W, np.int64)
    path[-1] = int(total.argmax())
    for w in range(W - 1, 0, -1):
        path[w - 1] = back[w, path[w]]
    return path


def window_keys(roll, config: KeyConfig = KeyConfig()) -> np.ndarray:
    """``(W,)`` the key of every window (``-1`` for a window where nothing sounds)."""
    weights = window_pc_weights(roll, config.window, config.hop)   # (W, 12)
    scores = key_scores(weights, config.profile)                    # (W, 24)
    empty = weights.sum(axis=1) == 0
    if config.change_penalty > 0 and len(scores):
        keys = best_path(scores, config.change_penalty)
    else:
        keys = scores.argmax(axis=1)
    return np.where(empty, NO_KEY, keys)


def global_key(roll, profile: str = "krumhansl") -> int:
    """The one key of a whole roll (Krumhansl–Schmuckler on its full distribution)."""
    w = _pc_per_step(roll).sum(axis=0, keepdims=True)
    if w.sum() == 0:
        return NO_KEY
    return int(key_scores(w, profile)[0].argmax())


def step_keys(keys, n_steps: int, window: int = 16, hop: int = 16) -> np.ndarray:
    """``(T,)`` the key in force at each step: that of the window centred nearest to it."""
    keys = np.asarray(keys)
    t = np.arange(n_steps)
    idx = np.clip((t - (window - hop) // 2) // hop, 0, len(keys) - 1)
    return keys[idx]


def out_of_key(roll, keys_at_step, minor_scale: str = "natural") -> np.ndarray:
    """``(T, 88)`` bool: the cells of ``roll`` (sounding or onset, 88 keys) whose pitch class
    is outside the scale in force at their step. Nothing is flagged where there is no key."""
    roll = np.asarray(roll).astype(bool)
    in_scale = scale_mask(keys_at_step, minor_scale)                # (T, 12)
    key_pc = (np.arange(roll.shape[1]) + LOWEST_KEY) % 12
    has_key = np.asarray(keys_at_step) >= 0
    return roll & ~in_scale[:, key_pc] & has_key[:, None]


def key_changes(keys) -> list:
    """``[(window, old_key, new_key), …]``: where the key changes, ignoring empty windows
    (a key resumed after silence is no change)."""
    out, prev = [], NO_KEY
    for w, k in enumerate(np.asarray(keys).tolist()):
        if k < 0:
            continue
        if prev >= 0 and k != prev:
            out.append((w, prev, k))
        prev = k
    return out


def transitions(sequence, skip=("", None)) -> Counter:
    """Counts of transitions ``(a, b)`` between consecutive *different* items of a sequence
    (keys or chord labels), ignoring items in ``skip`` — the harmony transition graph as an
    edge list with weights."""
    seq = [s for s in sequence if s not in skip and not (isinstance(s, (int, np.integer)) and s < 0)]
    return Counter((a, b) for a, b in zip(seq, seq[1:]) if a != b)


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
    it.)"""
    roll = np.asarray(roll).astype(bool)
    prev = np.zeros_like(roll)
    prev[1:] = roll[:-1]
    return roll & ~prev


def analyze_harmony(roll, onsets=None, config: KeyConfig = KeyConfig(),
                    chord_config: ChordConfig | None = ChordConfig()) -> HarmonyAnalysis:
    """Keys per window, the scale in force, wrong notes and chord labels of a ``(T, 88)``
    sounding roll (``onsets``: the matching onset roll; default: the starts of runs).
    ``chord_config=None`` skips chord labelling (the only part that calls music21 per
    window)."""
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
