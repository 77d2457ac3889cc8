"""Metrics as pure functions of piano rolls (notebooks 01_representations,
09_harmony_analysis, 10_discussion).

Every function takes a ``(T, 88)`` (or ``(T, 12)``) 0/1 roll and returns numbers or
arrays; none reads files or keeps state.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.octave import compress
from .harmony import analyze_harmony, onsets_of
from .keys import KeyConfig, key_changes, window_pc_weights


def polyphony(roll) -> np.ndarray:
    """Number of keys sounding at each step, shape ``(T,)``.

    Notebook: 01_representations, 04_independent_vs_dependent."""
    return np.asarray(roll).astype(bool).sum(axis=-1)


def _pitch_classes(roll) -> np.ndarray:
    """``(T, 12)`` bool: the pitch classes of a ``(T, 88)`` roll (a ``(T, 12)`` one as is)."""
    roll = np.asarray(roll)
    return (compress(roll) if roll.shape[-1] == 88 else roll).astype(bool)


def pitch_class_counts(roll) -> np.ndarray:
    """Number of distinct pitch classes sounding at each step, shape ``(T,)`` (the thesis'
    "at most 5–7 pitch classes at once", §3.2).

    Notebook: 01_representations."""
    return _pitch_classes(roll).sum(axis=-1)


def histogram(values, max_value: int | None = None) -> np.ndarray:
    """Counts of each integer value 0..max_value."""
    values = np.asarray(values, dtype=np.int64)
    return np.bincount(values, minlength=(max_value or int(values.max(initial=0))) + 1)


# ---------------------------------------------------------------- chords: are the notes of a
# frame chosen together? (notebook 04_independent_vs_dependent)

DISSONANT_INTERVALS = (1, 2, 6)  # interval classes: minor 2nd / major 7th, major 2nd / minor 7th, tritone


def interval_classes(roll) -> np.ndarray:
    """Counts of the interval classes 0..6 between every pair of keys sounding together,
    summed over the steps of a ``(T, 88)`` roll: ``(7,)``. Class 0 is an octave (or unison).

    Notebook: 04_independent_vs_dependent."""
    roll = np.asarray(roll).astype(np.int64)
    keys = np.arange(roll.shape[-1])
    ic = np.minimum((keys[:, None] - keys[None]) % 12, (keys[None] - keys[:, None]) % 12)  # (88, 88)
    pairs = np.triu(roll.T @ roll, k=1)            # (88, 88) steps on which keys i < j both sound
    return np.bincount(ic.ravel(), weights=pairs.ravel(), minlength=7).astype(np.int64)


def dissonance_rate(roll) -> float:
    """Share of simultaneous key pairs at a second, seventh or tritone (NaN if no pairs).

    Notebook: 04_independent_vs_dependent."""
    h = interval_classes(roll)
    return float(h[list(DISSONANT_INTERVALS)].sum() / h.sum()) if h.sum() else float("nan")


def tertian_rate(roll, min_classes: int = 3) -> float:
    """Share of steps with at least ``min_classes`` pitch classes whose pitch-class set is a
    triad or seventh chord in any inversion (:func:`harmony.is_tertian`); NaN if none.

    Notebook: 04_independent_vs_dependent."""
    from .harmony import is_tertian

    rows = [np.flatnonzero(r) for r in _pitch_classes(roll) if r.sum() >= min_classes]
    return float(np.mean([is_tertian(r) for r in rows])) if rows else float("nan")


def chord_statistics(rolls) -> dict:
    """The chord statistics of chapter 4 over a set of ``(T, 88)`` rolls, pooled: notes sounding
    at once (mean), the share of dissonant pairs (:func:`dissonance_rate`) and of triads or
    sevenths among the frames of three or more classes (:func:`tertian_rate`).

    Notebook: 04_independent_vs_dependent, 08_training_and_samples."""
    flat = np.concatenate(list(rolls))
    return {"notes at once": float(polyphony(flat).mean()),
            "dissonant pairs": dissonance_rate(flat),
            "triads / sevenths": tertian_rate(flat)}


# ---------------------------------------------------------------- the objective metrics of
# notebooks 09_harmony_analysis and 10_discussion: per piece, then per set with intervals


@dataclass(frozen=True)
class MetricsConfig:
    """Windows and units of the metrics. ``bar`` in steps (16 = 4/4 at 4 steps per beat);
    ``steps_per_minute`` converts steps to time (480 = 4 steps per beat at 120 bpm, the
    tempo our rolls are played at); ``lags`` for :func:`repetition`.

    Notebook: 04a_melody, 04c_events_and_notes, 04d_melody_vae, 04e_musegan, 09_harmony_analysis,
    10_discussion."""

    key: KeyConfig = field(default_factory=KeyConfig)
    bar: int = 16
    lags: tuple = (16, 32, 64)
    steps_per_minute: float = 480.0


#: The eight headline metrics (name: what it measures), in table order.
HEADLINE_METRICS = {
    "out_of_key_rate": "share of struck notes outside the 7-note scale of the local key",
    "key_changes_per_minute": "changes of the window key per minute (120 bpm)",
    "pitch_class_entropy": "entropy of each bar's pitch-class distribution, bits (max log2 12)",
    "notes_per_onset_step": "notes struck together: mean onsets on steps with any onset",
    "onset_density": "share of steps on which some note is struck",
    "pitch_range": "mean span of each bar, highest minus lowest sounding pitch, semitones",
    "empty_bar_rate": "share of bars in which nothing sounds",
    "repetition": "mean similarity (Jaccard) of frames 16, 32 and 64 steps apart",
}


def pitch_class_entropy(roll, window: int = 16, hop: int = 16) -> np.ndarray:
    """``(W,)`` Shannon entropy in bits of each window's duration-weighted pitch-class
    distribution; nan for a silent window. 0 for one class, log2(12) ≈ 3.585 for all
    twelve equally.

    Notebook: 09_harmony_analysis."""
    w = window_pc_weights(roll, window, hop)                      # (W, 12)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = w / total
        h = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0).sum(axis=1)
    return np.where(total[:, 0] > 0, h, np.nan)


def notes_per_onset_step(onsets) -> float:
    """Mean number of notes struck on the steps where at least one is (nan if none)."""
    n = np.asarray(onsets).astype(bool).sum(axis=-1)
    return float(n[n > 0].mean()) if (n > 0).any() else float("nan")


def mean_polyphony(roll) -> float:
    """Mean number of keys sounding on the steps where any does (nan if silent)."""
    n = polyphony(roll)
    return float(n[n > 0].mean()) if (n > 0).any() else float("nan")


def onset_density(onsets) -> float:
    """Share of steps on which at least one note is struck.

    Notebook: 10_discussion."""
    onsets = np.asarray(onsets).astype(bool)
    return float(onsets.any(axis=-1).mean()) if len(onsets) else float("nan")


def melody_alone_rate(roll, onsets) -> float:
    """Texture: among the steps where a note is struck while at least two keys sound, the
    share where the only struck note is the highest sounding one — a melody moving over a
    held accompaniment (thesis §7.4: "no clear melody and accompaniment"). Block chords
    score 0; nan if there are no such steps.

    Notebook: 10_discussion."""
    roll, onsets = np.asarray(roll).astype(bool), np.asarray(onsets).astype(bool)
    keys = np.arange(roll.shape[-1])
    top = np.where(roll.any(-1), np.where(roll, keys, -1).max(-1), -1)      # (T,) highest key
    n_struck = onsets.sum(-1)
    steps = (n_struck > 0) & (roll.sum(-1) >= 2)
    if not steps.any():
        return float("nan")
    top_struck = onsets[np.arange(len(onsets)), np.maximum(top, 0)] & (top >= 0)
    return float(((n_struck == 1) & top_struck)[steps].mean())


def _bars(roll, bar: int) -> np.ndarray:
    """``(B, bar, K)`` the roll cut into whole bars (a last partial bar is padded silent)."""
    roll = np.asarray(roll).astype(bool)
    T, K = roll.shape
    B = -(-T // bar)
    out = np.zeros((B * bar, K), bool)
    out[:T] = roll
    return out.reshape(B, bar, K)


def pitch_range(roll, bar: int = 16) -> float:
    """Mean over non-silent bars of highest minus lowest sounding pitch (semitones)."""
    on = _bars(roll, bar).any(axis=1)                             # (B, K)
    on = on[on.any(axis=1)]
    if not len(on):
        return float("nan")
    K = on.shape[1]
    hi = K - 1 - np.argmax(on[:, ::-1], axis=1)
    lo = np.argmax(on, axis=1)
    return float((hi - lo).mean())


def empty_bar_rate(roll, bar: int = 16) -> float:
    """Share of bars in which nothing sounds."""
    bars = _bars(roll, bar)
    return float((~bars.any(axis=(1, 2))).mean()) if len(bars) else float("nan")


def repetition(roll, lag: int) -> float:
    """Self-similarity at a lag: mean Jaccard similarity |a∩b|/|a∪b| of the frames ``t`` and
    ``t − lag``, over the steps where either sounds (nan if none). 1 = the music repeats
    itself exactly ``lag`` steps later."""
    roll = np.asarray(roll).astype(bool)
    if len(roll) <= lag:
        return float("nan")
    a, b = roll[lag:], roll[:-lag]
    union = (a | b).sum(axis=1)
    inter = (a & b).sum(axis=1)
    keep = union > 0
    return float((inter[keep] / union[keep]).mean()) if keep.any() else float("nan")


def key_changes_per_minute(keys, n_steps: int, steps_per_minute: float = 480.0) -> float:
    """Key changes (see :func:`~musicgen_lib.analysis.keys.key_changes`) per minute."""
    minutes = n_steps / steps_per_minute
    return len(key_changes(keys)) / minutes if minutes > 0 else float("nan")


def piece_metrics(roll, onsets=None, config: MetricsConfig = MetricsConfig()) -> dict:
    """All metrics of one ``(T, 88)`` sounding roll (``onsets``: its onset roll; default the
    starts of runs), as a JSON-ready dict of floats: the eight of
    :data:`HEADLINE_METRICS`, then ``polyphony``, ``repetition_<lag>`` and ``steps``.

    Notebook: 04a_melody, 04c_events_and_notes, 04e_musegan, 09_harmony_analysis, 10_discussion."""
    roll = np.asarray(roll).astype(bool)
    onsets = onsets_of(roll) if onsets is None else np.asarray(onsets).astype(bool)[:len(roll)]
    h = analyze_harmony(roll, onsets, config.key, chord_config=None)
    reps = {lag: repetition(roll, lag) for lag in config.lags}
    ent = pitch_class_entropy(roll, config.key.window, config.key.hop)
    out = {
        "out_of_key_rate": h.out_of_key_rate,
        "key_changes_per_minute": key_changes_per_minute(h.keys, len(roll), config.steps_per_minute),
        "pitch_class_entropy": float(np.nanmean(ent)) if np.isfinite(ent).any() else float("nan"),
        "notes_per_onset_step": notes_per_onset_step(onsets),
        "onset_density": onset_density(onsets),
        "pitch_range": pitch_range(roll, config.bar),
        "empty_bar_rate": empty_bar_rate(roll, config.bar),
        "repetition": float(np.nanmean(list(reps.values()))) if any(np.isfinite(list(reps.values()))) else float("nan"),
        "polyphony": mean_polyphony(roll),
    }
    out.update({f"repetition_{lag}": v for lag, v in reps.items()})
    out["steps"] = int(len(roll))
    return out


def melody_metrics(tokens, config: MetricsConfig = MetricsConfig()) -> dict:
    """The numbers of one melody of 16th-note tokens (``data.melody``): the share of its notes
    outside the local key and its span per bar (:func:`piece_metrics` of its roll), its notes
    per bar, and the share of its struck notes that repeat the token a bar (16 steps) before.

    Notebook: 04a_melody, 04d_melody_vae, 10_discussion."""
    from ..data.melody import tokens_to_notes
    from ..data.pianoroll import notes_to_roll

    tokens = np.asarray(tokens, np.int64)
    notes = tokens_to_notes(tokens)
    roll = notes_to_roll(notes, 4, n_steps=len(tokens))
    m = piece_metrics(roll, notes_to_roll(notes, 4, "onset", n_steps=len(tokens)), config)
    struck = tokens[16:] >= 2
    return {"out-of-key notes": m["out_of_key_rate"], "span per bar (semitones)": m["pitch_range"],
            "notes per bar": 16 * float(np.mean(tokens >= 2)),
            "notes struck as a bar before": float(np.mean(tokens[16:][struck] == tokens[:-16][struck]))
            if struck.any() else float("nan")}


def confidence_interval(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple:
    """Mean of ``values`` (nans dropped) and a seeded bootstrap percentile interval for it:
    ``(mean, low, high, n)``. With one value the interval is that value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan"), float("nan"), 0
    if len(v) == 1:
        return float(v[0]), float(v[0]), float(v[0]), 1
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(v.mean()), float(lo), float(hi), int(len(v))


def aggregate(per_piece: list, level: float = 0.95, seed: int = 0) -> dict:
    """Per-set summary of :func:`piece_metrics` dicts: for each metric the mean over pieces
    (each piece counts once) with a bootstrap ``level`` interval,
    ``{name: {"mean", "ci_low", "ci_high", "n"}}``.

    Notebook: 04e_musegan, 09_harmony_analysis, 10_discussion."""
    names = [k for k in (per_piece[0] if per_piece else {}) if k != "steps"]
    out = {}
    for name in names:
        m, lo, hi, n = confidence_interval([p[name] for p in per_piece], level, seed=seed)
        out[name] = {"mean": m, "ci_low": lo, "ci_high": hi, "n": n}
    return out


def _finite_values(per_piece: list, metric: str) -> np.ndarray:
    """The finite values of ``metric`` in a list of :func:`piece_metrics` dicts."""
    v = np.array([p[metric] for p in per_piece], dtype=float)
    return v[np.isfinite(v)]


def _varies(values) -> bool:
    """Whether an array of values has a spread (no warning for an empty one)."""
    return len(values) > 0 and values.std() > 0


def sigma_gap(per_gen: list, per_real: list, metric: str | None = None, metrics=None) -> float:
    """How far a set of pieces is from real music, in standard deviations of the real ones.

    ``per_gen``, ``per_real``: lists of :func:`piece_metrics` dicts (only finite values
    count). With ``metric``: the gap on that metric, ``|mean gen - mean real| / sd real``
    (the population standard deviation of the real values): 0 where the means are equal,
    ``inf`` where they differ and the real values do not vary. Without: the mean of those
    gaps over ``metrics`` (default: the :data:`HEADLINE_METRICS`) on which the real values
    vary — the "mean gap" on which notebook 10 tunes the sampling settings. nan where a
    mean cannot be taken (no finite values, or no metric on which the real values vary).

    Notebook: 04c_events_and_notes, 04e_musegan, 10_discussion.
    """
    if metric is None:
        names = HEADLINE_METRICS if metrics is None else metrics
        gaps = [sigma_gap(per_gen, per_real, m) for m in names
                if _varies(_finite_values(per_real, m))]
        return float(np.mean(gaps)) if gaps else float("nan")
    real, gen = _finite_values(per_real, metric), _finite_values(per_gen, metric)
    if not (len(real) and len(gen)):
        return float("nan")
    diff = abs(gen.mean() - real.mean())
    if diff == 0:
        return 0.0
    return float(diff / real.std()) if _varies(real) else float("inf")


def split_periodic(roll, period: int, length: int | None = None, skip: int = 0) -> list:
    """Cut a roll made of equally spaced fragments into the fragments: fragment ``i`` is
    ``roll[i·period + skip : i·period + length]`` (``length`` defaults to ``period``).
    The author's published hour is 264-step blocks, each 240 steps of music and 24 of rest,
    the first 16 of which may be the real-music primer: ``split_periodic(r, 264, 240, 16)``.

    Notebook: 09_harmony_analysis, 10_discussion."""
    length = period if length is None else length
    roll = np.asarray(roll)
    return [roll[s + skip:s + length] for s in range(0, len(roll) - length + 1, period)]


def excerpts(roll, onsets, length: int, hop: int | None = None) -> list:
    """A piece cut into excerpts of ``length`` steps, one every ``hop`` steps (default
    ``length``: back to back), while a whole excerpt fits in ``roll`` (a last partial one is
    dropped): ``[(sounding, onsets), ...]``, each cut from ``roll`` and from the matching
    onset roll ``onsets`` at the same steps.

    Notebook: 04e_musegan, 10_discussion.
    """
    hop = length if hop is None else hop
    if length < 1 or hop < 1:
        raise ValueError("length and hop must be positive")
    roll, onsets = np.asarray(roll), np.asarray(onsets)
    return [(roll[a:a + length], onsets[a:a + length])
            for a in range(0, len(roll) - length + 1, hop)]
