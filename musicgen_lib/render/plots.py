"""Piano-roll plots with bar lines and pitch names (every notebook).

Figures are matplotlib; notebooks keep them as PNG so that strict nbval compares text
outputs only.
"""
from __future__ import annotations

import numpy as np

from ..data.midi import LOWEST_KEY
from ..data.octave import PITCH_CLASS_NAMES


def set_book_theme() -> None:
    """The book's one plotting theme, set by every chapter's first cell: seaborn's
    ``notebook`` context on its ``ticks`` style (white background, no grid over piano rolls),
    the colourblind palette, and figures at 80 dpi.

    Notebook: every chapter (01–10)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="ticks", palette="colorblind",
                  rc={"figure.dpi": 80, "axes.spines.top": False, "axes.spines.right": False})


def pitch_name(midi: int) -> str:
    """``60 -> 'C4'`` (scientific pitch notation)."""
    return f"{PITCH_CLASS_NAMES[midi % 12]}{midi // 12 - 1}"


def plot_roll(roll, ax=None, steps_per_beat: int = 4, beats_per_bar: int = 4,
              title: str | None = None, pitch_range: tuple | None = None, cmap: str = "Greys",
              lowest: int = LOWEST_KEY, labels=None, start_step: int = 0):
    """Draw a ``(T, K)`` roll (time on x, pitch up): bar lines every bar, C's labelled.

    ``K`` is 88 (keys, lowest MIDI pitch ``lowest``) or 12 (pitch classes, labelled by
    name; pass ``labels`` to override). ``pitch_range=(lo, hi)`` crops to MIDI pitches
    lo..hi (default: the sounding range ± 2). Returns the axes.
    """
    import matplotlib.pyplot as plt

    roll = np.asarray(roll, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.5))
    T, K = roll.shape
    if K == 12:
        lo, hi, rows = 0, 11, roll
        names = labels or PITCH_CLASS_NAMES
        ticks = list(range(12))
    else:
        on = np.flatnonzero(roll.any(axis=0))
        if pitch_range is None:
            pitch_range = ((on.min() + lowest - 2, on.max() + lowest + 2) if len(on)
                           else (lowest, lowest + K - 1))
        lo = max(int(pitch_range[0]), lowest)
        hi = min(int(pitch_range[1]), lowest + K - 1)
        rows = roll[:, lo - lowest:hi - lowest + 1]
        ticks = [p - lo for p in range(lo, hi + 1) if p % 12 == 0]
        names = [pitch_name(p) for p in range(lo, hi + 1) if p % 12 == 0]
    ax.imshow(rows.T, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest",
              vmin=0, vmax=max(1.0, float(rows.max()) if rows.size else 1.0),
              extent=(start_step - 0.5, start_step + T - 0.5, -0.5, rows.shape[1] - 0.5))
    bar = steps_per_beat * beats_per_bar
    first_bar = -(-start_step // bar) * bar
    for x in range(first_bar, start_step + T + 1, bar):
        ax.axvline(x - 0.5, color="tab:blue", lw=0.6, alpha=0.5)
    ax.set_yticks(ticks)
    ax.set_yticklabels(names)
    ax.set_xlabel(f"time step ({steps_per_beat} per beat; a line every {beats_per_bar} beats)")
    if title:
        ax.set_title(title)
    return ax


def plot_harmony(roll, analysis, ax=None, title: str | None = None, start_step: int = 0,
                 steps_per_bar: int = 16, chords: bool = True, fontsize: float = 7):
    """The thesis' Fig. 17 for one roll (notebook 09_harmony_analysis): pitch classes over
    time (C at the bottom), the 7-note scale in force shaded in its key's colour, notes in
    grey, **out-of-key notes in red**, the key named where it changes (above) and the
    chord of each chord window as a Roman numeral in that key (below).

    ``analysis``: the :class:`~musicgen_lib.analysis.harmony.HarmonyAnalysis` of ``roll``.
    Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    from ..analysis.harmony import key_short
    from ..data.octave import compress

    roll = np.asarray(roll)
    T = len(roll)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(2 + T / 18, 16), 3.6))
    pcs = compress(roll).astype(bool) if roll.shape[1] == 88 else roll.astype(bool)   # (T, 12)
    wrong = compress(analysis.wrong).astype(bool)                                       # (T, 12)
    img = np.ones((12, T, 3))
    for t in range(T):
        k = int(analysis.keys_at_step[t])
        if k >= 0:
            img[analysis.scale[t], t] = key_colour(k)
    img[pcs.T & ~wrong.T] = to_rgb("0.3")
    img[wrong.T] = to_rgb("tab:red")
    ax.imshow(img, origin="lower", aspect="auto", interpolation="nearest",
              extent=(start_step - 0.5, start_step + T - 0.5, -0.5, 11.5))
    first_bar = -(-start_step // steps_per_bar) * steps_per_bar
    for x in range(first_bar, start_step + T + 1, steps_per_bar):
        ax.axvline(x - 0.5, color="black", lw=0.5, alpha=0.4)
    ax.set_yticks(range(12))
    ax.set_yticklabels(PITCH_CLASS_NAMES, fontsize=fontsize + 1)
    prev = None
    for k, s in zip(analysis.keys.tolist(), analysis.key_starts.tolist()):
        if k >= 0 and k != prev:  # the key, where it changes (lower case: minor)
            ax.text(start_step + s, 12.1, key_short(k), fontsize=fontsize + 2,
                    ha="left", va="center", fontweight="bold")
            prev = k
    bottom = -0.5
    if chords:
        bottom = -1.8
        for label, s in zip(analysis.chords, analysis.chord_starts.tolist()):
            if label:
                ax.text(start_step + s + analysis.chord_config.window / 2 - 0.5, -1.15, label,
                        fontsize=fontsize, ha="center", va="center")
    ax.axhline(-0.5, color="black", lw=0.6)
    ax.axhline(11.5, color="black", lw=0.6)
    ax.set_xlim(start_step - 0.5, start_step + T - 0.5)
    ax.set_ylim(bottom, 12.7)
    ax.set_xlabel(f"time step (a line every bar); chords every {analysis.chord_config.window} steps"
                  if chords else "time step (a line every bar)")
    if title:
        ax.set_title(title)
    return ax


def key_colour(k: int, minor_strength: float = 0.45, major_strength: float = 0.28):
    """Pastel colour of key ``k`` for scale shading: hue by the key signature's place on the
    circle of fifths, so a major key and its relative minor (same 7 notes) share a hue
    (the minor a shade stronger) and neighbouring keys have neighbouring hues."""
    from matplotlib.colors import hsv_to_rgb

    major = k if k < 12 else (k - 12 + 3) % 12          # relative major
    fifths = (major * 7) % 12                              # 0 = C, 1 = G, 2 = D, ...
    strength = major_strength if k < 12 else minor_strength
    return hsv_to_rgb((fifths / 12, strength, 1.0))


def plot_transitions(counts, ax=None, top: int = 12, title: str | None = None,
                     normalize: str = "row", cmap: str = "Blues"):
    """Heat map of the transitions between the ``top`` most frequent items of a transition
    Counter (from :func:`~musicgen_lib.analysis.harmony.transitions`): row = from, column =
    to. ``normalize="row"``: each cell is the share of the row's transitions (where the
    harmony goes next, given where it is); ``"all"``: share of all transitions. Cells of
    10 % (row) or 1 % (all) and more are labelled in percent. Returns the axes."""
    import matplotlib.pyplot as plt

    if normalize not in ("row", "all"):
        raise ValueError("normalize must be 'row' or 'all'")
    totals = {}
    for (a, b), n in counts.items():
        totals[a] = totals.get(a, 0) + n
        totals[b] = totals.get(b, 0) + n
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
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.4))
    ax.imshow(m, cmap=cmap, interpolation="nearest", vmin=0)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([str(x) for x in labels], rotation=90)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([str(x) for x in labels])
    ax.set_xlabel("to")
    ax.set_ylabel("from")
    shown = 0.1 if normalize == "row" else 0.01
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j] >= shown:
                ax.text(j, i, f"{100 * m[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    if title:
        ax.set_title(title)
    return ax
