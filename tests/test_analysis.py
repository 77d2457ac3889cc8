"""Keys, scales, wrong notes, chords, metrics and the two-sample test
(musicgen_lib.analysis.keys and .harmony, imported through .harmony, which re-exports the
key names; .metrics, .two_sample)."""
import json
import math

import numpy as np
import pytest

from musicgen_lib.analysis.harmony import (ChordConfig, KeyConfig, analyze_harmony, best_path,
                                           chord_label, global_key, key_changes, key_from_name,
                                           key_name, key_scores, onsets_of, scale_pcs, transitions,
                                           window_keys, window_pc_weights)
from musicgen_lib.analysis.metrics import (aggregate, confidence_interval, empty_bar_rate,
                                           notes_per_onset_step, onset_density, piece_metrics,
                                           pitch_class_entropy, pitch_range, repetition,
                                           split_periodic)
from musicgen_lib.analysis.two_sample import (TwoSampleConfig, fragment_features,
                                              two_sample_test, wilson_interval)

C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72)


def melody(pitches, step_len=2, n_steps=None):
    """A roll playing ``pitches`` one after another, ``step_len`` steps each."""
    T = n_steps or len(pitches) * step_len
    roll = np.zeros((T, 88), np.uint8)
    for i, p in enumerate(pitches):
        roll[i * step_len:(i + 1) * step_len, p - 21] = 1
    return roll


def chords(*chords_, length=8):
    roll = np.zeros((len(chords_) * length, 88), np.uint8)
    for i, ch in enumerate(chords_):
        roll[i * length:(i + 1) * length, [p - 21 for p in ch]] = 1
    return roll


# ---------------------------------------------------------------- keys

def test_c_major_scale_is_c_major_with_no_wrong_notes():
    roll = melody(C_MAJOR * 2)  # 32 steps: two bars
    h = analyze_harmony(roll)
    assert [key_name(k) for k in h.keys] == ["C major", "C major"]
    assert h.out_of_key_rate == 0.0
    assert h.n_onsets == 16
    assert not h.wrong.any()


def test_transposed_scale_and_minor_keys():
    for shift in range(12):
        assert global_key(melody([p + shift for p in C_MAJOR])) == shift
    a_minor = melody([57, 60, 64, 57, 60, 64, 59, 62, 64, 68, 57, 60, 64, 69])
    assert key_name(global_key(a_minor)) == "A minor"


def test_chromatic_cluster_is_flagged():
    roll = melody(C_MAJOR)
    roll[4, [61 - 21, 63 - 21, 66 - 21]] = 1  # C#, Eb, F# struck once inside a C major bar
    h = analyze_harmony(roll)
    assert key_name(h.keys[0]) == "C major"
    flagged = {p + 21 for p in np.flatnonzero(h.wrong_onsets.any(axis=0))}
    assert flagged == {61, 63, 66}
    assert h.out_of_key_rate == pytest.approx(3 / 11)
    # a full chromatic cluster: whatever key wins, 5 of 12 classes are outside it
    cluster = np.zeros((16, 88), np.uint8)
    cluster[:, 60 - 21:72 - 21] = 1
    assert analyze_harmony(cluster).out_of_key_rate == pytest.approx(5 / 12)


def test_key_scores_match_music21_krumhansl():
    from music21 import chord, stream
    from music21.analysis.discrete import KrumhanslSchmuckler

    rng = np.random.default_rng(0)
    for _ in range(5):
        roll = (rng.random((16, 88)) < 0.05).astype(np.uint8)
        roll[:, 39:51] |= (rng.random((16, 12)) < 0.3)  # some weight in the middle octave
        s = stream.Stream()
        for t in range(16):
            keys = np.flatnonzero(roll[t]) + 21
            if len(keys):
                s.insert(t / 4, chord.Chord([int(k) for k in keys], quarterLength=0.25))
        theirs = KrumhanslSchmuckler().getSolution(s)
        ours = window_keys(roll)[0]
        assert key_from_name(f"{theirs.tonic.name} {theirs.mode}") == ours
        assert key_scores(window_pc_weights(roll))[0, ours] == pytest.approx(
            theirs.correlationCoefficient)


def test_windows_hops_and_empty_windows():
    roll = np.concatenate([melody(C_MAJOR), np.zeros((16, 88), np.uint8),
                           melody([p + 7 for p in C_MAJOR])])             # C, rest, G
    keys = window_keys(roll)
    assert list(keys) == [0, -1, 7]
    assert key_changes(keys) == [(2, 0, 7)]
    assert len(window_keys(roll, KeyConfig(window=32, hop=8))) == 6
    assert window_pc_weights(roll, 16, 16).sum() == roll.sum()


def test_smoothing_removes_one_window_excursions():
    scores = np.zeros((5, 24))
    scores[:, 0] = 0.8
    scores[2, 7] = 0.9   # one window slightly prefers G
    assert list(best_path(scores, 0.0)) == [0, 0, 7, 0, 0]
    assert list(best_path(scores, 0.5)) == [0, 0, 0, 0, 0]


def test_scales():
    assert scale_pcs(0) == (0, 2, 4, 5, 7, 9, 11)
    assert scale_pcs(21) == (0, 2, 4, 5, 7, 9, 11)                        # A natural minor
    assert 8 in scale_pcs(21, "harmonic") and 7 not in scale_pcs(21, "harmonic")
    assert key_from_name("a") == 21 and key_from_name("B- major") == 10
    assert key_from_name(key_name(13)) == 13


# ---------------------------------------------------------------- chords

def test_roman_numerals_relative_to_the_key():
    assert chord_label((60, 64, 67), 0) == "I"
    assert chord_label((55, 59, 62, 65), 0) == "V7"
    assert chord_label((64, 67, 72), 0) == "I6"
    assert chord_label((56, 60, 63), 0) == "bVI"          # A-flat major in C, not G#
    assert chord_label((57, 60, 64), 21) == "i"
    assert chord_label((62, 65, 69), 7) == "v"            # D minor in G major
    assert chord_label((55, 59, 62), 7 + 12 * 0) == "I"
    assert chord_label((60,), 0) == "C" and chord_label((), 0) == ""


def test_chord_labels_and_transitions():
    roll = chords((48, 60, 64, 67), (53, 60, 65, 69), (55, 59, 62, 67), (48, 60, 64, 67))
    h = analyze_harmony(roll, config=KeyConfig(window=32, hop=32),
                        chord_config=ChordConfig(window=8))
    assert h.chords == ["I", "IV", "V", "I"]
    # with one-bar windows the second bar (G, C) is heard in G major: I and IV there
    assert analyze_harmony(roll).chords == ["I", "IV", "I", "IV"]
    t = transitions(h.chords)
    assert sum(t.values()) == 3 and t[(h.chords[2], "I")] == 1
    assert transitions([0, 0, -1, 7, 7, 0]) == {(0, 7): 1, (7, 0): 1}


# ---------------------------------------------------------------- metrics

def test_entropy():
    uniform = np.zeros((12, 88), np.uint8)
    uniform[np.arange(12), 39 + np.arange(12)] = 1          # each class once, 12 steps
    assert pitch_class_entropy(uniform, 12, 12)[0] == pytest.approx(math.log2(12))
    assert pitch_class_entropy(melody([60] * 8), 16, 16)[0] == 0.0
    assert np.isnan(pitch_class_entropy(np.zeros((16, 88)), 16, 16)[0])


def test_texture_metrics():
    roll = chords((60, 64, 67), (62, 65), length=4)          # 8 steps
    on = onsets_of(roll)
    assert notes_per_onset_step(on) == pytest.approx(2.5)
    assert onset_density(on) == pytest.approx(2 / 8)
    assert pitch_range(roll, bar=8) == 7
    assert empty_bar_rate(np.concatenate([roll, np.zeros((8, 88))]), bar=8) == 0.5
    loop = np.tile(melody(C_MAJOR), (4, 1))                  # 16-step loop
    assert repetition(loop, 16) == 1.0
    assert repetition(loop, 2) == 0.0


def test_piece_metrics_and_aggregate():
    m = piece_metrics(np.tile(melody(C_MAJOR), (4, 1)))
    assert m["out_of_key_rate"] == 0 and m["key_changes_per_minute"] == 0
    assert m["steps"] == 64 and m["repetition_16"] == 1.0
    json.dumps(m)
    agg = aggregate([m, {**m, "pitch_range": m["pitch_range"] + 2}])
    assert agg["pitch_range"]["mean"] == pytest.approx(m["pitch_range"] + 1)
    assert agg["pitch_range"]["ci_low"] <= agg["pitch_range"]["mean"] <= agg["pitch_range"]["ci_high"]
    mean, lo, hi, n = confidence_interval(np.arange(100.0))
    assert n == 100 and lo < 49.5 < hi and hi - lo < 15


def test_split_periodic():
    roll = np.arange(264 * 3)[:, None] * np.ones((1, 88))
    parts = split_periodic(roll, 264, 240, 16)
    assert len(parts) == 3 and all(len(p) == 224 for p in parts)
    assert parts[1][0, 0] == 264 + 16


# ---------------------------------------------------------------- two-sample test

def test_wilson():
    lo, hi = wilson_interval(50, 100)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.19, abs=0.01)


def test_two_sample_identical_and_different():
    rng = np.random.default_rng(0)
    a = [(rng.random((256, 88)) < 0.03) for _ in range(60)]
    b = [(rng.random((256, 88)) < 0.03) for _ in range(60)]
    c = [(rng.random((256, 88)) < 0.06) for _ in range(60)]
    same = two_sample_test(a, b, TwoSampleConfig(seed=0))
    assert 0.4 < same.accuracy < 0.6 and same.ci_low <= 0.5 <= same.ci_high
    diff = two_sample_test(a, c)
    assert diff.accuracy > 0.9
    assert two_sample_test(a, c).accuracy == diff.accuracy       # seeded
    assert fragment_features(np.stack(a[:3])[:, :64]).shape[0] == 3


@pytest.fixture
def hour(reference):
    return reference / "final-model-1h.mid"


def test_author_hour_reference_figures(hour):
    """The issue's reference figures, measured on the whole file with one-bar windows."""
    from musicgen_lib.data import notes_to_roll, read_midi

    notes = read_midi(hour)
    roll = notes_to_roll(notes)
    onsets = notes_to_roll(notes, semantics="onset", n_steps=len(roll))
    m = piece_metrics(roll, onsets)
    assert m["out_of_key_rate"] == pytest.approx(0.067, abs=0.001)
    assert m["pitch_class_entropy"] == pytest.approx(2.11, abs=0.01)
    assert m["notes_per_onset_step"] == pytest.approx(2.59, abs=0.01)


def test_chord_statistics():
    from musicgen_lib.analysis.metrics import dissonance_rate, interval_classes, tertian_rate

    roll = np.zeros((3, 88), dtype=np.uint8)
    roll[0, [39, 43, 46]] = 1        # C4 E4 G4: a C major triad (key 39 = MIDI 60)
    roll[1, [39, 40]] = 1            # C4 C#4: a minor second
    roll[2, [39, 51]] = 1            # C4 C5: an octave
    h = interval_classes(roll)
    assert h.tolist() == [1, 1, 0, 1, 1, 1, 0]  # octave, m2, M3 (C-E), m3 (E-G), P4/5 (C-G)
    assert dissonance_rate(roll) == 1 / 5
    assert tertian_rate(roll) == 1.0                       # the only step with 3 classes
    assert tertian_rate(roll, min_classes=2) == 1 / 2      # the dyad C-C# is no triad
    assert np.isnan(dissonance_rate(np.zeros((4, 88))))


def test_melody_alone_rate():
    from musicgen_lib.analysis.metrics import melody_alone_rate

    roll = np.zeros((4, 88), dtype=np.uint8)
    onsets = np.zeros((4, 88), dtype=np.uint8)
    roll[:, 30] = 1                     # a held bass note ...
    onsets[0, 30] = 1
    roll[0:2, 50], onsets[0, 50] = 1, 1  # ... struck together with a melody note (step 0: 2 onsets)
    roll[2, 52], onsets[2, 52] = 1, 1    # the melody moves alone over the held bass
    roll[3, 52], roll[3, 40] = 1, 1
    onsets[3, 40] = 1                    # an inner voice moves: not the top
    assert melody_alone_rate(roll, onsets) == 1 / 3
    assert np.isnan(melody_alone_rate(np.zeros((3, 88)), np.zeros((3, 88))))


def test_transition_matrix_keeps_the_most_frequent_items_and_normalises():
    from collections import Counter

    from musicgen_lib.analysis.harmony import transition_matrix
    counts = Counter({("I", "V"): 3, ("V", "I"): 2, ("I", "IV"): 1, ("ii", "V"): 1})
    labels, m = transition_matrix(counts, top=3)
    assert labels == ["I", "V", "IV"]                     # 6, 6 (ties by name), 1 — "ii" left out
    np.testing.assert_allclose(m, [[0, 0.75, 0.25], [1, 0, 0], [0, 0, 0]])
    labels, m = transition_matrix(counts, top=4, normalize="all")
    assert m.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="normalize"):
        transition_matrix(counts, normalize="col")


def test_chord_statistics_pools_the_rolls():
    from musicgen_lib.analysis.metrics import chord_statistics
    c_major = np.zeros((2, 88), np.uint8)
    c_major[:, [60 - 21, 64 - 21, 67 - 21]] = 1               # C E G: a triad, no dissonance
    cluster = np.zeros((2, 88), np.uint8)
    cluster[:, [60 - 21, 61 - 21, 62 - 21]] = 1               # C C# D: three dissonant pairs
    s = chord_statistics([c_major, cluster])
    assert s["notes at once"] == 3.0
    assert s["triads / sevenths"] == 0.5
    assert s["dissonant pairs"] == pytest.approx(0.5)          # 6 of the 12 pairs
