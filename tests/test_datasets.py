"""Datasets: filters, splits, cache, bad files in folders, fragments."""
import numpy as np
import pytest

from musicgen_lib.data import NoteList, load_dataset, split_of, transpose88, write_midi
from musicgen_lib.data.filters import key_range_filter, time_signature_filter, track_filter
from musicgen_lib.data.fragments import FragmentConfig, Fragments
from musicgen_lib.errors import DataError


def _piece(ts=((0, 4, 4),), tracks=(0,), pitch=60):
    n = len(tracks)
    return NoteList.from_arrays(np.arange(n) * 480, np.arange(n) * 480 + 480, [pitch] * n,
                                track=list(tracks), time_signatures=list(ts))


def test_filters_give_reasons():
    assert time_signature_filter(_piece()) is None
    assert time_signature_filter(_piece(ts=((0, 2, 2), (960, 8, 8)))) is None
    assert "3/4" in time_signature_filter(_piece(ts=((0, 4, 4), (960, 3, 4))))
    assert "6/8" in time_signature_filter(_piece(ts=((0, 6, 8),)))
    assert track_filter(_piece(tracks=(0, 1))) is None
    assert "3 tracks" in track_filter(_piece(tracks=(0, 1, 2)))
    assert key_range_filter(_piece()) is None
    assert "outside the 88 keys" in key_range_filter(_piece(pitch=110))


def test_piano_midi_de_keeps_140_of_337(piano_midi_de, tmp_cache):
    ds = load_dataset("piano-midi-de", piano_midi_de)
    kept = sum(len(p) for p in ds.splits.values())
    assert kept == 140 and len(ds.skipped) == 197
    assert all(s.reason for s in ds.skipped)
    reasons = " ".join(s.reason for s in ds.skipped)
    assert "time signature" in reasons and "tracks with notes" in reasons
    assert sum(len(p) for p in ds.pieces()) == 223279  # the thesis' count: 223 303
    # The cache serves the same data on a second load.
    again = load_dataset("piano-midi-de", piano_midi_de)
    assert [p.name for p in again.pieces()] == [p.name for p in ds.pieces()]
    assert all((a.roll == b.roll).all() for a, b in zip(again.pieces(), ds.pieces()))
    assert len(list(tmp_cache.glob("*.npz"))) == 1


def test_jsb_uses_its_own_split(jsb):
    st = load_dataset("jsb", jsb).stats()["splits"]
    assert [st[s]["pieces"] for s in ("train", "valid", "test")] == [229, 76, 77]
    assert [st[s]["steps"] for s in ("train", "valid", "test")] == [13807, 4602, 4725]
    assert max(st[s]["max_polyphony"] for s in st) == 4
    ds16 = load_dataset("jsb", jsb / "jsb-chorales-16th.json")
    assert ds16.steps_per_beat == 4 and len(ds16.pieces("test")) == 77


def test_chorales_need_no_path():  # default cache: later notebooks reuse it
    ds = load_dataset("chorales")
    assert sum(len(v) for v in ds.splits.values()) + len(ds.skipped) == 350
    assert len(ds.pieces("train")) > 250
    assert ds.stats()["splits"]["train"]["max_pitch_classes"] <= 7


def _write_folder(folder, n_good=3):
    folder.mkdir()
    for i in range(n_good):
        write_midi(NoteList.from_arrays([0, 480], [480, 960], [60 + i, 64]), folder / f"g{i}.mid")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "text.mid").write_text("not midi")
    good = (folder / "g0.mid").read_bytes()
    (folder / "sub").mkdir()
    (folder / "sub" / "cut.MID").write_bytes(good[: len(good) // 2])
    (folder / "readme.txt").write_text("ignored")


def test_folder_with_corrupt_files_loads_the_good_ones(tmp_path, tmp_cache):
    _write_folder(tmp_path / "midis")
    ds = load_dataset("midi", tmp_path / "midis")
    assert sorted(p.name for p in ds.pieces()) == ["g0.mid", "g1.mid", "g2.mid"]
    bad = {s.file: s.reason for s in ds.skipped}
    assert set(bad) == {"empty.mid", "text.mid", "sub/cut.MID"}
    assert bad["empty.mid"] == "empty file" and "not a MIDI file" in bad["text.mid"]
    assert "truncated" in bad["sub/cut.MID"]


def test_cache_notices_a_changed_file(tmp_path, tmp_cache):
    _write_folder(tmp_path / "midis", n_good=1)
    first = load_dataset("midi", tmp_path / "midis")
    write_midi(NoteList.from_arrays([0], [960], [72]), tmp_path / "midis" / "g0.mid")
    second = load_dataset("midi", tmp_path / "midis")
    assert not np.array_equal(first.pieces()[0].roll, second.pieces()[0].roll)


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="midi", path="/no/such/folder"), "no such file or directory"),
    (dict(name="midi"), "needs --path"),
    (dict(name="nope"), "unknown dataset"),
    (dict(name="jsb", path="/no/such/folder"), "no such file"),
])
def test_bad_paths_are_clear_errors(kwargs, message):
    with pytest.raises(DataError, match=message):
        load_dataset(**kwargs)


def test_folder_without_midi(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no MIDI files"):
        load_dataset("midi", tmp_path)


def test_split_is_a_stable_function_of_name_and_seed():
    names = [f"piece{i}" for i in range(2000)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]
    frac = {s: splits.count(s) / len(names) for s in ("train", "valid", "test")}
    assert 0.77 < frac["train"] < 0.83 and 0.08 < frac["valid"] < 0.12
    assert splits != [split_of(n, seed=1) for n in names]


def test_fragments_carry_their_full_history():
    rolls = [np.random.default_rng(i).integers(0, 2, (n, 88)).astype(np.uint8)
             for i, n in enumerate([600, 200, 300])]
    cfg = FragmentConfig(length=256, stride=32, history=128)
    f = Fragments(rolls, cfg)
    starts = {0: list(range(0, 600 - 256 + 1, 32)), 2: list(range(0, 300 - 256 + 1, 32))}
    assert len(f) == len(starts[0]) + len(starts[2])  # the 200-step piece is too short
    b = f.get(np.arange(len(f)))
    assert b.history.shape == (len(f), 128, 88) and b.roll.shape == (len(f), 256, 88)
    for i in range(len(f)):
        p, s = int(b.piece[i]), int(b.start[i])
        np.testing.assert_array_equal(b.roll[i].numpy(), rolls[p][s:s + 256])
        hist = rolls[p][max(0, s - 128):s]
        np.testing.assert_array_equal(b.history[i, 128 - len(hist):].numpy(), hist)
        assert not b.history[i, :128 - len(hist)].any()
    # A fragment deep in the piece sees all 128 frames, not just the last 32.
    deep = int(np.flatnonzero((b.start >= 128).numpy())[0])
    assert b.history[deep, :96].any()


def test_batches_are_seeded_and_augmented():
    rolls = [np.random.default_rng(0).integers(0, 2, (1000, 88)).astype(np.uint8)]
    f = Fragments(rolls)
    a = [(b.start.tolist(), b.shift) for b in f.batches(8, seed=3, augment=True)]
    b = [(b.start.tolist(), b.shift) for b in f.batches(8, seed=3, augment=True)]
    assert a == b and sum(len(s) for s, _ in a) == len(f)
    assert len({s for _, s in a}) > 1 and all(-6 <= s <= 5 for _, s in a)
    idx = np.arange(5)
    plain, up = f.get(idx), f.get(idx, shift=3)
    np.testing.assert_array_equal(up.roll.numpy(), transpose88(plain.roll.numpy(), 3))
    np.testing.assert_array_equal(up.history.numpy(), transpose88(plain.history.numpy(), 3))
