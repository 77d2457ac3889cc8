"""Statistics of four labelled voices (soprano, alto, tenor, bass), as pure functions of
``(T, 4)`` MIDI pitch arrays (-1: silent), and the count of voice labellings behind a set of
keys (thesis §5.2's argument for labelled data).

Notebook: 04b_voices.

At 16th-note steps with no onsets (``Jsb16thSeparated.json``), a held note and a repeated one
look alike: motion is a change of pitch between consecutive steps.
"""
from __future__ import annotations

from math import comb

import numpy as np

from ..data.satb import VOICES


def voice_ranges(satb) -> dict:
    """{voice: (lowest, highest) sounding pitch} (None for a voice that never sounds).

    Notebook: 04b_voices."""
    a = np.asarray(satb).reshape(-1, 4)
    out = {}
    for v, name in enumerate(VOICES):
        p = a[a[:, v] >= 0, v]
        out[name] = (int(p.min()), int(p.max())) if len(p) else None
    return out


def crossing_share(satb) -> float:
    """Share of the steps with at least two sounding voices where a lower voice sounds above a
    higher one (S >= A >= T >= B broken among the sounding voices; unisons are no crossing).

    Notebook: 04b_voices."""
    a = np.asarray(satb).reshape(-1, 4).astype(float)
    a[a < 0] = np.nan
    crossed, counted = 0, 0
    for row in a:
        p = row[~np.isnan(row)]
        if len(p) < 2:
            continue
        counted += 1
        crossed += bool((np.diff(p) > 0).any())
    return crossed / counted if counted else float("nan")


def parallel_rate(satb) -> dict:
    """Parallel fifths and octaves between consecutive steps: for every pair of voices that
    both sound at t and t+1 and both change pitch ("pairs", the moves counted), a parallel
    fifth (octave) is the same interval modulo 12, 7 (0: unisons and compound octaves
    included), at both steps, the voices moving the same way. Returns {"pairs", "fifths",
    "octaves", "rate"}: rate = (fifths + octaves) / pairs.

    Notebook: 04b_voices."""
    a = np.asarray(satb).reshape(-1, 4).astype(np.int64)
    x, y = a[:-1], a[1:]
    moves = (x >= 0) & (y >= 0) & (x != y)                  # (T-1, 4) voice v moves
    pairs = fifths = octaves = 0
    for i in range(4):
        for j in range(i + 1, 4):
            both = moves[:, i] & moves[:, j]
            same_way = np.sign(y[:, i] - x[:, i]) == np.sign(y[:, j] - x[:, j])
            before, after = (x[:, i] - x[:, j]) % 12, (y[:, i] - y[:, j]) % 12
            par = both & same_way & (before == after)
            pairs += int(both.sum())
            fifths += int((par & (before == 7)).sum())
            octaves += int((par & (before == 0)).sum())
    return {"pairs": pairs, "fifths": fifths, "octaves": octaves,
            "rate": (fifths + octaves) / pairs if pairs else float("nan")}


def labellings(keys: int, voices: int = 4, silent: bool = False) -> int:
    """The number of ways ``voices`` labelled voices can produce one set of ``keys`` sounding
    keys: maps from the voices onto the keys that cover every key (``silent``: a voice may
    also be silent). Inclusion-exclusion: sum_j (-1)^j C(k, j) (k + s - j)^voices.

    Notebook: 04b_voices."""
    s = int(silent)
    return sum((-1) ** j * comb(keys, j) * (keys + s - j) ** voices for j in range(keys + 1))


def distinct_keys(satb) -> np.ndarray:
    """(T,) the number of distinct sounding keys at each step.

    Notebook: 04b_voices."""
    a = np.asarray(satb).reshape(-1, 4)
    s = np.sort(a, axis=1)
    new = np.concatenate([s[:, :1] >= 0, (s[:, 1:] != s[:, :-1]) & (s[:, 1:] >= 0)], 1)
    return new.sum(1)


__all__ = ["VOICES", "voice_ranges", "crossing_share", "parallel_rate", "labellings",
           "distinct_keys"]
