"""Bad input to the command line is refused at the edge, in one line on stderr with exit
status 2 and never a traceback; resource bounds hold before anything large is allocated;
the fixes that came with them (tempo maps, the sampler's time grid, notes off the keyboard)."""
import json
import os
import random
import struct
import subprocess
import sys

import numpy as np
import pytest

from musicgen_lib.checkpoints import find_checkpoint
from musicgen_lib.cli import main
from musicgen_lib.data import NoteList, read_midi, write_midi

import midi_fuzz as fuzz  # tests/midi_fuzz.py


def _midi(events, tpq: int = 96) -> bytes:
    body = fuzz.join_track([[d, e] for d, e in events] + [[0, b"\xff\x2f\x00"]])
    return fuzz.join_file(struct.pack(">HHH", 0, 1, tpq), [[b"MTrk", body]])


def _tempo(us: int) -> bytes:
    return b"\xff\x51\x03" + us.to_bytes(3, "big")


def _one_line_error(capsys, *texts) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("musicgen") and ": error: " in lines[0], err
    assert "Traceback" not in err
    for t in texts:
        assert t in err, err
    return err


@pytest.fixture
def files(tmp_path):
    """A small MIDI file, a folder of them, and the absurd files of the issue."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(10):
        s = np.sort(rng.integers(0, 64, 30)) * 120
        write_midi(NoteList.from_arrays(s, s + 240, rng.integers(48, 80, 30)), folder / f"p{i}.mid")
    good = folder / "p0.mid"
    slow = tmp_path / "slow.mid"  # 16 s per beat, one note of 99 000 quarter notes: 440 hours
    slow.write_bytes(_midi([(0, _tempo(16_000_000)), (0, b"\x90\x3c\x50"),
                            (99_000 * 96, b"\x80\x3c\x00")]))
    low = tmp_path / "low.mid"  # every note outside the 88 keys
    low.write_bytes(_midi([(0, b"\x90\x05\x50"), (96, b"\x80\x05\x00"), (0, b"\x90\x7f\x50"),
                           (96, b"\x80\x7f\x00")]))
    return {"good": good, "folder": folder, "slow": slow, "low": low, "tmp": tmp_path}


# ---------------------------------------------------------------- numbers, at the edge

def _bad_number_cases():
    s = ["sample", "--out", "{tmp}/s.mid"]
    ds = ["--dataset", "midi", "--path", "{folder}"]
    return [
        (s + ["--steps", "0"], "argument --steps"),
        (s + ["--steps", "-5"], "argument --steps"),
        (s + ["--steps", "1000000000"], "1 to 100 000"),
        (s + ["--seed", "-1"], "argument --seed"),
        (s + ["--temperature", "0"], "argument --temperature"),
        (s + ["--temperature", "nan"], "finite"),
        (s + ["--temperature", "-1"], "argument --temperature"),
        (s + ["--temperature", "inf"], "finite"),
        (s + ["--gibbs-steps", "0"], "argument --gibbs-steps"),
        (s + ["--history", "-1"], "argument --history"),
        (s + ["--steps", "abc"], "expected a whole number"),
        (["data", "stats", *ds, "--steps-per-beat", "0"], "1 to 96"),
        (["data", "stats", *ds, "--steps-per-beat", "-1"], "1 to 96"),
        (["data", "stats", *ds, "--steps-per-beat", "100000", "--no-cache"], "1 to 96"),
        (["data", "prepare", "{folder}", "--out", "{tmp}/sh", "--steps-per-beat", "0"], "1 to 96"),
        (["data", "prepare", "{folder}", "--out", "{tmp}/sh", "--shard-size", "0"], "--shard-size"),
        (["train", "--model", "lstm", *ds, "--out", "{tmp}/run", "--steps-per-beat", "0"], "1 to 96"),
        (["train", "--model", "lstm", *ds, "--out", "{tmp}/run", "--max-steps", "0"], "--max-steps"),
        (["train", "--model", "lstm", *ds, "--out", "{tmp}/run", "--max-minutes", "nan"], "finite"),
        (["train", "--model", "lstm", *ds, "--out", "{tmp}/run", "--seed", "-1"], "--seed"),
        (["train", "--model", "lstm", *ds, "--out", "{tmp}/run", "--threads", "0"], "--threads"),
        (["evaluate", "--checkpoint", "{tmp}", *ds, "--steps-per-beat", "-1"], "1 to 96"),
        (["evaluate", "--checkpoint", "{tmp}", *ds, "--samples", "0"], "--samples"),
        (["evaluate", "--checkpoint", "{tmp}", *ds, "--ais-chains", "-3"], "--ais-chains"),
        (["render", "{good}", "--audio", "{tmp}/a.wav", "--bpm", "0"], "argument --bpm"),
        (["render", "{good}", "--audio", "{tmp}/a.wav", "--bpm", "-5"], "argument --bpm"),
        (["render", "{good}", "--audio", "{tmp}/a.wav", "--bpm", "nan"], "finite"),
        (["render", "{good}", "--roll", "{tmp}/r.png", "--start", "0"], "argument --start"),
        (["analyze", "{good}", "--window", "0"], "argument --window"),
        (["analyze", "{good}", "--hop", "-1"], "argument --hop"),
    ]


@pytest.mark.parametrize("argv, text", _bad_number_cases())
def test_bad_numbers_are_one_line_errors(argv, text, files, capsys):
    before = sorted(p.name for p in files["tmp"].iterdir())
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    assert main(argv) == 2
    err = _one_line_error(capsys, text)
    assert "(see musicgen " in err  # names the sub-command's help
    assert sorted(p.name for p in files["tmp"].iterdir()) == before  # nothing written


def test_a_real_process_prints_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "musicgen_lib", "sample", "--seed", "-1",
                        "--out", str(tmp_path / "s.mid")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("musicgen: error: argument --seed")


def test_help_and_usage_errors_return_from_main(capsys):
    assert main(["analyze", "--help"]) == 0
    out = capsys.readouterr().out
    assert "95% bootstrap" in out and "95%%" not in out
    assert main([]) == 2
    _one_line_error(capsys, "COMMAND")
    assert main(["sample", "--out", "x.mid", "--bogus"]) == 2
    _one_line_error(capsys, "unrecognized arguments")


# ---------------------------------------------------------------- sample

def test_sample_path_needs_a_prime_dataset(files, capsys):
    out = str(files["tmp"] / "s.mid")
    for extra, text in ((["--path", str(files["folder"])], "--path needs --prime-dataset"),
                        (["--prime", str(files["good"]), "--path", str(files["folder"])],
                         "--prime reads one MIDI file"),
                        (["--prime-dataset", "chorales", "--path", str(files["folder"])],
                         "takes no --path")):
        assert main(["sample", "--steps", "4", "--out", out, *extra]) == 2
        _one_line_error(capsys, text)
    assert not os.path.exists(out)
    assert main(["sample", "--steps", "4", "--out", out, "--prime-dataset", "midi",
                 "--path", str(files["folder"])]) == 0


def test_sample_generator_of_another_model_is_refused(tmp_path, capsys):
    assert main(["sample", "--generator", str(find_checkpoint("review-jsb/lstm")), "--steps", "4",
                 "--out", str(tmp_path / "s.mid")]) == 2
    _one_line_error(capsys, "not a run of the model 'thesis'", "'lstm'")


def test_sample_jsb_prime_names_the_checkpoints_that_can_use_it(tmp_path, capsys):
    assert main(["sample", "--prime-dataset", "jsb", "--steps", "4",
                 "--out", str(tmp_path / "s.mid")]) == 2
    err = _one_line_error(capsys, "sounding rolls", "thesis-jsb")
    assert "semantics='sounding'" not in err


def test_sample_writes_at_the_checkpoints_own_grid(tmp_path, capsys):
    """thesis-jsb steps in quarter notes: 16 steps are 16 beats, not 4."""
    out = tmp_path / "jsb.mid"
    assert main(["sample", "--checkpoint", str(find_checkpoint("thesis-jsb")), "--steps", "16",
                 "--out", str(out)]) == 0
    assert "at 1 per beat" in capsys.readouterr().out
    notes = read_midi(out)
    beats = notes.end_tick / notes.ticks_per_beat
    assert 16 <= beats <= 20  # the prime bar (4 beats) and 16 generated quarter notes


# ---------------------------------------------------------------- outputs

def test_train_out_under_a_read_only_parent_or_a_file(files, capsys):
    args = ["train", "--model", "lstm", "--dataset", "midi", "--path", str(files["folder"]),
            "--max-steps", "1", "--out"]
    assert main([*args, str(files["good"])]) == 2
    _one_line_error(capsys, "is a file")
    assert main([*args, str(files["good"] / "run")]) == 2
    _one_line_error(capsys, "musicgen train: error:")
    read_only = [files["tmp"] / "ro"]
    read_only[0].mkdir()
    os.chmod(read_only[0], 0o555)
    if os.access("/proc/sys", os.F_OK) and not os.access("/proc/sys", os.W_OK):
        read_only.append("/proc/sys")  # read-only even for root
    try:
        for parent in read_only:
            if os.access(parent, os.W_OK):  # root ignores permission bits
                continue
            assert main([*args, f"{parent}/run"]) == 2
            _one_line_error(capsys, "permission denied")
            assert not os.path.exists(f"{parent}/run")
    finally:
        os.chmod(read_only[0], 0o755)


def test_prepare_never_writes_into_a_users_folder(files, capsys):
    mine = files["tmp"] / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text('{"my": "manifest"}')
    assert main(["data", "prepare", str(files["folder"]), "--out", str(mine)]) == 2
    _one_line_error(capsys, "not a folder of shards")
    assert (mine / "manifest.json").read_text() == '{"my": "manifest"}'
    assert sorted(p.name for p in mine.iterdir()) == ["manifest.json"]
    shards = files["tmp"] / "shards"  # ours may be prepared again
    for _ in range(2):
        assert main(["data", "prepare", str(files["folder"]), "--out", str(shards),
                     "--workers", "1"]) == 0


# ---------------------------------------------------------------- resource bounds

def test_render_of_a_440_hour_file_is_bounded_before_allocation(files, capsys, monkeypatch):
    from musicgen_lib.render import audio

    with pytest.raises(audio.AudioError, match="at most"):  # the library refuses
        audio.synthesize(audio.NoteEvents(np.zeros(1), np.full(1, 1.6e6), np.full(1, 60),
                                          np.full(1, 80)), audio.AudioConfig(synthesizer="sine"))
    monkeypatch.setattr(audio, "MAX_SECONDS", 4.0)  # the CLI renders the first MAX_SECONDS
    wav = files["tmp"] / "a.wav"
    assert main(["render", str(files["slow"]), "--audio", str(wav), "--synth", "sine"]) == 0
    captured = capsys.readouterr()
    assert "440 h 00 min" in captured.err and "rendering its first" in captured.err
    assert "a.wav: 4.0 s" in captured.out
    import soundfile

    assert abs(soundfile.info(str(wav)).duration - 4.0) < 0.01


def test_render_bounds_score_and_roll(files, capsys, monkeypatch):
    from musicgen_lib import cli_outputs

    monkeypatch.setattr(cli_outputs, "MAX_SCORE_BARS", 2)
    monkeypatch.setattr(cli_outputs, "MAX_ROLL_STEPS", 32)
    svg, png = files["tmp"] / "s.svg", files["tmp"] / "r.png"
    assert main(["render", str(files["slow"]), "--score", str(svg), "--bars", "1000000",
                 "--roll", str(png)]) == 0
    captured = capsys.readouterr()
    assert "engraving 2 bars of 24750" in captured.err
    assert "drawing 2 bars of 24750" in captured.err
    assert "s.svg: bars 1-2" in captured.out and "r.png: 32 steps" in captured.out


def test_train_and_evaluate_refuse_absurdly_long_pieces(files, capsys):
    import shutil

    shutil.copy(files["slow"], files["folder"] / "slow.mid")
    run = files["tmp"] / "run"
    assert main(["train", "--model", "lstm", "--dataset", "midi", "--path", str(files["folder"]),
                 "--max-steps", "1", "--out", str(run)]) == 2
    _one_line_error(capsys, "slow.mid: 396 000 steps long", "at most 32 768 steps per piece")
    assert not run.exists()
    from musicgen_lib.data.datasets import split_of

    # at 96 steps per beat its roll (9.5 million steps) is not even made: the file is skipped
    # with its reason, said on stderr in one line, and the other pieces are evaluated
    assert main(["evaluate", "--checkpoint", str(find_checkpoint("review-jsb/lstm")),
                 "--dataset", "midi", "--path", str(files["folder"]), "--steps-per-beat", "96",
                 "--split", split_of("slow.mid"), "--no-accuracy", "--json"]) == 0
    captured = capsys.readouterr()
    (note,) = captured.err.strip().splitlines()
    assert note.startswith("musicgen: note: skipped ") and "slow.mid: 9,504,000 steps long at 96 " \
        "steps per beat" in note and "a piano roll holds at most 2,097,152 steps" in note
    assert json.loads(captured.out)["pieces"] >= 1


# ---------------------------------------------------------------- notes off the keyboard

def test_a_file_with_no_note_on_the_88_keys_is_skipped_with_a_reason(files, capsys, tmp_cache):
    from musicgen_lib.errors import MidiError

    with pytest.raises(MidiError, match="no notes on the 88 piano keys"):
        read_midi(files["low"])
    folder = files["folder"]
    os.replace(files["low"], folder / "low.mid")
    assert main(["data", "stats", "--dataset", "midi", "--path", str(folder)]) == 0
    assert "low.mid: no notes on the 88 piano keys" in capsys.readouterr().out
    assert main(["analyze", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "low.mid: no notes on the 88 piano keys" in out
    assert main(["analyze", str(folder / "low.mid")]) == 2
    _one_line_error(capsys, "no readable MIDI file", "no notes on the 88 piano keys")
    assert main(["render", str(folder / "low.mid"), "--roll", str(files["tmp"] / "r.png")]) == 2
    _one_line_error(capsys, "no notes on the 88 piano keys")


# ---------------------------------------------------------------- tempo maps

def test_the_last_tempo_event_on_a_tick_wins(tmp_path):
    """50 tempo events on tick 0, the last one 60 bpm; 8 one-beat notes then last 8 s for
    mido and pretty_midi, and for us (symusic alone let any of the 50 win)."""
    import mido
    import pretty_midi

    from musicgen_lib.data.midi import tempo_map
    from musicgen_lib.render.audio import events_from_midi, mean_tempo

    notes = [e for k in range(8) for e in ((0, bytes([0x90, 60 + k, 80])), (96, bytes([0x80, 60 + k, 0])))]
    tempos = [(0, _tempo(200_000 + 10_000 * i)) for i in range(49)] + [(0, _tempo(1_000_000))]
    # and again mid-file: 50 events on beat 4, the last 120 bpm
    later = [(0, _tempo(1_500_000 - 10_000 * i)) for i in range(49)] + [(0, _tempo(500_000))]
    path = tmp_path / "tempi.mid"
    path.write_bytes(_midi(tempos + notes[:8] + later + notes[8:]))
    assert tempo_map(path.read_bytes()) == [(0, 1_000_000), (384, 500_000)]
    expected = mido.MidiFile(str(path)).length
    assert expected == pytest.approx(pretty_midi.PrettyMIDI(str(path)).get_end_time())
    assert expected == pytest.approx(4 * 1.0 + 4 * 0.5)
    assert events_from_midi(path).duration == pytest.approx(expected, abs=1e-4)
    assert mean_tempo(path) == pytest.approx(60 * 8 / expected, rel=1e-4)


def test_tempo_maps_without_clashes_are_read_as_before(tmp_path):
    """One tempo event per tick: the seconds are symusic's own, bit for bit."""
    from symusic import Score

    from musicgen_lib.render.audio import events_from_midi

    path = tmp_path / "two.mid"
    path.write_bytes(_midi([(0, _tempo(600_000)), (0, b"\x90\x3c\x50"), (96, b"\x80\x3c\x00"),
                            (0, _tempo(437_000)), (0, b"\x90\x3e\x50"), (97, b"\x80\x3e\x00")]))
    score = Score(str(path), ttype="second")
    a = score.tracks[0].notes.numpy()
    ev = events_from_midi(path)
    assert np.array_equal(ev.start, a["time"].astype(np.float64))


# ---------------------------------------------------------------- the MIDI fuzzer itself

def test_chunk_length_mutation_keeps_32_bits():
    """Seeds 1 and 11 of scripts/fuzz_midi.py crashed: old + 1 and old * 2 of a length of
    2**32 - 1 do not fit in a chunk header."""
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", 2 ** 32 - 1)
    for i in range(300):
        out = fuzz.chunk_length(data, random.Random(i))
        assert len(out) == len(data)


# ---------------------------------------------------------------- progress, and the JSB semantics

def test_no_progress_bar_off_a_terminal(files, capsys):
    run = files["tmp"] / "run"
    assert main(["train", "--model", "lstm", "--dataset", "midi", "--path", str(files["folder"]),
                 "--max-steps", "2", "--out", str(run)]) == 0
    assert main(["evaluate", "--checkpoint", str(run), "--dataset", "midi",
                 "--path", str(files["folder"]), "--samples", "2"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err and "%|" not in err, err


def test_jsb_onset_messages_name_the_options(capsys):
    assert main(["data", "stats", "--dataset", "jsb", "--semantics", "onset"]) == 2
    err = _one_line_error(capsys, "--semantics sounding")
    assert "semantics='sounding'" not in err
    assert main(["evaluate", "--checkpoint", str(find_checkpoint("thesis-piano")),
                 "--dataset", "jsb"]) == 2
    err = _one_line_error(capsys, "reads onset rolls", "sounding notes only")
    assert "semantics='sounding'" not in err


def test_data_stats_in_chunks_gives_the_librarys_numbers(files, jsb, tmp_cache):
    from musicgen_lib.cli import dataset_stats
    from musicgen_lib.data import load_dataset

    for ds in (load_dataset("jsb", jsb), load_dataset("midi", files["folder"], semantics="onset"),
               load_dataset("midi", files["folder"], steps_per_beat=3)):
        assert dataset_stats(ds, chunk=7) == ds.stats()


def test_a_shards_folder_that_is_not_ours_is_one_line(files, capsys):
    mine = files["tmp"] / "mine"
    mine.mkdir()
    for manifest in ('{"my": "manifest"}', "[1, 2]", '{"options": 3}'):
        (mine / "manifest.json").write_text(manifest)
        assert main(["evaluate", "--checkpoint", str(find_checkpoint("review-jsb/lstm")),
                     "--dataset", "shards", "--path", str(mine)]) == 2
        _one_line_error(capsys, "not a folder written by `musicgen data prepare`")


def test_force_replaces_a_run_with_another_model(files, capsys):
    """--force on a run of ours: the new run's model, not the old run's best model.pt."""
    from musicgen_lib.checkpoints import load_trained

    run = files["tmp"] / "run"
    base = ["--dataset", "midi", "--path", str(files["folder"]), "--max-steps", "2",
            "--out", str(run)]
    assert main(["train", "--model", "lstm", *base]) == 0
    assert load_trained(run)[1]["model"] == "lstm"
    assert main(["train", "--model", "rnn-nade", *base, "--force"]) == 0
    assert load_trained(run)[1]["model"] == "rnn-nade"
    capsys.readouterr()
