"""A short, derandomised run of the command-line fuzzer (``scripts/fuzz_cli.py`` runs 2 000
invocations): Hypothesis draws argument vectors for every sub-command (valid and invalid
numbers; missing, read-only and folder paths; garbage and absurd MIDI files; the user's own
files as outputs and inputs) and calls ``musicgen_lib.cli.main`` in this process. Every call
must exit 0 or 2 (2 with one error line), let no exception escape, change no file the user
had (unless named as an output with --force), and keep the peak RSS under a bound."""
import importlib.util
import os
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
INVOCATIONS = 80
RSS_LIMIT_MB = 3000


def _fuzz_cli():
    spec = importlib.util.spec_from_file_location("fuzz_cli", ROOT / "scripts" / "fuzz_cli.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_cli_fuzz_short(tmp_path, monkeypatch):
    from musicgen_lib import cli_outputs
    from musicgen_lib.render import audio

    # the same code paths with smaller renderings, for speed (the script keeps the real bounds)
    monkeypatch.setattr(audio, "MAX_SECONDS", 30.0)
    monkeypatch.setattr(cli_outputs, "MAX_ROLL_STEPS", 1024)
    monkeypatch.setattr(cli_outputs, "MAX_SCORE_BARS", 8)
    monkeypatch.setenv("MUSICGEN_CACHE", str(tmp_path / "cache"))
    fuzz_cli = _fuzz_cli()
    world = fuzz_cli.make_world(tmp_path)
    try:
        report = fuzz_cli.run(world, INVOCATIONS, timeout=120, rss_limit_mb=RSS_LIMIT_MB,
                              steps=8, derandomize=True)
    finally:
        os.chmod(tmp_path / "ro", 0o755)
    text = report.text(RSS_LIMIT_MB)
    assert report.invocations == INVOCATIONS, text
    assert report.ok, text
    assert report.codes.get(0, 0) >= INVOCATIONS // 5, text  # real work was done, too
    assert {"sample", "render", "analyze", "train", "evaluate"} <= set(report.commands), text
