"""analysis/copying: repeats in the data, copy lengths of continuations, survival curves."""
import numpy as np
import pytest

from musicgen_lib.analysis.copying import (copy_lengths, copy_survival, empirical_survival,
                                           repeat_positions, repetition_by_lag)


def _frames(seq):
    """(T, 12) frames from a list of pitch-class sets."""
    x = np.zeros((len(seq), 12), np.uint8)
    for t, pcs in enumerate(seq):
        x[t, list(pcs)] = 1
    return x


def test_copy_lengths_counts_until_the_first_difference():
    motif = [{0}, {4}, {7}, set()]
    x = _frames(motif + motif + [{0}, {4}, {2}, {7}])            # copies 2 steps of the motif again
    assert copy_lengths(x, lag=4, start=4).tolist() == [6]       # the motif, then 2 more steps
    assert copy_lengths(x, lag=4, start=8).tolist() == [2]
    assert copy_lengths(x[:8], lag=4, start=8).tolist() == [0]   # nothing after start
    other = _frames([{1}] * 12)
    assert copy_lengths(np.stack([x, other]), lag=4, start=8).tolist() == [2, 4]


def test_copy_lengths_checks_its_start():
    with pytest.raises(ValueError, match="start 2"):
        copy_lengths(np.zeros((8, 12)), lag=4, start=2)


def test_repeat_positions_finds_exact_repeats_once_and_ignores_silence():
    rng = np.random.default_rng(0)
    bar = (rng.random((16, 12)) < 0.3).astype(np.uint8)
    bar[:, 0] = 1                                               # every frame sounds
    noise = (rng.random((40, 12)) < 0.3).astype(np.uint8)
    noise[:, 1] = 1 - np.arange(40) % 2                          # no exact repeat at lag 16 by chance
    x = np.concatenate([noise, bar, bar, bar, noise])             # bar repeats at lag 16 from 56 on
    assert repeat_positions(x, lag=16, length=32).tolist() == [56]
    assert repeat_positions(x, lag=16, length=16).tolist() == [56, 72]
    assert repeat_positions(x, lag=16, length=16, first=60).tolist() == [60]
    silent = np.zeros((80, 12), np.uint8)
    assert repeat_positions(silent, lag=16, length=16).tolist() == []
    assert repeat_positions(silent, lag=16, length=16, min_struck=0).tolist() == [16, 32, 48, 64]


def test_survival_from_log_probabilities_and_from_counts():
    log_p = np.log([[0.5, 0.5, 1.0], [1.0, 0.1, 0.1]])
    np.testing.assert_allclose(copy_survival(log_p), [[1, 0.5, 0.25, 0.25], [1, 1, 0.1, 0.01]])
    assert copy_survival(np.log(np.full(32, 0.99)))[-1] == pytest.approx(0.99 ** 32)
    np.testing.assert_allclose(empirical_survival([0, 2, 3, 3], 3), [1, 0.75, 0.75, 0.5])


def test_free_copies_follow_the_teacher_forced_survival():
    # a "model" that continues a repeat with probability p per step, independently: the
    # copy lengths of its samples have survival p**i, which copy_survival gives from log p
    rng = np.random.default_rng(1)
    p, lag, T = 0.8, 4, 12
    motif = _frames([{0}, {4}, {7}, {11}])
    samples = np.tile(motif, (2000, T // lag + 1, 1))[:, :lag + T].copy()
    for b in range(len(samples)):
        for t in range(lag, lag + T):
            if rng.random() > p:
                samples[b, t] = 1 - samples[b, t - lag]          # breaks the copy here
                break
    emp = empirical_survival(copy_lengths(samples, lag, lag), T)
    np.testing.assert_allclose(emp, copy_survival(np.log(np.full(T, p))), atol=0.03)


def test_repetition_by_lag_counts_sounding_frames_equal_to_their_past():
    x = _frames([{0}, {4}, {0}, {4}, set(), set(), {0}, {7}])
    # lag 2: steps 2, 3 repeat; 6 ({0}) != 4 (silent), 7 != 5; silent steps 4, 5 do not count
    np.testing.assert_allclose(repetition_by_lag([x], [2, 4]), [2 / 4, 1 / 2])
    np.testing.assert_allclose(repetition_by_lag([x, x], [2]), [0.5])
    assert repetition_by_lag([np.zeros((8, 12))], [2]).tolist() == [0.0]
