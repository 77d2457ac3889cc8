"""Piano-roll plots with bar lines and pitch names (every notebook).

Figures are matplotlib; notebooks keep them as PNG so that strict nbval compares text
outputs only.
"""
from __future__ import annotations

import numpy as np

from ..analysis.harmony import transition_matrix
from ..data.midi import LOWEST_KEY
from ..data.octave import PITCH_CLASS_NAMES


def set_book_theme() -> None:
    """The book's one plotting theme, set by every chapter's first cell: seaborn's
    ``notebook`` context on its ``ticks`` style (white background, no grid over piano rolls),
    the colourblind palette, and figures at 80 dpi.

    All four spines stay: a piano roll, a harmony chart or a heat map is an image that
    needs its frame. Bars keep matplotlib's edgeless patches (seaborn's styles outline them
    in white, which hides a bar of a pixel or two: a probability close to 0 must still show).

    Notebook: every chapter (01–11)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="ticks", palette="colorblind",
                  rc={"figure.dpi": 80, "patch.force_edgecolor": False})


def pitch_name(midi: int) -> str:
    """``60 -> 'C4'`` (scientific pitch notation).

    Notebook: 04a_melody, 04c_events_and_notes, 04d_melody_vae."""
    return f"{PITCH_CLASS_NAMES[midi % 12]}{midi // 12 - 1}"


def plot_roll(roll, ax=None, steps_per_beat: int = 4, beats_per_bar: int = 4,
              title: str | None = None, pitch_range: tuple | None = None, cmap: str = "Greys",
              lowest: int = LOWEST_KEY, labels=None, start_step: int = 0, bars=None):
    """Draw a ``(T, K)`` roll (time on x, pitch up): bar lines every bar, C's labelled.

    ``K`` is 88 (keys, lowest MIDI pitch ``lowest``) or 12 (pitch classes, labelled by
    name; pass ``labels`` to override). ``pitch_range=(lo, hi)`` crops to MIDI pitches
    lo..hi (default: the sounding range ± 2). ``bars``: the roll's bars
    (:class:`~musicgen_lib.data.metre.Bar` s, steps counted like ``start_step``: a MIDI
    file's metre), else a bar every ``beats_per_bar`` beats. Returns the axes.

    Notebook: 01_representations, 03_rnn_rbm, 04_independent_vs_dependent, 04d_melody_vae, 04e_musegan,
    04f_classifying_vae, 07_octave_decoder, 08_training_and_samples.
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
    if bars is None:
        bar = steps_per_beat * beats_per_bar
        first_bar = -(-start_step // bar) * bar
        lines = range(first_bar, start_step + T + 1, bar)
        every = f"a line every {beats_per_bar} beats"
    else:
        lines = [b.start for b in bars if start_step <= b.start <= start_step + T]
        signatures = sorted({b.signature for b in bars}, key=[b.signature for b in bars].index)
        every = f"a line every bar, {', '.join(signatures)}"
    for x in lines:
        ax.axvline(x - 0.5, color="tab:blue", lw=0.6, alpha=0.5)
    ax.set_yticks(ticks)
    ax.set_yticklabels(names)
    ax.set_xlabel(f"time step ({steps_per_beat} per beat; {every})")
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
    10 % (row) or 1 % (all) and more are labelled in percent. Returns the axes.

    Notebook: 09_harmony_analysis."""
    import matplotlib.pyplot as plt

    labels, m = transition_matrix(counts, top, normalize)
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


def plot_metric_distributions(table, metrics=None, order=None, axes=None, ncols: int = 4,
                              level: float = 0.95, real_colour="0.75"):
    """The distributions behind a table of per-excerpt metrics, real music against the
    generators (notebook 10_discussion).

    ``table``: :func:`~musicgen_lib.analysis.tables.metric_table`. One panel per metric
    (``metrics``: default every metric of the table, in its order), one violin per set
    (``order``: default the table's order) of its excerpts' ``z``, the value in units of the
    spread of the set's own real music: every set shares the axis, the real music sits
    around 0 with a spread of 1, and a generator's distance from 0 is its gap in σ. Over each
    violin, the set's mean with its seeded bootstrap ``level`` interval
    (:func:`~musicgen_lib.analysis.metrics.confidence_interval`, as the metric table's
    intervals, in z units). Real sets are grey, each generator has the colour of its real
    music (the current palette), and a line separates the groups. Metrics on which no real
    set varies (no finite ``z``) are left out. ``axes``: an array of at least as many axes as
    panels (default: a new figure, ``ncols`` panels a row, sharing the sets' axis, laid out
    tight); unused ones are switched off. Returns the axes drawn on, one per metric kept.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ..analysis.metrics import confidence_interval

    data = table[np.isfinite(table["z"].to_numpy(dtype=float))]
    metrics = list(dict.fromkeys(table["metric"])) if metrics is None else list(metrics)
    metrics = [m for m in metrics if (data["metric"] == m).any()]
    order = list(dict.fromkeys(table["set"])) if order is None else list(order)
    real_of = dict(zip(table["set"], table["real"]))
    groups = list(dict.fromkeys(real_of[s] for s in order))
    family = dict(zip(groups, sns.color_palette(n_colors=len(groups))))
    colours = {s: real_colour if real_of[s] == s else family[real_of[s]] for s in order}
    if axes is None:
        nrows = max(1, -(-len(metrics) // ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols + 3, 0.32 * len(order) * nrows + 1.2),
                                 sharey=True, squeeze=False)
    else:
        fig = None
    axes = np.asarray(axes).ravel()
    if len(axes) < len(metrics):
        raise ValueError(f"{len(metrics)} metrics to draw on {len(axes)} axes")
    for ax, m in zip(axes, metrics):
        d = data[data["metric"] == m]
        sns.violinplot(data=d, x="z", y="set", order=order, hue="set", hue_order=order,
                       palette=colours, cut=0, inner=None, density_norm="width", linewidth=0.5,
                       legend=False, ax=ax)
        for i, name in enumerate(order):
            z = d.loc[d["set"] == name, "z"].to_numpy(dtype=float)
            if len(z):
                mean, lo, hi, _ = confidence_interval(z, level)
                ax.errorbar(mean, i, xerr=[[mean - lo], [hi - mean]], fmt="o", color="black",
                            ms=3.5, capsize=2.5, lw=1.2, zorder=5)
        for i in range(1, len(order)):
            if real_of[order[i]] != real_of[order[i - 1]]:
                ax.axhline(i - 0.5, color="0.5", lw=0.6)
        ax.axvline(0, color="black", lw=0.8, ls="--", zorder=1)
        ax.set(title=m, xlabel="(value − real mean) / real σ", ylabel="")
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    if fig is not None:
        fig.tight_layout()
    return axes[:len(metrics)]


def plot_training_curve(log, ax=None, *, label: str = "", mark_best: bool = True):
    """A run's training (dashed) and validation (solid) losses against the optimiser step, from
    a log as :func:`musicgen_lib.checkpoints.read_log` reads it, with a dotted line at the
    best validation. Returns the axes.

    Notebook: 04a_melody, 04b_voices, 04c_events_and_notes, 04d_melody_vae, 04f_classifying_vae,
    08_training_and_samples."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.4))
    prefix = f"{label}: " if label else ""
    line, = ax.plot(log["step"], log["valid_nll"], marker="o", ms=3, label=f"{prefix}validation")
    ax.plot(log["step"], log["train_loss"], ls="--", color=line.get_color(),
            label=f"{prefix}training")
    if mark_best:
        best = int(np.nanargmin(log["valid_nll"]))
        ax.axvline(log["step"][best], color="0.5", ls=":", lw=1)
    ax.set_xlabel("iteration")
    ax.legend()
    return ax


def plot_live_curve(live, committed, axes=None, *, live_label: str = "this run, live",
                    committed_label: str = "committed run", logx: bool = False):
    """A short training run's losses drawn over the committed full run's, on the same axes.

    ``live`` and ``committed`` are training logs as :func:`musicgen_lib.train.read_log` reads
    them (x: the optimiser step, as the logs count it; y: ``train_loss`` and ``valid_nll``).
    The committed run is drawn in grey, the live run in the palette's first colour with a dot
    at every validation, on top. ``axes``: a pair of axes (the training loss on the first, the
    validation loss on the second: for a training loss in other units than the validation's,
    such as the RNN-RBM's CD surrogate), or one axes (both losses, in the same units:
    validation solid, training dashed with hollow dots), or None (a new figure with a pair).
    ``logx``: a logarithmic step axis, where a short run would be squeezed against the y axis.
    A legend on every axes. Returns the axes (the pair, or the one).

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 08_training_and_samples."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(13, 3.4))
    pair = np.ndim(axes) > 0
    grey, colour = "0.55", "C0"
    for log, label, c, z, dots in ((committed, committed_label, grey, 2, False),
                                   (live, live_label, colour, 3, True)):
        style = dict(color=c, zorder=z, marker="o" if dots else None, ms=4)
        if pair:
            axes[0].plot(log["step"], log["train_loss"], label=label, **style)
            axes[1].plot(log["step"], log["valid_nll"], label=label, **style)
        else:
            axes.plot(log["step"], log["valid_nll"], label=f"{label}: validation", **style)
            axes.plot(log["step"], log["train_loss"], ls="--", label=f"{label}: training",
                      **style, mfc="white")  # hollow dots: told apart where the two cross
    for ax in (axes if pair else [axes]):
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel("iteration (optimiser step)" + (", log scale" if logx else ""))
        ax.legend()
    if pair:
        axes[0].set_ylabel("training loss")
        axes[1].set_ylabel("validation loss")
    else:
        axes.set_ylabel("loss")
    return axes


def plot_notes(notes, ax=None, seconds_per_tick: float | None = None, title: str | None = None,
               cmap: str = "viridis", colorbar: bool = True):
    """Notes as bars in time (seconds) and pitch, coloured by velocity — the way the thesis'
    Fig. 9 shows Performance RNN's output. ``seconds_per_tick``: default 10 ms (a note list
    on the performance grid, data/events.py). Returns the axes.

    Notebook: 04c_events_and_notes."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.5))
    sec = 0.01 if seconds_per_tick is None else seconds_per_tick
    start, end = np.asarray(notes.start) * sec, np.asarray(notes.end) * sec
    pitch, vel = np.asarray(notes.pitch), np.asarray(notes.velocity)
    bars = PatchCollection([Rectangle((s, p - 0.4), e - s, 0.8) for s, e, p in zip(start, end, pitch)],
                           cmap=cmap, linewidths=0)
    bars.set_array(vel.astype(float))
    bars.set_clim(1, 127)
    ax.add_collection(bars)
    if len(pitch):
        ax.set(xlim=(0, end.max()), ylim=(pitch.min() - 2, pitch.max() + 2))
    ticks = [p for p in range(12, 128, 12) if len(pitch) and pitch.min() - 2 <= p <= pitch.max() + 2]
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks])
    ax.set(xlabel="seconds", title=title)
    if colorbar:
        ax.figure.colorbar(bars, ax=ax, label="velocity", pad=0.01)
    return ax
