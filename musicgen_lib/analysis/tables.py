"""Long-form tables (one row per observation, pandas) of per-piece statistics, the shape
seaborn draws distributions from (notebooks 01_representations, 10_discussion).

Pure data wrangling: the numbers are those of :mod:`musicgen_lib.analysis.metrics`, only
rearranged so that a plot can split them by set, piece and metric.
"""
from __future__ import annotations

import numpy as np

from .metrics import histogram


def step_shares(rolls_by_set: dict, statistic, max_value: int | None = None):
    """The per-piece distribution of a per-step count, as a long table.

    ``rolls_by_set``: ``{set name: [roll, ...]}``; ``statistic``: a function of a roll that
    gives one non-negative integer per step, such as :func:`~.metrics.polyphony` or
    :func:`~.metrics.pitch_class_counts`. Returns a ``pandas.DataFrame`` with one row per
    (set, piece, value) for every value 0..``max_value`` (default: the largest seen in any
    set) and the columns ``set``, ``piece`` (its index in the set), ``value``, ``share``
    (of the piece's steps) and ``steps`` (the piece's length). Empty pieces are left out.

    The mean of ``share`` over a set's pieces weighted by ``steps`` is the share of the
    set's pooled steps (``metrics.histogram`` of the concatenated rolls, normalised), so a
    weighted mean with an interval over pieces shows the pooled distribution and how much
    the pieces vary.

    Notebook: 01_representations.
    """
    import pandas as pd

    counts = {name: [np.asarray(statistic(r)) for r in rolls if len(r)]
              for name, rolls in rolls_by_set.items()}
    if max_value is None:
        max_value = max((int(c.max(initial=0)) for cs in counts.values() for c in cs), default=0)
    rows = []
    for name, cs in counts.items():
        for i, c in enumerate(cs):
            if len(c) and int(c.max()) > max_value:
                raise ValueError(f"{name}, piece {i}: value {int(c.max())} > max_value {max_value}")
            h = histogram(c, max_value)
            for v, n in enumerate(h.tolist()):
                rows.append((name, i, v, n / len(c), len(c)))
    return pd.DataFrame(rows, columns=["set", "piece", "value", "share", "steps"])


def metric_table(per: dict, real_of: dict, metrics):
    """Per-excerpt metrics of several sets as a long table, each value also in units of the
    spread of the set's own real music.

    ``per``: ``{set name: [metrics.piece_metrics dict, ...]}`` (the sets, in the order to
    draw them); ``real_of``: ``{generated set: its real set}`` — a set missing from it is
    its own real music; ``metrics``: the metric names. Returns a ``pandas.DataFrame`` with
    one row per (set, excerpt, metric) whose value is finite, and the columns ``set``,
    ``real`` (the name of its real set), ``is_real``, ``excerpt``, ``metric``, ``value`` and
    ``z = (value - mean real) / sd real``, the mean and the (population) standard deviation
    over the real set's finite values; ``z`` is NaN where the real values do not vary. The
    mean of a generated set's ``z`` is then ± its gap to its real music in σ (notebook 10's
    table).

    Notebook: 10_discussion.
    """
    import pandas as pd

    metrics = list(metrics)
    stats = {}
    for name in per:
        real = real_of.get(name, name)
        if real not in per:
            raise KeyError(f"the real set {real!r} of {name!r} is not in per")
        for m in metrics:
            if (real, m) not in stats:
                v = np.array([p[m] for p in per[real]], dtype=float)
                v = v[np.isfinite(v)]
                stats[real, m] = (v.mean() if len(v) else np.nan, v.std() if len(v) else 0.0)
    rows = []
    for name, pieces in per.items():
        real = real_of.get(name, name)
        for i, p in enumerate(pieces):
            for m in metrics:
                v = float(p[m])
                if not np.isfinite(v):
                    continue
                mean, sd = stats[real, m]
                rows.append((name, real, name == real, i, m, v, (v - mean) / sd if sd > 0 else np.nan))
    return pd.DataFrame(rows, columns=["set", "real", "is_real", "excerpt", "metric", "value", "z"])
