"""`musicgen data prepare`: shards equal load_dataset, bad files skipped, resumable."""
import json
import subprocess
import sys

import numpy as np
import pytest

from musicgen_lib.cli import main
from musicgen_lib.data import load_dataset, roll_to_midi
from musicgen_lib.data.shards import iter_shards, load_shards, prepare, read_manifest
from musicgen_lib.errors import DataError


@pytest.fixture
def midi_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "midi"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        roll = (rng.random((32 + 16 * i, 88)) < 0.05).astype(np.uint8)
        roll[:16 * (i % 2)] = 0  # a bar of leading silence in some pieces
        roll[-1, 40] = 1
        roll_to_midi(roll, folder / ("sub" if i == 3 else "") / f"p{i}.mid")
    (folder / "broken.mid").write_bytes(b"MThd garbage")
    return folder


@pytest.mark.parametrize("semantics,steps,workers", [("sounding", 4, 1), ("onset", 2, 2)])
def test_shards_equal_load_dataset(midi_folder, tmp_path, tmp_cache, semantics, steps, workers):
    out = tmp_path / "shards"
    r = prepare(midi_folder, out, shard_size=2, semantics=semantics, steps_per_beat=steps,
                workers=workers)
    assert len(r.written) == 3 and r.reused == [] and r.pieces == 5
    assert sorted(p.name for p in out.glob("shard-*.npz")) == \
        ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    ds = load_dataset("midi", midi_folder, semantics=semantics, steps_per_beat=steps,
                      cache=False)
    expected = {p.name: p.roll for p in ds.pieces()}
    got = dict(iter_shards(out))
    assert got.keys() == expected.keys()
    for name, roll in got.items():
        assert roll.dtype == np.uint8 and roll.shape == expected[name].shape
        assert np.array_equal(roll, expected[name]), name
    assert [p.name for p in load_shards(out)] == sorted(expected)
    manifest = read_manifest(out)
    assert manifest["options"]["semantics"] == semantics and manifest["complete"]
    assert [s["file"] for s in manifest["skipped"]] == ["broken.mid"]
    assert "not a MIDI file" in manifest["skipped"][0]["reason"] or \
        "truncated" in manifest["skipped"][0]["reason"]
    assert [e["count"] for e in manifest["shards"]] == [1, 2, 2]  # broken.mid in the first
    assert [s.file for s in r.skipped] == ["broken.mid"]


def test_rerun_is_resumable(midi_folder, tmp_path):
    out = tmp_path / "shards"
    prepare(midi_folder, out, shard_size=2, workers=1)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.npz")}
    again = prepare(midi_folder, out, shard_size=2, workers=1)
    assert again.written == [] and len(again.reused) == 3 and again.pieces == 5
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.npz")} == mtimes
    (out / "shard-00001.npz").unlink()
    third = prepare(midi_folder, out, shard_size=2, workers=1)
    assert third.written == ["shard-00001.npz"] and third.pieces == 5
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.npz")
            if p.name != "shard-00001.npz"} == \
        {k: v for k, v in mtimes.items() if k != "shard-00001.npz"}
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))
    # Another option redoes everything; a changed shard size removes stale shards.
    with pytest.raises(DataError, match=r"other options \(shard_size 2 -> 4\); --force"):
        prepare(midi_folder, out, shard_size=4, workers=1)  # would replace them: asks first
    assert len(prepare(midi_folder, out, shard_size=4, workers=1, force=True).written) == 2
    assert sorted(p.name for p in out.glob("shard-*.npz")) == ["shard-00000.npz",
                                                              "shard-00001.npz"]
    assert len(load_shards(out)) == 5


def test_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        prepare(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(DataError, match="no MIDI files"):
        prepare(tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="manifest"):
        load_shards(tmp_path)


def test_cli_prepare(midi_folder, tmp_path, capsys):
    out = tmp_path / "shards"
    assert main(["data", "prepare", str(midi_folder), "--out", str(out), "--shard-size", "2",
                 "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "3 shards (3 written, 0 already complete), 5 pieces" in text
    assert "skipped 1 files" in text and "broken.mid: " in text
    assert json.loads((out / "manifest.json").read_text())["pieces"] == 5


def test_cli_errors_are_one_line(tmp_path):
    for args in ([str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
                 [str(tmp_path), "--out", str(tmp_path / "o")],
                 [str(tmp_path), "--out", str(tmp_path / "o"), "--shard-size", "0"]):
        r = subprocess.run([sys.executable, "-m", "musicgen_lib", "data", "prepare", *args],
                           capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("musicgen: error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr


def test_training_streams_from_shards(midi_folder, tmp_path):
    """ShardedRolls: a lazy sequence (two shards decoded at most) whose epoch order visits
    the shards one after another; the engine trains from it without loading the set."""
    import torch

    from musicgen_lib.data.shards import ShardedRolls
    from musicgen_lib.models import registry
    from musicgen_lib.train import make_train_config, train

    out = tmp_path / "shards"
    prepare(midi_folder, out, shard_size=2, workers=1)
    rolls = ShardedRolls(out, cache=2)
    expected = [r for _, r in iter_shards(out)]
    assert len(rolls) == 5 and all(np.array_equal(rolls[i], expected[i]) for i in range(5))
    assert len(rolls._cache) <= 2
    order = rolls.epoch_order(0, 0)
    assert sorted(order) == list(range(5)) and order == rolls.epoch_order(0, 0)
    shard_of = [s for s, _ in rolls.index]
    runs = [shard_of[order[0]]] + [shard_of[b] for a, b in zip(order, order[1:])
                                   if shard_of[a] != shard_of[b]]
    assert len(runs) == len(set(runs))  # each shard's pieces come together
    assert any(rolls.epoch_order(0, e) != order for e in range(1, 5))
    splits = {s: len(ShardedRolls(out, s)) for s in ("train", "valid", "test")}
    assert sum(splits.values()) == 5
    torch.manual_seed(0)
    model = registry.build("lstm", {"n_hidden": 8})
    cfg = make_train_config({"batch_size": 2, "valid_every": 2, "max_steps": 4})
    res = train(model, rolls, expected[:2], cfg, tmp_path / "run", progress=False)
    assert res.step == 4 and np.isfinite(res.best_valid)


def test_prepare_never_replaces_shards_of_another_folder_unasked(midi_folder, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(midi_folder, other)
    out = tmp_path / "shards"
    assert main(["data", "prepare", str(midi_folder), "--out", str(out), "--workers", "1"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["data", "prepare", str(other), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"holds shards of {midi_folder}; --force replaces them" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    assert main(["data", "prepare", str(other), "--out", str(out), "--workers", "1",
                 "--force"]) == 0

