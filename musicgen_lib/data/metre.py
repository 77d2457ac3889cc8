"""Bars that follow a piece's metre: its time-signature events, and their changes, on the
step grid of its piano roll.

A MIDI file's time signatures are ``(tick, numerator, denominator)`` events
(:attr:`~musicgen_lib.data.midi.NoteList.time_signatures`); a bar of n/d lasts n·4/d
quarter notes, so at ``steps_per_beat`` steps per quarter note it spans n·4/d·steps_per_beat
steps — 12 steps for 3/4 and 6/8 at 4 steps per beat, 18 for 9/8, 16 for 4/4. Where that is
not a whole number of steps (3/8 at one step per beat) the bars start at the nearest steps;
a bar shorter than a step (1/16 at one step per beat) counts as one step.
Music before the first event is in 4/4 (MIDI's default), and an event in mid-bar starts a
new bar there. A roll without metre (a model's sample) is read in 4/4.

Used by ``musicgen render`` (``--start``/``--bars`` count the file's bars; the score's time
signatures; the roll's bar lines), ``musicgen analyze`` (a window per bar) and ``musicgen
sample`` (the prime bar).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bar:
    """One bar on the step grid: steps ``start`` .. ``end - 1`` in ``numerator``/``denominator``."""

    start: int
    end: int
    numerator: int = 4
    denominator: int = 4

    @property
    def steps(self) -> int:
        return self.end - self.start

    @property
    def signature(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    def nominal_steps(self, steps_per_beat: int) -> int:
        """The length of a full bar of this metre, in steps (a piece's last bar may be
        shorter)."""
        return max(1, int(np.rint(self.numerator * 4 / self.denominator * steps_per_beat)))


def _signature_steps(signatures, steps_per_beat: int, ticks_per_beat: int) -> list:
    """(step, numerator, denominator) of the usable events, sorted; at a step with several
    events the last wins; 4/4 from step 0 when the first comes later (or there is none)."""
    at = {}
    for tick, num, den in signatures or ():
        if num > 0 and den > 0 and tick >= 0:
            at[int(np.rint(tick * steps_per_beat / ticks_per_beat))] = (int(num), int(den))
    out = [(step, *at[step]) for step in sorted(at)]
    if not out or out[0][0] > 0:
        out.insert(0, (0, 4, 4))
    return out


def bars(n_steps: int, steps_per_beat: int = 4, signatures=None,
         ticks_per_beat: int = 480) -> list:
    """The bars of a roll of ``n_steps`` steps as :class:`Bar` s, covering 0 .. n_steps;
    ``signatures``: ``(tick, numerator, denominator)`` events (a note list's
    ``time_signatures``, in ``ticks_per_beat``); none: 4/4.

    Notebook: 09_harmony_analysis (``musicgen render``, ``musicgen analyze``)."""
    if n_steps <= 0:
        return []
    events = _signature_steps(signatures, steps_per_beat, ticks_per_beat)
    starts = []  # (start, numerator, denominator)
    for i, (step, num, den) in enumerate(events):
        stop = min(events[i + 1][0] if i + 1 < len(events) else n_steps, n_steps)
        if stop <= step:
            continue
        length = max(1.0, num * 4 / den * steps_per_beat)  # bars shorter than a step: one a step
        k = np.arange(int(np.ceil((stop - step) / length)))
        at = np.unique(step + np.floor(k * length + 0.5).astype(np.int64))
        starts.extend((int(s), num, den) for s in at[at < stop])
    ends = [s for s, _, _ in starts[1:]] + [n_steps]
    return [Bar(s, e, num, den) for (s, num, den), e in zip(starts, ends)]


def note_bars(notes, n_steps: int, steps_per_beat: int = 4) -> list:
    """:func:`bars` of a note list's roll (its time signatures, in its ticks).

    Notebook: 09_harmony_analysis."""
    return bars(n_steps, steps_per_beat, notes.time_signatures, notes.ticks_per_beat)


def shifted(all_bars: list, offset: int) -> list:
    """The bars moved by ``offset`` steps (``-a``: counted from step ``a``, as in
    ``roll[a:]``)."""
    return [Bar(b.start + offset, b.end + offset, b.numerator, b.denominator) for b in all_bars]


__all__ = ["Bar", "bars", "note_bars", "shifted"]
