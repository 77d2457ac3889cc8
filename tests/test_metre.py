"""Bars that follow the file's metre (musicgen_lib.data.metre): 3/4, 6/8, 9/8 and a change of
metre, on the step grid; and what uses them — ``musicgen render`` (--start/--bars, the
score's time signatures, the roll's bar lines), the engraved score, ``musicgen sample``'s
prime bar."""
import pytest

from musicgen_lib.cli import main
from musicgen_lib.data import NoteList, write_midi
from musicgen_lib.data.metre import Bar, bars, note_bars, shifted
from musicgen_lib.render.score import ScoreConfig, roll_to_score

TPB = 480


def _file(tmp_path, name, signatures, n_bars_by_signature, note_beats=None):
    """A MIDI file holding, per (numerator, denominator) section, that many bars of one chord
    lasting the whole bar (``note_beats`` quarter notes when given)."""
    starts, ends, pitches, tick, ts = [], [], [], 0, []
    for (num, den), n in zip(signatures, n_bars_by_signature):
        ts.append((tick, num, den))
        bar = int(num * 4 / den * TPB)
        for _ in range(n):
            length = int((note_beats or num * 4 / den) * TPB)
            for p in (60, 64, 67):
                starts.append(tick), ends.append(tick + length), pitches.append(p)
            tick += bar
    notes = NoteList.from_arrays(starts, ends, pitches, ticks_per_beat=TPB, time_signatures=ts)
    path = tmp_path / name
    write_midi(notes, path)
    return path, notes


def test_bars_follow_the_time_signatures():
    assert [b.start for b in bars(48, 4, [(0, 3, 4)])] == [0, 12, 24, 36]
    assert {b.signature for b in bars(48, 4, [(0, 3, 4)])} == {"3/4"}
    assert [b.steps for b in bars(36, 4, [(0, 9, 8)])] == [18, 18]
    assert [b.start for b in bars(24, 4, [(0, 6, 8)])] == [0, 12]
    # 2 bars of 4/4, then 3/4: the change at tick 3840 (step 32)
    change = bars(68, 4, [(0, 4, 4), (2 * 4 * TPB, 3, 4)])
    assert [(b.start, b.signature) for b in change] == [(0, "4/4"), (16, "4/4"), (32, "3/4"),
                                                          (44, "3/4"), (56, "3/4")]
    assert change[-1].end == 68
    assert bars(20, 4) == [Bar(0, 16), Bar(16, 20)]  # no signature: 4/4
    assert bars(0, 4, [(0, 3, 4)]) == []
    # 3/8 at one step per beat: 1.5 steps a bar, at the nearest steps; 1/16: one a step
    assert [b.start for b in bars(6, 1, [(0, 3, 8)])] == [0, 2, 3, 5]
    assert len(bars(5, 1, [(0, 1, 16)])) == 5
    # several events on one tick: the last wins; a bad one is ignored
    assert bars(24, 4, [(0, 4, 4), (0, 3, 4), (0, 0, 4)])[0].signature == "3/4"
    assert shifted(change[2:], -32)[0] == Bar(0, 12, 3, 4)


def test_the_score_is_engraved_in_the_files_metre(tmp_path):
    from music21 import meter, tie

    path, notes = _file(tmp_path, "waltz.mid", [(3, 4)], [4])
    from musicgen_lib.data import notes_to_roll

    roll = notes_to_roll(notes)
    onsets = notes_to_roll(notes, semantics="onset", n_steps=len(roll))  # a chord a bar
    score = roll_to_score(roll, ScoreConfig(key=None), onsets, bars=note_bars(notes, len(roll)))
    part = score.parts[0]
    assert len(part.getElementsByClass("Measure")) == 4
    assert [ts.ratioString for ts in part.recurse().getElementsByClass(meter.TimeSignature)] == ["3/4"]
    ties = [n for n in part.recurse().notes if n.tie is not None]
    assert not ties  # a dotted half fills each bar: nothing is tied across bar lines
    # read as 4/4 (the old behaviour) the same chords are tied across bar lines
    four = roll_to_score(roll, ScoreConfig(key=None), onsets).parts[0]
    assert any(isinstance(n.tie, tie.Tie) for n in four.recurse().notes)


def test_a_change_of_metre_is_written_where_it_happens(tmp_path):
    from music21 import meter

    from musicgen_lib.data import notes_to_roll

    _, notes = _file(tmp_path, "change.mid", [(4, 4), (6, 8)], [2, 2])
    roll = notes_to_roll(notes)
    part = roll_to_score(roll, ScoreConfig(key=None), bars=note_bars(notes, len(roll))).parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert len(measures) == 4
    sigs = [(m.number, ts.ratioString) for m in measures
            for ts in m.getElementsByClass(meter.TimeSignature)]
    assert sigs == [(1, "4/4"), (3, "6/8")]
    assert [m.duration.quarterLength for m in measures] == [4, 4, 3, 3]


def test_render_counts_the_files_bars(tmp_path, capsys):
    path, _ = _file(tmp_path, "waltz.mid", [(3, 4)], [6])
    svg, png = tmp_path / "s.svg", tmp_path / "r.png"
    assert main(["render", str(path), "--score", str(svg), "--roll", str(png),
                 "--start", "2", "--bars", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{svg}: bars 2-4 (3/4)" in out
    assert f"{png}: 36 steps" in out  # three bars of 12 steps, not of 16
    assert svg.read_text().count("<svg") >= 1
    assert main(["render", str(path), "--roll", str(png), "--start", "7", "--force"]) == 2
    assert "--start 7 is past the end (6 bars)" in capsys.readouterr().err


def test_render_across_a_change_of_metre(tmp_path, capsys):
    path, _ = _file(tmp_path, "change.mid", [(4, 4), (9, 8)], [2, 2])
    png = tmp_path / "r.png"
    assert main(["render", str(path), "--roll", str(png), "--start", "2", "--bars", "2"]) == 0
    assert f"{png}: 34 steps" in capsys.readouterr().out  # 16 (4/4) + 18 (9/8)


@pytest.mark.parametrize("signature,steps", [((3, 4), 12), ((6, 8), 12), ((4, 4), 16)])
def test_sample_primes_with_a_bar_of_the_primes_metre(tmp_path, capsys, signature, steps):
    path, _ = _file(tmp_path, "prime.mid", [signature], [3])
    out = tmp_path / "out.mid"
    assert main(["sample", "--prime", str(path), "--steps", "4", "--out", str(out)]) == 0
    assert f"steps 0..{steps - 1} of {path}" in capsys.readouterr().out


def test_analyze_windows_are_the_files_bars(tmp_path, capsys):
    import json

    waltz, _ = _file(tmp_path, "waltz.mid", [(3, 4)], [8])
    # every other bar silent: in 12-step bars half are empty, in 16-step bars none is
    notes = _file(tmp_path, "x.mid", [(3, 4)], [1])[1]
    starts = [s + k * 2 * 3 * TPB for k in range(4) for s in notes.start.tolist()]
    from musicgen_lib.data import NoteList, write_midi

    sparse = NoteList.from_arrays(starts, [s + 3 * TPB for s in starts],
                                  notes.pitch.tolist() * 4, ticks_per_beat=TPB,
                                  time_signatures=[(0, 3, 4)])
    write_midi(sparse, tmp_path / "sparse.mid")
    assert main(["analyze", str(tmp_path / "sparse.mid"), "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)["files"]
    assert r["bar_steps"] == 12 and r["empty_bar_rate"] == pytest.approx(3 / 7)
    assert main(["analyze", str(waltz), "--json", "--window", "24"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["bar_steps"] == 12


def test_a_prime_shorter_than_a_bar_reports_the_steps_it_has(tmp_path, capsys):
    from musicgen_lib.data import NoteList, write_midi

    short = tmp_path / "short.mid"  # two beats of a 4/4 bar: 8 steps
    write_midi(NoteList.from_arrays([0, 480], [480, 960], [60, 64], time_signatures=[(0, 4, 4)]),
               short)
    out = tmp_path / "out.mid"
    assert main(["sample", "--prime", str(short), "--steps", "4", "--out", str(out)]) == 0
    assert f"steps 0..7 of {short}" in capsys.readouterr().out
