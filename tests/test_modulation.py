"""analysis/modulation: what follows a wrong note, bar by bar."""
import numpy as np
import pytest

from musicgen_lib.analysis.keys import KeyConfig, key_from_name, window_keys
from musicgen_lib.analysis.modulation import bar_events, wrong_note_summary

C_MAJOR = [60, 64, 67, 72, 62, 65, 69, 71]      # C E G C, D F A B: one quarter each... of 16 steps
G_MAJOR = [67, 71, 74, 79, 69, 72, 76, 78]      # G B D G, A C E F#


def _bar(pitches, extra=()):
    """A 16-step bar striking ``pitches`` two steps each, plus ``extra`` onsets (step, pitch)."""
    roll = np.zeros((16, 88), np.uint8)
    for i, p in enumerate(pitches):
        roll[2 * i:2 * i + 2, p - 21] = 1
    onsets = np.zeros_like(roll)
    onsets[::2][np.arange(len(pitches)), [p - 21 for p in pitches]] = 1
    for t, p in extra:
        roll[t, p - 21] = onsets[t, p - 21] = 1
    return roll, onsets


def _piece(*bars):
    return tuple(np.concatenate(parts) for parts in zip(*bars))


def test_the_bars_have_the_keys_the_test_assumes():
    roll, _ = _piece(_bar(C_MAJOR), _bar(G_MAJOR))
    assert window_keys(roll).tolist() == [key_from_name("C major"), key_from_name("G major")]


def test_a_wrong_note_taken_up_kept_or_not_and_clean_bars():
    fsharp = [(1, 66)]                                                   # one F#: foreign to C major
    roll, on = _piece(_bar(C_MAJOR), _bar(C_MAJOR, fsharp), _bar(G_MAJOR))
    assert bar_events(roll, on) == [("wrong note", "took it up")]
    roll, on = _piece(_bar(C_MAJOR), _bar(C_MAJOR, fsharp), _bar(C_MAJOR))
    assert bar_events(roll, on) == [("wrong note", "kept")]
    roll, on = _piece(_bar(C_MAJOR), _bar(C_MAJOR), _bar(G_MAJOR), _bar(G_MAJOR))
    # bar 3 (G major) holds an F# against bar 2's C major: a wrong note, taken up by bar 4
    assert bar_events(roll, on) == [("clean", "elsewhere"), ("wrong note", "took it up")]
    many = [(1, 66), (3, 61), (5, 63)]                                    # F#, C#, D#: chromatic
    roll, on = _piece(_bar(C_MAJOR), _bar(C_MAJOR, many), _bar(C_MAJOR))
    assert bar_events(roll, on) == [("chromatic", "kept")]
    thrice = [(1, 66), (3, 66), (5, 78)]                                  # one class, 3 onsets
    roll, on = _piece(_bar(C_MAJOR), _bar(C_MAJOR, thrice), _bar(C_MAJOR))
    assert bar_events(roll, on, max_foreign=2) == [("chromatic", "kept")]
    assert bar_events(roll, on, max_foreign=3) == [("wrong note", "kept")]


def test_silent_bars_are_skipped_and_the_summary_counts():
    silent = (np.zeros((16, 88), np.uint8),) * 2
    roll, on = _piece(_bar(C_MAJOR), silent, _bar(C_MAJOR), _bar(C_MAJOR, [(1, 66)]), _bar(G_MAJOR))
    assert bar_events(roll, on) == [("wrong note", "took it up")]       # bars 1, 2 lack a neighbour key
    s = wrong_note_summary([(roll, on), _piece(_bar(C_MAJOR), _bar(C_MAJOR), _bar(C_MAJOR))])
    assert s["bars"] == 2 and s["wrong_share"] == 0.5
    assert s["wrong note"] == {"n": 1, "kept": 0.0, "took it up": 1.0, "elsewhere": 0.0}
    assert s["clean"]["kept"] == 1.0 and np.isnan(s["chromatic"]["kept"])


def test_bar_events_needs_plain_bars():
    roll, on = _piece(_bar(C_MAJOR), _bar(C_MAJOR), _bar(C_MAJOR))
    with pytest.raises(ValueError, match="hop = window"):
        bar_events(roll, on, KeyConfig(window=32, hop=16))
    with pytest.raises(ValueError, match="smoothing"):
        bar_events(roll, on, KeyConfig(change_penalty=0.3))
