"""The thesis' preprocessing filters (§7.1), each returning the reason a piece is
dropped or ``None`` (notebook 01_representations).

On piano-midi.de (337 files) they keep 140: 185 fail the time-signature filter and
24 the track filter (12 fail both).
"""
from __future__ import annotations

from typing import Callable, Optional

from .midi import HIGHEST_KEY, LOWEST_KEY, NoteList

#: Numerators the thesis code accepts (powers of two, 1 excluded as in the author's code).
POWER_OF_TWO_NUMERATORS = (2, 4, 8, 16)

Filter = Callable[[NoteList], Optional[str]]


def time_signature_filter(notes: NoteList) -> Optional[str]:
    """Every time signature must have a power-of-two numerator and denominator."""
    bad = sorted({f"{n}/{d}" for _, n, d in notes.time_signatures
                  if n not in POWER_OF_TWO_NUMERATORS or d & (d - 1) or d == 0})
    return f"time signature {', '.join(bad)} (numerator and denominator must be powers of two)" \
        if bad else None


def track_filter(notes: NoteList, max_tracks: int = 2) -> Optional[str]:
    """At most ``max_tracks`` tracks may carry notes (drops orchestral files)."""
    n = notes.n_tracks_with_notes
    return f"{n} tracks with notes (at most {max_tracks})" if n > max_tracks else None


def key_range_filter(notes: NoteList) -> Optional[str]:
    """Every note must lie on the 88 keys (MIDI 21..108)."""
    lo, hi = int(notes.pitch.min()), int(notes.pitch.max())
    if lo < LOWEST_KEY or hi > HIGHEST_KEY:
        return f"notes outside the 88 keys (MIDI {lo}..{hi})"
    return None


THESIS_FILTERS: tuple[Filter, ...] = (time_signature_filter, track_filter, key_range_filter)


def rejection_reason(notes: NoteList, filters=THESIS_FILTERS) -> Optional[str]:
    """All reasons the filters give, joined with '; ', or ``None`` if the piece passes."""
    reasons = [r for f in filters if (r := f(notes))]
    return "; ".join(reasons) or None
