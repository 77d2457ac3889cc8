"""Melodies as one token per 16th-note step (thesis §5.1; dataset ``chorale-melodies``).

Explained in notebooks/04a_melody.ipynb.

The tokens are those of Magenta's melody models (``MelodyOneHotEncoding``): at each step a
melody either holds what it did (``HOLD`` = 0: the note sounds on, or the rest goes on),
stops (``REST`` = 1: a note-off), or strikes a pitch (``2 + pitch - LOWEST``, MIDI pitches
``LOWEST .. HIGHEST``). So a held note and a repeated one differ, unlike in a sounding roll.

The melody of a chorale is its top line: at every step the highest note sounding (the
"skyline"), struck where that note starts or where the top line moves to another note. In
the music21 chorales this is the soprano except where a lower voice crosses above it (chapter
4b counts 2 % of such steps in the JSB chorales).
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .midi import NoteList
from .pianoroll import notes_to_roll

HOLD, REST = 0, 1
#: The pitch range of the tokens (MIDI): wide enough for every soprano line of the chorales.
LOWEST, HIGHEST = 53, 88
#: Number of token classes: hold, rest and one per pitch.
N_TOKENS = 2 + HIGHEST - LOWEST + 1


def melody_tokens(notes: NoteList, steps_per_beat: int = 4) -> np.ndarray:
    """The top line of ``notes`` as ``(T,)`` int64 tokens on a grid of ``steps_per_beat``
    steps per beat (see the module docstring); a top pitch outside ``LOWEST .. HIGHEST`` is a
    :class:`DataError`.

    Notebook: 04a_melody."""
    sounding = notes_to_roll(notes, steps_per_beat).astype(bool)             # (T, 88)
    onsets = notes_to_roll(notes, steps_per_beat, "onset").astype(bool)
    T = len(sounding)
    top = np.where(sounding.any(1), 87 - np.argmax(sounding[:, ::-1], 1), -1)  # key index or -1
    struck = np.zeros(T, bool)
    struck[0] = top[0] >= 0
    struck[1:] = (top[1:] >= 0) & (top[1:] != top[:-1])
    struck |= (top >= 0) & onsets[np.arange(T), np.maximum(top, 0)]         # re-struck top note
    pitch = top + 21
    if (struck & ((pitch < LOWEST) | (pitch > HIGHEST))).any():
        t = int(np.flatnonzero(struck & ((pitch < LOWEST) | (pitch > HIGHEST)))[0])
        raise DataError(f"top-line pitch {pitch[t]} at step {t} is outside {LOWEST}..{HIGHEST}")
    tokens = np.full(T, HOLD, np.int64)
    tokens[struck] = 2 + pitch[struck] - LOWEST
    stops = np.zeros(T, bool)
    stops[1:] = (top[1:] < 0) & (top[:-1] >= 0)
    tokens[stops] = REST
    return tokens


def tokens_to_notes(tokens, steps_per_beat: int = 4, ticks_per_beat: int = 480,
                    velocity: int = 80) -> NoteList:
    """The notes of melody tokens ``(T,)``: a pitch token starts a note that lasts until the
    next pitch or REST token (or the end). Leading HOLDs are silence.

    Notebook: 04a_melody, 04d_melody_vae, 10_discussion."""
    t = np.asarray(tokens, np.int64)
    if t.ndim != 1 or (t < 0).any() or (t >= N_TOKENS).any():
        raise DataError(f"melody tokens are a 1-D array of ids 0..{N_TOKENS - 1}")
    events = np.flatnonzero(t != HOLD)
    starts = events[t[events] >= 2]
    ends = np.append(events, len(t))[np.searchsorted(events, starts, side="right")]
    tpb = ticks_per_beat // steps_per_beat
    return NoteList.from_arrays(starts * tpb, ends * tpb, t[starts] - 2 + LOWEST,
                                np.full(len(starts), velocity, np.int64),
                                ticks_per_beat=tpb * steps_per_beat)


def transpose_tokens(x, k: int):
    """Melody tokens (torch, any shape) moved by ``k`` semitones: pitch tokens shift (kept in
    the token range), HOLD and REST stay. The training engine's transposition augmentation.

    Notebook: 04a_melody, 04d_melody_vae."""
    if k == 0:
        return x
    return x.where(x < 2, (x + k).clamp(2, N_TOKENS - 1))


def load_melodies():
    """The ``chorale-melodies`` dataset: the top line of every music21 chorale (from the
    cached ``chorale-triples``, the same pieces and splits) as 16th-note melody tokens, each a
    :class:`~musicgen_lib.data.tokens.TokenPiece` with ``roll`` ``(T, 1)`` uint8.

    Notebook: 04a_melody."""
    from .note_triples import load_triples, triples_to_notes
    from .tokens import TokenDataset, TokenPiece

    from .corpus import Skipped

    triples = load_triples()
    splits, skipped = {s: [] for s in triples.splits}, list(triples.skipped)
    for split, pieces in triples.splits.items():
        for p in pieces:
            try:
                tokens = melody_tokens(triples_to_notes(p.roll))
            except DataError as e:  # a top line off the token range: reported, not cut
                skipped.append(Skipped(p.name, str(e)))
                continue
            splits[split].append(TokenPiece(p.name, tokens.astype(np.uint8)[:, None]))
    return TokenDataset("chorale-melodies", splits, token_model="melody-lstm", unit="step",
                        skipped=skipped)


__all__ = ["HOLD", "REST", "LOWEST", "HIGHEST", "N_TOKENS", "melody_tokens", "tokens_to_notes",
           "transpose_tokens", "load_melodies"]
