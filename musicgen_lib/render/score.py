"""Engraved scores: music21 stream -> MusicXML -> SVG with verovio (notebook
01_representations), piano rolls -> two-staff piano scores (notebook
09_harmony_analysis), and labelled SATB voices -> four staves (notebook 04b_voices).

verovio is seeded (``xmlIdSeed``) so the SVG is byte-identical across runs, which lets
strict nbval compare it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


def score_svg(stream, width: int = 2000, scale: int = 40, page: int | None = 1) -> str:
    """Engrave a music21 stream (a score, part or measure range) as one SVG page
    (``page=None``: every page, stacked into one SVG).

    Notebook: 01_representations."""
    import verovio
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    xml = GeneralObjectExporter(stream).parse().decode("utf-8")
    xml = re.sub(r"<encoding-date>[^<]*</encoding-date>", "", xml)  # today's date: unstable
    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.setOptions({"xmlIdSeed": 1, "pageWidth": width, "scale": scale, "adjustPageHeight": True,
                   "footer": "none", "header": "none", "breaks": "auto"})
    if not tk.loadData(xml):
        raise ValueError("verovio could not read the MusicXML exported by music21")
    if page is not None:
        return tk.renderToSVG(page)
    return _stack_pages([tk.renderToSVG(p) for p in range(1, tk.getPageCount() + 1)])


def _stack_pages(pages: list) -> str:
    """Several verovio SVG pages as one SVG, one under the other."""
    if len(pages) == 1:
        return pages[0]
    sizes = [re.search(r'<svg[^>]*?width="([\d.]+)px" height="([\d.]+)px"', p) for p in pages]
    w = max(float(m.group(1)) for m in sizes)
    y, body = 0.0, []
    for p, m in zip(pages, sizes):
        inner = re.sub(r"^<\?xml[^>]*>\s*", "", p)
        body.append(f'<g transform="translate(0,{y:g})">{inner}</g>')
        y += float(m.group(2))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{w:g}px" height="{y:g}px" viewBox="0 0 {w:g} {y:g}">{"".join(body)}</svg>')


# ---------------------------------------------------------------- piano roll -> score
# (notebooks 09_harmony_analysis, and the sample scores of the model chapters)

#: Note lengths (in steps of a 16th note) that engrave as one plain or dotted note; other
#: lengths are tied from these, largest first.
_PLAIN_LENGTHS = (16, 12, 8, 6, 4, 3, 2, 1)
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B")


@dataclass(frozen=True)
class ScoreConfig:
    """How a roll is engraved. ``split``: MIDI pitch from which notes go to the treble
    staff (60 = middle C); ``"auto"`` picks, per bar, the split between 55 and 65 that
    leaves the fewest notes far from either staff. ``key``: a key number (see
    :mod:`musicgen_lib.analysis.harmony`), ``None`` for no key signature, or ``"auto"`` for
    the roll's Krumhansl–Schmuckler key.

    Notebook: 03_rnn_rbm, 04a_melody, 04b_voices, 04c_events_and_notes, 04d_melody_vae, 04e_musegan,
    08_training_and_samples, 09_harmony_analysis."""

    steps_per_beat: int = 4
    beats_per_bar: int = 4
    split: object = 60
    key: object = "auto"
    title: str | None = None


def _spelling(k) -> tuple:
    """Name of each pitch class under key ``k``: the scale's own spelling, other classes
    with sharps in sharp keys and flats in flat keys."""
    from ..analysis.harmony import music21_key

    if k is None or k < 0:
        return _SHARP_NAMES
    m21 = music21_key(int(k))
    names = list(_SHARP_NAMES if m21.sharps >= 0 else _FLAT_NAMES)
    for p in m21.getScale(m21.mode).getPitches()[:7]:
        names[p.pitchClass] = p.name
    return tuple(names)


def _pitch(midi: int, names: tuple):
    from music21 import pitch

    p = pitch.Pitch(names[midi % 12])
    p.octave = 4
    p.octave += (midi - p.midi) // 12
    return p


def _split_lengths(n: int) -> list:
    out = []
    while n > 0:
        step = next(x for x in _PLAIN_LENGTHS if x <= n)
        out.append(step)
        n -= step
    return out


def _auto_split(roll: np.ndarray, spans: list) -> np.ndarray:
    """``(T,)`` split pitch per step, chosen per bar (``spans``: (start, end) steps) in
    55..65 to need the fewest ledger lines (semitones below D4 on the treble staff, above B3
    on the bass staff)."""
    T = len(roll)
    out = np.full(T, 60)
    pitches = np.arange(roll.shape[1]) + 21
    for b, e in spans:
        on = pitches[roll[b:e].any(axis=0)]
        if not len(on):
            continue
        costs = []
        for s in range(55, 66):  # ledger-line steps below the treble / above the bass staff
            hi, lo = on[on >= s], on[on < s]
            costs.append(np.maximum(62 - hi, 0).sum() + np.maximum(lo - 59, 0).sum()
                         + abs(s - 60) * 0.1)
        out[b:e] = 55 + int(np.argmin(costs))
    return out


def _measures(T: int, config: ScoreConfig, bars) -> list:
    """(start, end, time signature or None) of every measure: the given bars (a piece's
    metre, :func:`musicgen_lib.data.metre.bars`; a short last bar is filled with rests to
    its full length), else bars of ``config.beats_per_bar`` quarter notes. The time
    signature is written where it changes."""
    spb = config.steps_per_beat
    if bars is None:
        bar = spb * config.beats_per_bar
        n = max(1, -(-T // bar))
        sig = f"{config.beats_per_bar}/4"
        return [(b * bar, (b + 1) * bar, sig if b == 0 else None) for b in range(n)]
    out, last = [], None
    for i, b in enumerate(bars):
        end = b.end if i + 1 < len(bars) else max(b.end, b.start + b.nominal_steps(spb))
        out.append((b.start, end, b.signature if b.signature != last else None))
        last = b.signature
    return out or [(0, max(T, 1), "4/4")]


def _measure(b: int, signature, the_clef, k):
    """Measure number b+1 of a staff: the clef and key signature (``k``: a key index, or None
    or -1 for none) open the first, a time signature where the metre changes."""
    from music21 import key as m21key, meter, stream

    from ..analysis.harmony import music21_key

    m = stream.Measure(number=b + 1)
    if b == 0:
        m.append(the_clef)
        if k is not None and k >= 0:
            m.append(m21key.KeySignature(music21_key(int(k)).sharps))
    if signature is not None:
        m.append(meter.TimeSignature(signature))
    return m


def roll_to_score(roll, config: ScoreConfig = ScoreConfig(), onsets=None, bars=None):
    """A ``(T, 88)`` sounding roll as a two-staff piano score (music21 ``Score``).

    Each staff is one chordal voice: a new chord starts wherever a note of that staff starts
    or stops (``onsets``, the matching onset roll, separates repeated notes; default: the
    starts of runs). Held notes are tied across chords and bar lines; lengths that are no
    plain or dotted note are tied from plain ones. Pitches are spelled in the key.
    ``bars``: the roll's bars (:class:`~musicgen_lib.data.metre.Bar` s from step 0, e.g. a
    MIDI file's metre); default ``config.beats_per_bar`` quarter notes a bar.
    """
    from music21 import chord, clef, layout, metadata, note, stream, tie

    from ..analysis.harmony import global_key, onsets_of

    roll = np.asarray(roll).astype(bool)
    T = len(roll)
    onsets = onsets_of(roll) if onsets is None else np.asarray(onsets).astype(bool)[:T] & roll
    k = global_key(roll) if config.key == "auto" else config.key
    names = _spelling(k)
    spb = config.steps_per_beat
    measures = _measures(T, config, bars)
    split = (_auto_split(roll, [(a, b) for a, b, _ in measures]) if config.split == "auto"
             else np.full(T, int(config.split)))
    pitches = np.arange(roll.shape[1]) + 21
    upper = pitches[None, :] >= split[:, None]                      # (T, 88)

    score = stream.Score()
    if config.title:
        score.insert(0, metadata.Metadata(title=config.title))
    staves = []
    for name, staff_mask, the_clef in (("RH", upper, clef.TrebleClef()),
                                       ("LH", ~upper, clef.BassClef())):
        part = stream.PartStaff(id=name)
        sounding = np.zeros((max(T, measures[-1][1]), roll.shape[1]), bool)
        struck = np.zeros_like(sounding)
        sounding[:T] = roll & staff_mask
        struck[:T] = onsets & staff_mask
        prev = np.zeros(roll.shape[1], bool)
        for b, (start, end, signature) in enumerate(measures):
            m = _measure(b, signature, the_clef, k)
            t = start
            while t < end:
                cur = sounding[t]
                u = t + 1  # the chord lasts until something in this staff changes
                while (u < end and (sounding[u] == cur).all()
                       and not (struck[u] & cur).any()):
                    u += 1
                keys = np.flatnonzero(cur)
                cont_in = cur & prev & ~struck[t]                    # tied from before
                cont_out = cur & sounding[u] & ~struck[u] if u < len(sounding) else np.zeros_like(cur)
                parts = _split_lengths(u - t)
                for j, length in enumerate(parts):
                    ql = length / spb
                    if not len(keys):
                        el = note.Rest(quarterLength=ql)
                    else:
                        ps = [_pitch(int(pitches[i]), names) for i in keys]
                        el = (note.Note(ps[0], quarterLength=ql) if len(ps) == 1
                              else chord.Chord(ps, quarterLength=ql))
                        for i, p in zip(keys, ps):
                            starts = j > 0 or cont_in[i]
                            goes_on = j < len(parts) - 1 or cont_out[i]
                            kind = ("continue" if starts and goes_on else "stop" if starts
                                    else "start" if goes_on else None)
                            if kind is None:
                                continue
                            if isinstance(el, chord.Chord):
                                el.setTie(tie.Tie(kind), p)
                            else:
                                el.tie = tie.Tie(kind)
                    m.append(el)
                prev = cur
                t = u
            part.append(m)
        staves.append(part)
        score.insert(0, part)
    score.insert(0, layout.StaffGroup(staves, symbol="brace", barTogether=True))
    return score


def roll_score_svg(roll, config: ScoreConfig = ScoreConfig(), onsets=None, width: int = 2000,
                   scale: int = 40, bars=None) -> str:
    """Engrave a roll (:func:`roll_to_score`, in ``bars`` when given) as SVG; all pages
    stacked in one SVG.

    Notebook: 03_rnn_rbm, 04a_melody, 04c_events_and_notes, 04d_melody_vae, 04e_musegan,
    08_training_and_samples, 09_harmony_analysis."""
    return score_svg(roll_to_score(roll, config, onsets, bars), width=width, scale=scale, page=None)


# ---------------------------------------------------------------- labelled voices -> score
# (notebook 04b_voices)

def satb_to_score(satb, config: ScoreConfig = ScoreConfig()):
    """``(T, 4)`` MIDI pitches of soprano, alto, tenor, bass (-1: silent) as a score of four
    staves (treble, treble, treble 8vb, bass). The data has no onsets, so a run of one pitch
    is one note (a repeated note merges with the one before); notes are tied across bar lines.
    ``config``: steps_per_beat, beats_per_bar, key, title (split is unused).

    Notebook: 04b_voices."""
    from music21 import clef, layout, metadata, note, stream, tie

    from ..analysis.harmony import global_key
    from ..data.satb import to_roll

    a = np.asarray(satb, dtype=np.int64)
    k = global_key(to_roll(a).astype(bool)) if config.key == "auto" else config.key
    names, spb = _spelling(k), config.steps_per_beat
    measures = _measures(len(a), config, None)
    line = np.full((measures[-1][1], 4), -1)
    line[:len(a)] = a
    score, parts = stream.Score(), []
    if config.title:
        score.insert(0, metadata.Metadata(title=config.title))
    clefs = (clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef)
    for v, (name, the_clef) in enumerate(zip(("Soprano", "Alto", "Tenor", "Bass"), clefs)):
        part, x = stream.Part(id=name), line[:, v]
        part.partName = name
        for b, (start, end, signature) in enumerate(measures):
            m = _measure(b, signature, the_clef(), k)
            t = start
            while t < end:
                u = t + 1
                while u < end and x[u] == x[t]:
                    u += 1
                tied_in = x[t] >= 0 and t == start and t > 0 and x[t - 1] == x[t]
                tied_out = x[t] >= 0 and u == end and u < len(x) and x[u] == x[t]
                lengths = _split_lengths(u - t)
                for j, length in enumerate(lengths):
                    if x[t] < 0:
                        m.append(note.Rest(quarterLength=length / spb))
                        continue
                    el = note.Note(_pitch(int(x[t]), names), quarterLength=length / spb)
                    starts, goes_on = j > 0 or tied_in, j < len(lengths) - 1 or tied_out
                    if starts or goes_on:
                        el.tie = tie.Tie("continue" if starts and goes_on
                                         else "stop" if starts else "start")
                    m.append(el)
                t = u
            part.append(m)
        score.insert(0, part)
        parts.append(part)
    score.insert(0, layout.StaffGroup(parts, symbol="bracket", barTogether=True))
    return score


def satb_score_svg(satb, config: ScoreConfig = ScoreConfig(), width: int = 2000,
                   scale: int = 40) -> str:
    """Engrave four labelled voices (:func:`satb_to_score`) as one SVG, pages stacked.

    Notebook: 04b_voices."""
    return score_svg(satb_to_score(satb, config), width=width, scale=scale, page=None)
