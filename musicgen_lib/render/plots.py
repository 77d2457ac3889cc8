"""Piano-roll plots with bar lines and pitch names (every notebook).

Figures are matplotlib; notebooks keep them as PNG so that strict nbval compares text
outputs only.
"""
from __future__ import annotations

import numpy as np

from ..data.midi import LOWEST_KEY
from ..data.octave import PITCH_CLASS_NAMES


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
