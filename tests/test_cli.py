"""The command line: JSON output, and one-line errors with exit status 2."""
import json
import subprocess
import sys

from musicgen_lib.checkpoints import find_checkpoint
from musicgen_lib.cli import main


def test_data_stats_json_jsb(jsb, capsys):
    assert main(["data", "stats", "--dataset", "jsb", "--path", str(jsb), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "jsb"
    assert {s: v["pieces"] for s, v in out["splits"].items()} == \
        {"train": 229, "valid": 76, "test": 77}
    assert out["skipped"] == []


def test_data_stats_json_piano_midi_de(piano_midi_de, tmp_cache, capsys):
    assert main(["data", "stats", "--dataset", "piano-midi-de", "--path", str(piano_midi_de),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sum(v["pieces"] for v in out["splits"].values()) == 140
    assert len(out["skipped"]) == 197
    assert all(set(k) == {"file", "reason"} for k in out["skipped"])


def test_text_output_lists_skipped(tmp_path, tmp_cache, capsys):
    (tmp_path / "bad.mid").write_bytes(b"garbage")
    (tmp_path / "ok.mid").write_bytes(
        b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x0d"
        b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00\x00\xff\x2f\x00")
    assert main(["data", "stats", "--dataset", "midi", "--path", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 files" in out and "bad.mid: not a MIDI file" in out


def test_errors_are_one_line_without_traceback(tmp_path):
    for args in (["--dataset", "midi", "--path", str(tmp_path / "missing")],
                 ["--dataset", "midi", "--path", str(tmp_path)],
                 ["--dataset", "midi"]):
        r = subprocess.run([sys.executable, "-m", "musicgen_lib", "data", "stats", *args],
                           capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("musicgen: error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr


def test_sample_writes_the_prime_and_the_continuation(tmp_path, capsys):
    """musicgen sample with the committed chorale model and a bar of a built-in chorale."""
    from musicgen_lib.data import midi_to_roll

    out = tmp_path / "s.mid"
    assert main(["sample", "--steps", "8", "--out", str(out), "--seed", "1"]) == 0
    assert "and 8 generated steps" in capsys.readouterr().out
    roll = midi_to_roll(out, semantics="onset")
    assert 9 <= len(roll) <= 24 and roll.any()


def test_sample_with_another_generator_and_history(piano_midi_de, tmp_cache, tmp_path, capsys):
    """--generator swaps in another generator run (notebook 10's path-loss model) and
    --history reads that many steps before the prime bar; bad values are one-line errors."""
    from musicgen_lib.data import midi_to_roll

    out, ckpt = tmp_path / "p.mid", find_checkpoint("thesis-piano")
    base = ["sample", "--checkpoint", str(ckpt), "--prime-dataset",
            "piano-midi-de", "--path", str(piano_midi_de), "--steps", "8", "--out", str(out)]
    assert main([*base, "--generator", str(ckpt / "generator-path"),
                 "--history", "128", "--temperature", "0.8", "--gibbs-steps", "8"]) == 0
    printed = capsys.readouterr().out
    first, last = (int(v) for v in printed.split("steps ")[1].split(" of ")[0].split(".."))
    assert last - first + 1 == 144  # 128 steps of history and the bar
    assert len(midi_to_roll(out, semantics="onset")) <= 144 + 8
    for extra, msg in ((["--generator", str(ckpt / "decoder")], "not a run of the model"),
                       (["--history", "-1"], "--history")):
        r = subprocess.run([sys.executable, "-m", "musicgen_lib", *base, "--force", *extra],
                           capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr


# ---------------------------------------------------------------- no user file is ever lost

def _one_line_error(capsys, text: str) -> None:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err, err


def test_sample_never_replaces_its_prime_or_an_existing_file(tmp_path, capsys):
    prime = tmp_path / "mine.mid"
    assert main(["sample", "--steps", "4", "--out", str(prime)]) == 0
    before = prime.read_bytes()
    for force in ([], ["--force"]):  # an input is never an output, --force or not
        assert main(["sample", "--prime", str(prime), "--steps", "4", "--out", str(prime),
                     *force]) == 2
        _one_line_error(capsys, "is an input of this command")
        assert prime.read_bytes() == before
    other = tmp_path / "other.mid"
    other.write_bytes(b"keep me")
    assert main(["sample", "--steps", "4", "--out", str(other)]) == 2
    _one_line_error(capsys, "exists; pass --force")
    assert other.read_bytes() == b"keep me"
    assert main(["sample", "--steps", "4", "--out", str(other), "--force"]) == 0
    assert other.read_bytes()[:4] == b"MThd"
    for out, msg in ((tmp_path, "is a folder"), (tmp_path / "nope" / "x.mid", "does not exist"),
                     (tmp_path / "x.wav", "must end in .mid")):
        assert main(["sample", "--steps", "4", "--out", str(out)]) == 2
        _one_line_error(capsys, msg)


def test_train_never_writes_into_a_folder_that_is_not_a_run(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"my": "settings"}')
    (folder / "log.csv").write_text("my,data\n")
    args = ["train", "--model", "lstm", "--dataset", "chorales", "--max-steps", "1",
            "--out", str(folder)]
    for extra in ([], ["--force"], ["--resume"]):
        assert main([*args, *extra]) == 2
        _one_line_error(capsys, "not a musicgen training run")
    assert (folder / "config.json").read_text() == '{"my": "settings"}'
    assert (folder / "log.csv").read_text() == "my,data\n"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "log.csv"]


def test_failed_validation_leaves_no_run_folder(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"train": {"lr": NaN}}')
    out = tmp_path / "run"
    assert main(["train", "--model", "lstm", "--dataset", "chorales", "--config", str(bad),
                 "--out", str(out)]) == 2
    _one_line_error(capsys, "training option lr")
    assert not out.exists()
    empty = tmp_path / "empty-midi"
    empty.mkdir()
    (empty / "a.mid").write_bytes(b"garbage")
    assert main(["train", "--model", "lstm", "--dataset", "midi", "--path", str(empty),
                 "--out", str(out)]) == 2
    capsys.readouterr()
    assert not out.exists()


def test_render_checks_its_outputs_first(tmp_path, capsys):
    mid = tmp_path / "s.mid"
    assert main(["sample", "--steps", "4", "--out", str(mid)]) == 0
    capsys.readouterr()
    for args, msg in ((["--roll", str(tmp_path)], "is a folder"),
                      (["--score", str(tmp_path / "s.png")], "must end in .svg"),
                      (["--roll", str(mid)], "must end in .png"),
                      (["--audio", str(mid)], "must end in .mp3")):
        assert main(["render", str(mid), *args]) == 2
        _one_line_error(capsys, msg)
    png = tmp_path / "r.png"
    png.write_bytes(b"mine")
    assert main(["render", str(mid), "--roll", str(png)]) == 2
    _one_line_error(capsys, "exists; pass --force")
    assert png.read_bytes() == b"mine"
    assert main(["render", str(mid), "--roll", str(png), "--force"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
