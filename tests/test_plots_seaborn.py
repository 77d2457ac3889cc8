"""The book's plotting theme and the seaborn plots of notebooks 01 and 10
(musicgen_lib.render.plots, musicgen_lib.analysis.tables)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from musicgen_lib.analysis.metrics import (aggregate, histogram, pitch_class_counts,  # noqa: E402
                                           polyphony)
from musicgen_lib.analysis.tables import metric_table, step_shares  # noqa: E402
from musicgen_lib.render.plots import plot_metric_distributions, set_book_theme  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_rc():
    with matplotlib.rc_context():
        yield
    plt.close("all")


def test_theme_keeps_frames_and_thin_bars():
    set_book_theme()
    rc = matplotlib.rcParams
    assert rc["figure.dpi"] == 80
    assert all(rc[f"axes.spines.{s}"] for s in ("left", "right", "top", "bottom"))
    assert not rc["axes.grid"] and not rc["patch.force_edgecolor"]
    bars = plt.figure().subplots().bar([0, 1], [1.0, 1e-3])
    assert bars[1].get_edgecolor()[3] == 0                  # no white outline over a thin bar


def _rolls(seed, n, length):
    rng = np.random.default_rng(seed)
    return [(rng.random((length + 7 * i, 88)) < 0.03).astype(np.uint8) for i in range(n)]


def test_step_shares_weighted_mean_is_the_pooled_share():
    sets = {"a": _rolls(0, 4, 50), "b": _rolls(1, 3, 20) + [np.zeros((0, 88), np.uint8)]}
    for stat in (polyphony, pitch_class_counts):
        t = step_shares(sets, stat)
        top = int(t["value"].max())
        assert set(t.columns) == {"set", "piece", "value", "share", "steps"}
        assert len(t) == (4 + 3) * (top + 1)                       # the empty piece left out
        assert np.allclose(t.groupby(["set", "piece"])["share"].sum(), 1)
        for name, rolls in sets.items():
            pooled = histogram(stat(np.concatenate(rolls)), top)
            pooled = pooled / pooled.sum()
            s = t[t["set"] == name]
            w = s.groupby("value").apply(lambda g: np.average(g["share"], weights=g["steps"]),
                                         include_groups=False)
            assert np.allclose(w.to_numpy(), pooled)
    with pytest.raises(ValueError):
        step_shares(sets, polyphony, max_value=0)


def _per(seed, n, shift=0.0):
    rng = np.random.default_rng(seed)
    return [{"x": float(v), "flat": 1.0, "gappy": float("nan") if i == 0 else float(i)}
            for i, v in enumerate(rng.normal(shift, 2.0, n))]


def test_metric_table_z_mean_is_the_gap():
    per = {"real A": _per(0, 30), "gen A": _per(1, 20, shift=3.0), "real B": _per(2, 10)}
    real_of = {"gen A": "real A"}
    t = metric_table(per, real_of, ["x", "flat", "gappy"])
    assert list(dict.fromkeys(t["set"])) == list(per)
    assert dict(zip(t["set"], t["real"])) == {"real A": "real A", "gen A": "real A", "real B": "real B"}
    assert t["value"].notna().all() and len(t[t["metric"] == "gappy"]) == 29 + 19 + 9
    assert t.loc[t["metric"] == "flat", "z"].isna().all()            # no spread: no z
    real = np.array([p["x"] for p in per["real A"]])
    gen = np.array([p["x"] for p in per["gen A"]])
    z = t[(t["set"] == "gen A") & (t["metric"] == "x")]["z"]
    assert z.mean() == pytest.approx(abs(gen.mean() - real.mean()) / real.std())
    zr = t[(t["set"] == "real A") & (t["metric"] == "x")]["z"]
    assert zr.mean() == pytest.approx(0, abs=1e-12) and zr.std(ddof=0) == pytest.approx(1)
    with pytest.raises(KeyError):
        metric_table(per, {"gen A": "missing"}, ["x"])


def test_plot_metric_distributions_marks_the_table_intervals():
    set_book_theme()
    per = {"real A": _per(0, 30), "gen A": _per(1, 20, shift=3.0), "real B": _per(2, 10),
           "gen B": [{"x": 5.0, "flat": 1.0, "gappy": 2.0}] * 4}      # a constant generator
    real_of = {"gen A": "real A", "gen B": "real B"}
    t = metric_table(per, real_of, ["x", "flat", "gappy"])
    axes = plot_metric_distributions(t, ncols=2)
    assert [ax.get_title() for ax in axes] == ["x", "gappy"]         # "flat" has no spread
    fig = axes[0].figure
    assert sum(ax.axison for ax in fig.axes) == 2                     # the third panel is off
    # the marker of gen A on "x" is the table's mean, moved into z units
    real = np.array([p["x"] for p in per["real A"]])
    a = aggregate(per["gen A"])["x"]
    lines = [ln for ln in axes[0].lines if ln.get_marker() == "o"]
    xs, ys = zip(*[(ln.get_xdata()[0], ln.get_ydata()[0]) for ln in lines])
    assert ys == (0, 1, 2, 3)
    assert xs[1] == pytest.approx((a["mean"] - real.mean()) / real.std())
    # its interval too (the same seeded bootstrap)
    seg = [c for c in axes[0].collections if type(c).__name__ == "LineCollection"][1].get_segments()[0]
    lo, hi = sorted(seg[:, 0])
    assert lo == pytest.approx((a["ci_low"] - real.mean()) / real.std())
    assert hi == pytest.approx((a["ci_high"] - real.mean()) / real.std())
    with pytest.raises(ValueError):
        plot_metric_distributions(t, axes=[axes[0]])
