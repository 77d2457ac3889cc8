"""Audio, scores, plots and the render/analyze commands (musicgen_lib.render,
musicgen_lib.cli_outputs)."""
import argparse
import json

import numpy as np
import pytest

from musicgen_lib.errors import MusicgenError
from musicgen_lib.render.audio import (FALLBACK, AudioConfig, AudioError, audio_bytes,
                                       audio_player, encode, events_from_roll, render_audio,
                                       tinysoundfont_available)
from musicgen_lib.render.score import ScoreConfig, roll_score_svg, roll_to_score

SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def scale_roll(reps=2):
    roll = np.zeros((16 * reps, 88), np.uint8)
    for i in range(8 * reps):
        roll[2 * i:2 * i + 2, SCALE[i % 8] - 21] = 1
    roll[:16, 48 - 21] = 1                                # a held bass C
    return roll


# ---------------------------------------------------------------- audio

def test_events_timing():
    ev = events_from_roll(scale_roll(1), AudioConfig(bpm=120))
    assert len(ev.start) == 9
    assert ev.duration == pytest.approx(2.0)                # one bar at 120 bpm
    assert sorted(ev.start)[1] == 0.0 and 0.25 in ev.start.tolist()


@pytest.mark.parametrize("synth", ["sine", "tinysoundfont"])
def test_mp3_is_deterministic(synth):
    if synth == "tinysoundfont" and not tinysoundfont_available():
        pytest.skip("tinysoundfont not installed")
    cfg = AudioConfig(synthesizer=synth)
    a = audio_bytes(scale_roll(), cfg)
    b = audio_bytes(scale_roll(), cfg)
    assert a == b and len(a) > 1000
    assert a[:3] == b"ID3" or a[0] == 0xFF                  # an MP3 frame or tag
    r = render_audio(scale_roll(), cfg)
    assert r.seconds == pytest.approx(4.0 + cfg.tail, abs=0.01)
    assert np.abs(r.samples).max() == pytest.approx(0.9, abs=1e-3)
    # the first beat sounds, the tail after the release fades
    sr = r.sample_rate
    assert np.abs(r.samples[: sr // 2]).max() > 0.1


def test_fallback_is_labelled(monkeypatch):
    import musicgen_lib.render.audio as audio

    monkeypatch.setattr(audio, "tinysoundfont_available", lambda: False)
    r = render_audio(scale_roll(1))
    assert r.synthesizer == FALLBACK and r.is_fallback
    player = audio_player(scale_roll(1))
    assert player.mimetype == "audio/mpeg"
    assert "fallback" in player._repr_html_()


def test_player_is_mp3_and_short():
    player = audio_player(np.tile(scale_roll(1), (40, 1)), seconds=3)
    assert player.mimetype == "audio/mpeg"
    assert 'data:audio/mpeg;base64' in player._repr_html_()
    assert len(player.data) < 60_000


def test_wav_and_bad_format(tmp_path):
    r = render_audio(scale_roll(1), AudioConfig(synthesizer="sine"))
    wav = encode(r, ".wav")
    assert wav[:4] == b"RIFF"
    with pytest.raises(AudioError):
        encode(r, ".ogg")
    with pytest.raises(MusicgenError):
        render_audio(scale_roll(1), AudioConfig(synthesizer="nope"))


# ---------------------------------------------------------------- scores

def test_roll_to_score_two_staves_key_and_durations():
    from music21 import chord

    roll = scale_roll()
    roll[16:, SCALE[0] + 1 - 21] = 0
    score = roll_to_score(roll, ScoreConfig(key=7))          # G major: one sharp
    parts = score.parts
    assert len(parts) == 2
    assert parts[0].recurse().getElementsByClass("KeySignature")[0].sharps == 1
    assert {c.name for c in parts[0].recurse().getElementsByClass("Clef")} == {"treble"}
    assert {c.name for c in parts[1].recurse().getElementsByClass("Clef")} == {"bass"}
    for part in parts:                                       # every bar is full
        for m in part.getElementsByClass("Measure"):
            assert m.duration.quarterLength == 4.0
    upper = [p.midi for n in parts[0].recurse().notes for p in n.pitches]
    lower = [p.midi for n in parts[1].recurse().notes for p in n.pitches]
    assert min(upper) >= 60 and max(lower) < 60
    assert sorted(set(upper)) == sorted(set(SCALE))
    assert set(lower) == {48}
    # F# (pc 6) would be spelled F# in G major
    assert not any(isinstance(n, chord.Chord) for n in parts[1].recurse().notes)
    auto = roll_to_score(roll)                               # auto key: C major, no sharps
    assert auto.parts[0].recurse().getElementsByClass("KeySignature")[0].sharps == 0


def test_score_svg_is_deterministic():
    a = roll_score_svg(scale_roll())
    b = roll_score_svg(scale_roll())
    assert a == b and a.lstrip().startswith("<svg") and "</svg>" in a


# ---------------------------------------------------------------- plots

def test_plot_harmony_and_transitions():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicgen_lib.analysis.harmony import analyze_harmony, transitions
    from musicgen_lib.render.plots import plot_harmony, plot_roll, plot_transitions

    roll = scale_roll()
    h = analyze_harmony(roll)
    fig, axes = plt.subplots(3, 1)
    plot_harmony(roll, h, axes[0], title="scale")
    plot_transitions(transitions(h.chords), axes[1])
    plot_roll(roll, axes[2])
    assert axes[0].get_title() == "scale"
    assert any(t.get_text() == "C" for t in axes[0].texts)   # the key label
    plt.close(fig)


# ---------------------------------------------------------------- commands

def _parser():
    from musicgen_lib.cli_outputs import add_analyze_parser, add_render_parser

    ap = argparse.ArgumentParser(prog="musicgen")
    sub = ap.add_subparsers(dest="command", required=True)
    add_render_parser(sub)
    add_analyze_parser(sub)
    return ap


@pytest.fixture
def midi_file(tmp_path):
    from musicgen_lib.data import roll_to_midi

    return roll_to_midi(scale_roll(), tmp_path / "scale.mid")


def test_render_command(tmp_path, midi_file, capsys):
    args = _parser().parse_args(["render", str(midi_file), "--audio", str(tmp_path / "a.mp3"),
                                 "--score", str(tmp_path / "s.svg"), "--roll", str(tmp_path / "r.png"),
                                 "--synth", "sine"])
    assert args.func(args) == 0
    assert (tmp_path / "a.mp3").stat().st_size > 1000
    assert (tmp_path / "s.svg").read_text().lstrip().startswith("<svg")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,message", [
    (["render", "MISSING.mid", "--audio", "x.mp3"], "no such file"),
    (["render", "FILE", "--audio", "x.ogg"], "must end in .mp3 or .wav or .flac"),
    (["render", "FILE"], "nothing to do"),
    (["analyze", "MISSING_DIR"], "no such file"),
])
def test_command_errors_are_one_line(argv, message, midi_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(midi_file) if a == "FILE" else a for a in argv]
    args = _parser().parse_args(argv)
    with pytest.raises(MusicgenError) as e:
        args.func(args)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_analyze_command_json_and_report(tmp_path, midi_file, capsys):
    from musicgen_lib.data import roll_to_midi

    roll_to_midi(np.roll(scale_roll(), 16, axis=0), tmp_path / "second.mid")
    (tmp_path / "broken.mid").write_bytes(b"not midi")
    report = tmp_path / "report.html"
    args = _parser().parse_args(["analyze", str(tmp_path), "--json", "--report", str(report)])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["files"]) == 2 and len(out["skipped"]) == 1
    assert out["aggregate"]["out_of_key_rate"]["mean"] == 0.0
    assert out["aggregate"]["out_of_key_rate"]["n"] == 2
    page = report.read_text()
    assert "<img" in page and "out_of_key_rate" in page
