"""Mutations of MIDI files, to check that the loader fails cleanly on bad input (issue 8).

Each mutation is a function ``(data, rng) -> bytes`` of a file's bytes and a
:class:`random.Random`. Byte-level ones (truncation, flipped bits, spliced or
inserted runs, wrong chunk lengths, non-MIDI bytes) work on any input;
structure-aware ones parse the chunks and events leniently, change them (absurd
tick divisions and tempos, notes off the keyboard, deltas of 10**9 ticks, chords
held for ``MAX_QUARTERS``, thousands of tracks, lost note-offs, overlong meta
events) and write the file back with consistent chunk lengths, so that the change
reaches the parser instead of being caught by the header check. When a file is
too damaged to parse, a structure-aware mutation flips bits instead.

:func:`mutant` draws a whole mutant from a seed; :func:`load` runs the loader on a
file as :func:`~musicgen_lib.data.load_dataset` does and returns the outcome
(``scripts/fuzz_midi.py`` and ``tests/test_fuzz.py`` use both). The lenient chunk and
event reader and writer the mutations build on is :mod:`midi_chunks` (its functions are
also reachable from here, e.g. ``midi_fuzz.join_track``).

A test tool, not part of the package: it lives in ``tests/`` (on ``sys.path`` under
pytest; the scripts put it there themselves).
"""
from __future__ import annotations

import random
import re
import struct
import zlib

from musicgen_lib.data.filters import rejection_reason
from musicgen_lib.data.midi import MAX_QUARTERS, read_midi
from musicgen_lib.data.pianoroll import notes_to_roll
from musicgen_lib.errors import MidiError

from midi_chunks import (join_file, join_track, parse_track, split_file,  # noqa: F401
                         ticks_per_quarter, vlq)

#: Size cap of the copies :func:`many_tracks` adds (the tests lower it, for speed).
MANY_TRACKS_BYTES = 4_000_000

# ---------------------------------------------------------------- byte-level mutations

def truncate(data, rng):
    """The file cut at a random byte."""
    return data[:rng.randrange(len(data))] if data else data


def flip_bits(data, rng):
    """One to eight random bits flipped."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 8) if b else 0):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def random_run(data, rng):
    """Overwrite, insert or delete a run of up to 16 bytes."""
    i, n = rng.randrange(len(data) + 1), rng.randint(1, 16)
    run = bytes(rng.randrange(256) for _ in range(n))
    how = rng.choice(["overwrite", "insert", "delete"])
    return data[:i] + (b"" if how == "delete" else run) + data[i + (0 if how == "insert" else n):]


def splice(data, rng):
    """A random stretch of the file cut out, or repeated."""
    a, b = sorted(rng.randrange(len(data) + 1) for _ in range(2))
    return data[:a] + data[b:] if rng.random() < 0.5 else data[:b] + data[a:]


def trailing_garbage(data, rng):
    """Random bytes after the last chunk."""
    return data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))


def chunk_length(data, rng):
    """Write a wrong length into a chunk header (the header's own included)."""
    heads, pos = [], 0
    while pos + 8 <= len(data):
        heads.append(pos)
        pos += 8 + struct.unpack(">I", data[pos + 4:pos + 8])[0]
    if not heads:
        return flip_bits(data, rng)
    p = rng.choice(heads)
    old = struct.unpack(">I", data[p + 4:p + 8])[0]
    new = rng.choice([0, 1, 5, max(old - 1, 0), old + 1, old * 2, 2 ** 31, 2 ** 32 - 1,
                      rng.randrange(2 ** 32)])
    new = min(new, 2 ** 32 - 1)  # a length field holds 32 bits (old + 1 and old * 2 may not fit)
    return data[:p + 4] + struct.pack(">I", new) + data[p + 8:]


def zero_length(data, rng):
    """An empty file."""
    return b""


def not_midi(data, rng):
    """Bytes that are not a MIDI file, as they might turn up under a ``.mid`` name."""
    return rng.choice([
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096))),
        lambda: b"<html><body>404 Not Found</body></html>\n",
        lambda: b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(20),
        lambda: b"\x89PNG\r\n\x1a\n" + bytes(32),
        lambda: b"MThd",
        lambda: data[::-1],
        lambda: zlib.compress(data),
        lambda: data[1:],
        lambda: b"MThd" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))),
    ])()


# ---------------------------------------------------------------- structure-aware mutations

def _structured(edit):
    """A mutation that edits ``(header, chunks)`` in place; flips bits if the file won't split."""
    def mutation(data, rng):
        parts = split_file(data)
        if parts is None:
            return flip_bits(data, rng)
        header, chunks, tail = parts
        header = bytearray(header)
        edit(header, chunks, rng)
        return join_file(bytes(header), chunks, tail)
    mutation.__name__ = edit.__name__
    mutation.__doc__ = edit.__doc__
    return mutation


def _tracks(chunks):
    """``(chunk, events)`` of every track chunk that parses."""
    out = [(c, parse_track(c[1])) for c in chunks if c[0] == b"MTrk"]
    return [(c, ev) for c, ev in out if ev is not None]


def _edit_events(chunks, rng, pick, change, fraction=None):
    """Apply ``change(event, rng)`` to the events ``pick`` selects, in one or all tracks."""
    tracks = _tracks(chunks)
    if not tracks:
        return False
    chosen = tracks if rng.random() < 0.5 else [rng.choice(tracks)]
    frac = fraction if fraction is not None else rng.choice([0.01, 0.2, 1.0])
    hit = False
    for chunk, events in chosen:
        for ev in events:
            if pick(ev) and rng.random() < frac:
                change(ev, rng)
                hit = True
        chunk[1] = join_track(events)
    return hit


def _add_track(header, chunks, events):
    fmt, ntracks = struct.unpack(">HH", header[0:4])
    header[0:4] = struct.pack(">HH", 1 if fmt == 0 else fmt, min(ntracks + 1, 0xFFFF))
    chunks.append([b"MTrk", join_track(events + [[0, b"\xff\x2f\x00"]])])


@_structured
def division(header, chunks, rng):
    """Absurd ticks per quarter note (or SMPTE time)."""
    header[4:6] = struct.pack(">H", rng.choice([0, 1, 2, 3, 7, 24, 0x7FFF, 0xE728,
                                                0x8000 | rng.randrange(0x8000),
                                                rng.randrange(0x10000)]))


@_structured
def header_fields(header, chunks, rng):
    """Unknown formats and wrong track counts."""
    i = rng.choice([0, 2])
    value = rng.choice([0, 1, 2, 3, 0xFFFF, len(chunks) + 1, rng.randrange(0x10000)])
    header[i:i + 2] = struct.pack(">H", value)


@_structured
def tempo(header, chunks, rng):
    """Tempos of 0, 1 or 2**24-1 µs per quarter, or tempo events of the wrong length."""
    value = rng.choice([b"\x03\x00\x00\x00", b"\x03\x00\x00\x01", b"\x03\xff\xff\xff",
                        b"\x00", b"\x01\x07", b"\x05\x07\xa1\x20\x00\x00"])
    if not _edit_events(chunks, rng, lambda ev: ev[1][:2] == b"\xff\x51",
                        lambda ev, r: ev.__setitem__(1, b"\xff\x51" + value)):
        for chunk, events in _tracks(chunks)[:1]:
            chunk[1] = join_track([[0, b"\xff\x51" + value]] + events)


@_structured
def pitch(header, chunks, rng):
    """Notes off the 88 keys (MIDI 0..20, 109..127) or pitch bytes >= 128."""
    bad = list(range(0, 21)) + list(range(109, 128)) + [128, 200, 255]
    _edit_events(chunks, rng, lambda ev: 0x80 <= ev[1][0] < 0xB0 and len(ev[1]) == 3,
                 lambda ev, r: ev.__setitem__(1, ev[1][:1] + bytes([r.choice(bad)]) + ev[1][2:]))


@_structured
def velocity(header, chunks, rng):
    """Velocities of 0 (a note-on becomes a note-off), 127, or bytes >= 128."""
    _edit_events(chunks, rng, lambda ev: 0x80 <= ev[1][0] < 0xA0 and len(ev[1]) == 3,
                 lambda ev, r: ev.__setitem__(1, ev[1][:2] + bytes([r.choice([0, 127, 128, 255])])))


@_structured
def huge_delta(header, chunks, rng):
    """Deltas of 2**28-1, MAX_QUARTERS quarters, 10**9 or 2**40 ticks."""
    tpq = ticks_per_quarter(header)
    deltas = [2 ** 28 - 1, MAX_QUARTERS * tpq, MAX_QUARTERS * tpq + 1, 10 ** 9, 2 ** 40]
    tracks = [t for t in _tracks(chunks) if t[1]]
    for _ in range(rng.choice([1, 1, 3]) if tracks else 0):
        chunk, events = rng.choice(tracks)
        rng.choice(events)[0] = rng.choice(deltas)
        chunk[1] = join_track(events)


@_structured
def long_note(header, chunks, rng):
    """A new track holding one note for hours: its note-off at tick 10**9 or near the limit."""
    tpq = ticks_per_quarter(header)
    d = rng.choice([10 ** 9, 2 ** 28 - 1, MAX_QUARTERS * tpq + 1, MAX_QUARTERS * tpq,
                    (MAX_QUARTERS - 1) * tpq])
    p = rng.randrange(128)
    _add_track(header, chunks, [[0, bytes([0x90, p, 64])], [d, bytes([0x80, p, 0])]])


@_structured
def long_chord(header, chunks, rng):
    """New tracks, each a chord of up to 128 pitches on up to 16 channels, held for just
    under ``MAX_QUARTERS`` quarter notes: the largest piano roll the loader accepts."""
    tpq = ticks_per_quarter(header)
    d = rng.choice([MAX_QUARTERS - 1, MAX_QUARTERS // 2, MAX_QUARTERS // 10]) * tpq
    pitches = rng.choice([range(60, 72), range(21, 109), range(128)])
    channels = range(rng.choice([1, 1, 2, 16]))
    for _ in range(rng.choice([1, 1, 2, 10])):
        on = [[0, bytes([0x90 | c, p, 64])] for c in channels for p in pitches]
        off = [[d if i == 0 else 0, bytes([0x80 | c, p, 0])]
               for i, (c, p) in enumerate((c, p) for c in channels for p in pitches)]
        _add_track(header, chunks, on + off)


@_structured
def many_tracks(header, chunks, rng):
    """A track copied up to 60 000 times (at most ``MANY_TRACKS_BYTES`` in all)."""
    tracks = [c for c in chunks if c[0] == b"MTrk"]
    if not tracks:
        return
    t = rng.choice(tracks)
    n = min(rng.choice([10, 100, 1000, 60000]), MANY_TRACKS_BYTES // (len(t[1]) + 8))
    chunks.extend([b"MTrk", t[1]] for _ in range(n))
    fmt, ntracks = struct.unpack(">HH", header[0:4])
    header[0:4] = struct.pack(">HH", 1 if fmt == 0 else fmt, min(ntracks + n, 0xFFFF))


@_structured
def lost_note_offs(header, chunks, rng):
    """Note-offs removed (timing kept), so notes never end."""
    for chunk, events in _tracks(chunks):
        kept, carry = [], 0
        for d, e in events:
            if (e[0] & 0xF0 == 0x80 or (e[0] & 0xF0 == 0x90 and e[2:3] == b"\x00")) \
                    and rng.random() < 0.9:
                carry += d
            else:
                kept.append([d + carry, e])
                carry = 0
        chunk[1] = join_track(kept)


@_structured
def end_of_track(header, chunks, rng):
    """End-of-track events removed, or one put first."""
    for chunk, events in _tracks(chunks):
        events = [ev for ev in events if ev[1][:2] != b"\xff\x2f"]
        if rng.random() < 0.3:
            events.insert(0, [0, b"\xff\x2f\x00"])
        chunk[1] = join_track(events)


@_structured
def overlong_event(header, chunks, rng):
    """A meta or sysex event whose length runs past the end of its track."""
    tracks = _tracks(chunks)
    if not tracks:
        return
    chunk, events = rng.choice(tracks)
    n = rng.choice([50, 2 ** 16, 2 ** 28 - 1, 2 ** 35])
    ev = rng.choice([b"\xff\x01", b"\xff\x51", b"\xff\x58", b"\xf0", b"\xf7"]) + vlq(n) + b"ab"
    events.insert(rng.randrange(len(events) + 1), [0, ev])
    chunk[1] = join_track(events)


@_structured
def extra_chunk(header, chunks, rng):
    """An unknown chunk (allowed by the standard), or a second header, among the tracks."""
    tag = rng.choice([b"XFIH", b"MThd", bytes(rng.randrange(256) for _ in range(4))])
    body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 6, 100])))
    chunks.insert(rng.randrange(len(chunks) + 1), [tag, body])


#: Every mutation by name; structure-aware ones first (they need an intact file).
MUTATIONS = {f.__name__: f for f in [
    division, header_fields, tempo, pitch, velocity, huge_delta, long_note, long_chord,
    many_tracks, lost_note_offs, end_of_track, overlong_event, extra_chunk,
    truncate, flip_bits, random_run, splice, trailing_garbage, chunk_length,
    zero_length, not_midi]}
STRUCTURED = ("division", "header_fields", "tempo", "pitch", "velocity", "huge_delta",
              "long_note", "long_chord", "many_tracks", "lost_note_offs", "end_of_track",
              "overlong_event", "extra_chunk")
ALONE = ("zero_length", "not_midi")  # these replace the whole file: never stacked


def mutant(data: bytes, seed) -> tuple[bytes, list]:
    """A mutant of ``data`` drawn from ``seed``: 1 to 3 mutations (structure-aware ones first).
    Returns ``(bytes, names)``; the same seed always gives the same mutant."""
    rng = random.Random(seed)
    names = rng.sample(sorted(MUTATIONS), rng.choice([1, 1, 2, 3]))
    if any(n in ALONE for n in names):
        names = [next(n for n in names if n in ALONE)]
    names.sort(key=lambda n: n not in STRUCTURED)
    for n in names:
        data = MUTATIONS[n](data, rng)
    return data, names


# ---------------------------------------------------------------- the loader under test

def load(path, steps_per_beat: int = 4) -> tuple[str, str]:
    """Run the loader on ``path`` as ``load_dataset`` does (read, thesis filters, both piano
    rolls). Returns ``("ok", "")``, ``("filtered", reason)`` or ``("MidiError", problem)``;
    any other exception propagates (that is a loader bug)."""
    try:
        notes = read_midi(path)
    except MidiError as e:
        if "\n" in str(e):
            raise AssertionError(f"MidiError message spans lines: {str(e)!r}") from None
        return "MidiError", e.problem
    roll, vel = notes_to_roll(notes, steps_per_beat, "sounding", velocity=True)
    onset = notes_to_roll(notes, steps_per_beat, "onset")
    limit = MAX_QUARTERS * steps_per_beat
    if not (roll.shape[1:] == onset.shape[1:] == (88,) and len(roll) <= limit
            and len(onset) <= limit and vel.shape == roll.shape):
        raise AssertionError(f"piano roll of shape {roll.shape} (limit {limit} steps)")
    reason = rejection_reason(notes)
    return ("filtered", reason) if reason else ("ok", "")


def reason_key(problem: str) -> str:
    """A problem with its numbers stripped (and lists of time signatures shortened), to count
    problems by kind."""
    return re.sub(r"#/#(, #/#)+", "#/#, ...", re.sub(r"0x[0-9a-fA-F]+|\d+", "#", problem))
