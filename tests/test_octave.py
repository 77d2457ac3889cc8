"""Octave compression, octave mask, time counter, transposition."""
import numpy as np
import torch

from musicgen_lib.data import (KEY_CLASS, compress, from_author_order, octave_mask, time_bits,
                               to_author_order, transpose12, transpose88)


def test_key_classes_follow_pitch_mod_12():
    assert KEY_CLASS[0] == 9  # A0 is an A
    assert KEY_CLASS[60 - 21] == 0  # middle C is class 0
    assert KEY_CLASS[87] == 0  # C8: the top keys are folded too (the author dropped 84..87)


def test_compress_is_or_over_octaves():
    roll = np.zeros((3, 88), np.uint8)
    roll[0, [60 - 21, 72 - 21]] = 1  # two Cs -> one class
    roll[1, 87] = 1  # C8
    roll[2, [64 - 21, 67 - 21]] = 1  # E, G
    x = compress(roll)
    assert x.shape == (3, 12)
    assert np.flatnonzero(x[0]).tolist() == [0]
    assert np.flatnonzero(x[1]).tolist() == [0]
    assert np.flatnonzero(x[2]).tolist() == [4, 7]
    np.testing.assert_array_equal(compress(torch.tensor(roll, dtype=torch.float32)).numpy(), x)


def test_mask_allows_exactly_the_keys_of_the_classes():
    x = np.zeros(12, np.uint8)
    x[[0, 4, 7]] = 1
    m = octave_mask(x)
    assert m.shape == (88,) and m.sum() == 8 + 7 + 7  # 8 Cs, 7 Es and 7 Gs on the piano
    assert (compress(m[None])[0] == x).all()
    roll = np.random.default_rng(0).random((50, 88)) < 0.1
    assert ((roll.astype(np.uint8) & ~octave_mask(compress(roll)).astype(bool)) == 0).all()


def test_author_order_round_trip():
    x = np.eye(12, dtype=np.uint8)[0]  # C
    a = to_author_order(x)
    assert np.flatnonzero(a).tolist() == [3]  # author's classes start at A: A, Bb, B, C
    np.testing.assert_array_equal(from_author_order(a), x)


def test_time_bits_count_modulo_64():
    b = time_bits(130, start=2)
    values = (b * (2 ** np.arange(6))).sum(axis=1)
    assert values.tolist() == [(2 + t) % 64 for t in range(130)]


def test_transpositions():
    x = np.eye(12, dtype=np.uint8)[[0, 11]]
    assert np.flatnonzero(transpose12(x, 2)[0]).tolist() == [2]
    assert np.flatnonzero(transpose12(x, 2)[1]).tolist() == [1]  # wraps around
    roll = np.zeros((1, 88), np.uint8)
    roll[0, [0, 40, 87]] = 1
    assert np.flatnonzero(transpose88(roll, 3)[0]).tolist() == [3, 43]  # top key falls off
    assert np.flatnonzero(transpose88(roll, -1)[0]).tolist() == [39, 86]
    np.testing.assert_array_equal(transpose88(roll, 0), roll)
    t = transpose88(torch.tensor(roll), 3)
    assert torch.nonzero(t[0]).flatten().tolist() == [3, 43]
    # Transposing then folding equals folding then rolling, away from the edges.
    mid = np.zeros((1, 88), np.uint8)
    mid[0, [30, 45, 52]] = 1
    np.testing.assert_array_equal(compress(transpose88(mid, 5)), transpose12(compress(mid), 5))
