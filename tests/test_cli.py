"""The command line: JSON output, and one-line errors with exit status 2."""
import json
import subprocess
import sys

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
                 ["--dataset", "jsb"]):
        r = subprocess.run([sys.executable, "-m", "musicgen_lib", "data", "stats", *args],
                           capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("musicgen: error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr
