"""The analysis helpers notebooks 06 and 10 import (metrics.sigma_gap, metrics.excerpts,
voices.plays_per_voice) and the split of the harmony module into .keys and .harmony."""
import ast
import math
from pathlib import Path

import numpy as np
import pytest

from musicgen_lib.analysis import harmony, keys
from musicgen_lib.analysis.metrics import HEADLINE_METRICS, excerpts, sigma_gap, split_periodic
from musicgen_lib.analysis.voices import plays_per_voice

ANALYSIS = Path(harmony.__file__).parent


# ---------------------------------------------------------------- sigma_gap

def pieces(**values):
    """``pieces(a=[1, 3], b=[2, 2])`` -> ``[{"a": 1, "b": 2}, {"a": 3, "b": 2}]``."""
    n = len(next(iter(values.values())))
    return [{m: v[i] for m, v in values.items()} for i in range(n)]


REAL = pieces(a=[1.0, 3.0, math.nan], b=[2.0, 2.0, 2.0], c=[0.0, 4.0, 2.0])


def test_sigma_gap_of_one_metric_in_real_standard_deviations():
    # real a: mean 2, population sd 1; gen a: mean 5 (the nan is dropped) -> 3 sd
    gen = pieces(a=[4.0, 6.0, math.nan], b=[2.0, 2.0, 2.0], c=[3.0, 3.0, 3.0])
    assert sigma_gap(gen, REAL, "a") == pytest.approx(3.0)
    # real c: mean 2, sd sqrt(8/3); gen c: mean 3
    assert sigma_gap(gen, REAL, "c") == pytest.approx(1 / math.sqrt(8 / 3))
    assert sigma_gap(REAL, REAL, "a") == 0.0


def test_sigma_gap_where_the_real_values_do_not_vary():
    same = pieces(a=[2.0], b=[2.0], c=[2.0])
    other = pieces(a=[2.0], b=[2.5], c=[2.0])
    assert sigma_gap(same, REAL, "b") == 0.0          # equal means: no gap
    assert sigma_gap(other, REAL, "b") == math.inf    # different, and no spread to measure it in


def test_mean_sigma_gap_leaves_out_the_metrics_on_which_real_music_does_not_vary():
    gen = pieces(a=[5.0], b=[100.0], c=[2.0 + math.sqrt(8 / 3)])
    # a: 3 sd, c: 1 sd, b left out (its gap would be inf)
    assert sigma_gap(gen, REAL, metrics=("a", "b", "c")) == pytest.approx(2.0)
    assert sigma_gap(gen, REAL, metrics=("b",)) != sigma_gap(gen, REAL, metrics=("b",))  # nan


def test_mean_sigma_gap_defaults_to_the_headline_metrics():
    real = [{m: 0.0 for m in HEADLINE_METRICS}, {m: 2.0 for m in HEADLINE_METRICS}]
    for p in real:
        p["empty_bar_rate"] = 0.0                 # no spread: left out
    gen = [{m: 3.0 for m in HEADLINE_METRICS}]    # 2 sd from the real mean 1 on every metric
    assert sigma_gap(gen, real) == pytest.approx(2.0)
    assert sigma_gap(gen, real, "empty_bar_rate") == math.inf


def test_sigma_gap_without_finite_values_is_nan():
    gen = pieces(a=[math.nan, math.nan])
    assert math.isnan(sigma_gap(gen, REAL, "a"))
    assert math.isnan(sigma_gap(REAL, gen, "a"))


# ---------------------------------------------------------------- excerpts

def test_excerpts_back_to_back():
    roll = np.arange(10)[:, None]
    onsets = 10 * roll
    ex = excerpts(roll, onsets, 4)
    assert len(ex) == 2                           # steps 8 and 9 do not make a whole excerpt
    assert [r[:, 0].tolist() for r, _ in ex] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [o[:, 0].tolist() for _, o in ex] == [[0, 10, 20, 30], [40, 50, 60, 70]]
    assert [r.tolist() for r, _ in ex] == [r.tolist() for r in split_periodic(roll, 4)]


def test_excerpts_overlapping_and_too_short():
    roll = np.arange(10)[:, None]
    ex = excerpts(roll, roll, 4, hop=3)
    assert [r[0, 0] for r, _ in ex] == [0, 3, 6]  # 6 + 4 = 10 still fits
    assert excerpts(roll, roll, 11) == []
    with pytest.raises(ValueError):
        excerpts(roll, roll, 0)


def test_excerpts_cut_the_onsets_at_the_steps_of_the_roll():
    roll, onsets = np.ones((8, 88)), np.ones((6, 88))
    ex = excerpts(roll, onsets, 4)
    assert [len(o) for _, o in ex] == [4, 2]


# ---------------------------------------------------------------- plays_per_voice

def test_plays_per_voice_counts_sounding_plays_and_bans():
    # one piece, 4 steps, 2 voices; decisions 0..11 play class c, 12..23 ban class c - 12
    decisions = np.array([[[0, 12], [13, 12], [2, 0], [5, 23]]])
    x = np.zeros((1, 4, 12), np.uint8)
    x[0, 0, 0] = 1                                # C sounds
    x[0, 2, [0, 2]] = 1                           # C and D sound; at step 3 F does not
    plays, bans = plays_per_voice(decisions, x)
    np.testing.assert_allclose(plays, [0.5, 0.25])
    np.testing.assert_allclose(bans, [0.25, 0.75])
    p2, b2 = plays_per_voice(decisions[0], x[0])  # (T, V): the same means
    np.testing.assert_allclose(p2, plays)
    np.testing.assert_allclose(b2, bans)


def test_plays_per_voice_checks_shapes():
    with pytest.raises(ValueError):
        plays_per_voice(np.zeros((2, 3, 5), int), np.zeros((2, 4, 12)))


# ---------------------------------------------------------------- the split of harmony

def test_harmony_reexports_every_public_key_name():
    tree = ast.parse((ANALYSIS / "keys.py").read_text(encoding="utf-8"))
    defined = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    defined += [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    public = [n for n in defined if not n.startswith("_")]
    assert {"KeyConfig", "window_keys", "best_path", "step_keys", "out_of_key", "key_changes",
            "scale_pcs", "NO_KEY"} <= set(public)
    assert harmony.key_profiles is keys.key_profiles  # its home is data.octave, keys imports it
    for name in public:
        assert getattr(harmony, name) is getattr(keys, name), name
        assert name in harmony.__all__, name
    assert all(hasattr(harmony, name) for name in harmony.__all__)


def test_keys_does_not_import_harmony_and_modules_stay_short():
    tree = ast.parse((ANALYSIS / "keys.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "harmony" not in imported and not any(m and m.endswith(".harmony") for m in imported)
    for f in ANALYSIS.glob("*.py"):
        assert len(f.read_text(encoding="utf-8").splitlines()) < 400, f.name


def test_key_scores_of_a_decoder():
    """Precision, recall, F1 and lost classes on a hand-made frame (notebook 07)."""
    from musicgen_lib.analysis.decoding import key_scores

    true = np.zeros((1, 88))
    true[0, [39, 43, 46]] = 1               # C4 E4 G4
    pred = np.zeros((1, 88))
    pred[0, [39, 55]] = 1                   # C4 (right), E5 (right class, wrong octave)
    classes = np.zeros((1, 12))
    classes[0, [0, 4, 7]] = 1               # C, E, G asked for: G got no key
    s = key_scores(pred, true, classes)
    assert s["precision"] == 0.5 and s["recall"] == 1 / 3
    assert s["f1"] == pytest.approx(0.4) and s["lost"] == pytest.approx(1 / 3)


def test_triad_kind():
    from musicgen_lib.analysis.harmony import triad_kind

    assert triad_kind([5, 9, 0]) == "major"        # F A C (the thesis' Fig. 15)
    assert triad_kind([2, 5, 9]) == "minor"        # D F A
    assert triad_kind([2, 5, 7]) is None           # D F G (our Fig. 15 before)
    assert triad_kind([0, 4, 7, 10]) is None and triad_kind([0, 12, 4, 7]) == "major"


def test_silence_after_the_first_voice():
    from musicgen_lib.analysis.voices import silence_after_first

    # 4 steps, 2 voices: decisions (play c / ban c+12) and the classes that sound
    d = np.array([[0, 13], [12, 14], [12, 1], [2, 15]])
    x = np.zeros((4, 12), int)
    x[0, 0] = x[2, 1] = x[3, 2] = 1
    s = silence_after_first(d, x)
    # voice 1 silent at steps 1, 2; nobody plays at step 1 only
    assert s["first_silent"] == 0.5 and s["after_first_silent"] == 0.5
    assert s["no_voice_plays"] == 0.25
    # voice 2 silent at steps 0, 1, 3: nobody plays at step 1 -> 1/3
    assert s["after_other_silent"] == pytest.approx(1 / 3)


def test_rhythm_of_an_onset_roll():
    from musicgen_lib.analysis.rhythm import inter_onset_intervals, ioi_shares, pattern_shares

    o = np.zeros((16, 88), int)
    o[[0, 1, 3, 4, 7, 12], 40] = 1            # beats: x x . x | x . . x | . . . . | x . . .
    assert inter_onset_intervals(o).tolist() == [1, 2, 1, 3, 5]
    s = ioi_shares([o])
    assert s["1"] == 0.4 and s["2"] == 0.2 and s["3"] == 0.2 and s["4"] == 0 and s[">4"] == 0.2
    p = pattern_shares([o])
    assert p["x x . x"] == 1 / 3 and p["x . . x"] == 1 / 3 and p["x x x x"] == 0


def test_what_a_continuation_keeps_of_its_prime():
    from musicgen_lib.analysis.prime import density_kept, key_kept, same_scale

    assert same_scale(0, 21) and same_scale(0, 0) and not same_scale(0, 7)  # C = a minor
    c_major = np.zeros((16, 88), int)
    c_major[::4, [39, 43, 46]] = 1                 # C E G on every beat
    g_major = np.zeros((16, 88), int)
    g_major[::2, [46, 50, 53]] = 1                 # G B D on every eighth
    primes, conts = [c_major, g_major], [c_major, g_major]
    k = key_kept(primes, conts, steps=16)
    assert k == {"matched": 1.0, "shuffled": 0.0, "pairs": 2}
    d = density_kept(primes, conts, steps=16)
    assert d["matched"] == 0 and d["shuffled"] == 0.25
