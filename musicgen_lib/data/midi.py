"""MIDI files <-> note lists in ticks (notebook 01_representations).

A :class:`NoteList` keeps what the rest of the library needs from a MIDI file:
every note's start and end in MIDI ticks, pitch, velocity and track, the ticks per
quarter note and the time signatures. Time is kept in ticks, never in seconds: the
piano-midi.de files carry hundreds of tempo events, and quantising through seconds
moves notes off the grid.

Parsing uses ``symusic`` (C++; ~1 ms per piano piece). Before a file reaches the
parser its header is checked here, so that a bad file gives one clear line
(:class:`~musicgen_lib.errors.MidiError`) instead of a parser exception.
"""
from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MidiError
from ..files import atomic_write

#: Lowest and highest MIDI pitch of the 88 piano keys (A0, C8).
LOWEST_KEY = 21
HIGHEST_KEY = 108
N_KEYS = 88

#: Files longer than this many quarter notes are refused (about 14 hours at 120 bpm):
#: a corrupt length must not make us allocate a giant piano roll.
MAX_QUARTERS = 100_000
#: Files whose notes, end to end, last longer than this many quarter notes are refused too:
#: a piano roll is built from every step of every note, so 88 keys held for ``MAX_QUARTERS``
#: (a 600-byte file) took gigabytes. The longest piano-midi.de file has about 6 000.
MAX_NOTE_QUARTERS = 1_000_000
#: Files larger than this are refused before reading (the largest piano-midi.de file is 0.1 MB).
MAX_FILE_BYTES = 64 * 2 ** 20


@dataclass
class NoteList:
    """The notes of one MIDI file, in ticks.

    Arrays all have shape ``(N,)``; notes are sorted by (start, pitch).
    ``time_signatures`` holds ``(tick, numerator, denominator)`` triples.
    """

    start: np.ndarray  # (N,) int64 ticks
    end: np.ndarray  # (N,) int64 ticks, > start
    pitch: np.ndarray  # (N,) int64 MIDI pitch 0..127
    velocity: np.ndarray  # (N,) int64 1..127
    track: np.ndarray  # (N,) int64 index of the source track
    ticks_per_beat: int = 480
    time_signatures: list = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.start)

    @property
    def n_tracks_with_notes(self) -> int:
        return len(np.unique(self.track))

    @property
    def end_tick(self) -> int:
        return int(self.end.max()) if len(self) else 0

    @classmethod
    def from_arrays(cls, start, end, pitch, velocity=None, track=None, **kw) -> "NoteList":
        """Build a sorted note list from parallel sequences (velocity defaults to 64)."""
        start = np.asarray(start, dtype=np.int64)
        n = len(start)
        end = np.asarray(end, dtype=np.int64)
        pitch = np.asarray(pitch, dtype=np.int64)
        velocity = np.full(n, 64, np.int64) if velocity is None else np.asarray(velocity, np.int64)
        track = np.zeros(n, np.int64) if track is None else np.asarray(track, np.int64)
        order = np.lexsort((pitch, start))
        return cls(start[order], end[order], pitch[order], velocity[order], track[order], **kw)


def _check_header(path: Path, data: bytes) -> None:
    """Raise MidiError unless ``data`` starts like a standard MIDI file we can read."""
    if len(data) == 0:
        raise MidiError(path, "empty file")
    if data[:4] != b"MThd":
        raise MidiError(path, "not a MIDI file (no 'MThd' header)")
    if len(data) < 14:
        raise MidiError(path, "truncated MIDI header")
    (hlen,) = struct.unpack(">I", data[4:8])
    if hlen < 6:
        raise MidiError(path, f"corrupt MIDI header (length {hlen})")
    fmt, ntracks, division = struct.unpack(">HHH", data[8:14])
    if fmt > 2:
        raise MidiError(path, f"unknown MIDI format {fmt}")
    if division & 0x8000:
        raise MidiError(path, "SMPTE time division is not supported (needs ticks per quarter note)")
    if division == 0:
        raise MidiError(path, "invalid time division 0 ticks per quarter note")
    # Walk the chunk headers: a truncated or mislabelled chunk is a corrupt file.
    pos, found = 8 + hlen, 0
    while pos + 8 <= len(data) and found < ntracks:
        tag = data[pos : pos + 4]
        (clen,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        if pos + 8 + clen > len(data):
            raise MidiError(path, f"truncated file (chunk {found + 1} claims {clen} bytes, "
                                  f"{len(data) - pos - 8} left)")
        if tag == b"MTrk":
            found += 1
        pos += 8 + clen
    if found < ntracks:
        raise MidiError(path, f"truncated file (header announces {ntracks} tracks, found {found})")


def read_midi(path: str | os.PathLike) -> NoteList:
    """Read a MIDI file into a :class:`NoteList`.

    Raises :class:`MidiError` with a one-line reason for a missing, empty, non-MIDI,
    truncated or corrupt file, and for one whose length is absurd (> ``MAX_QUARTERS``, or
    notes lasting > ``MAX_NOTE_QUARTERS`` in all).

    Notebook: 01_representations, 09_harmony_analysis, 10_discussion.
    """
    from symusic import Score  # imported here: keeps `import musicgen_lib` light

    path = Path(path)
    try:
        st = path.stat()  # before opening: opening a named pipe would wait for a writer
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(st.st_mode):
            raise MidiError(path, "not a regular file (a pipe or device?)")
        if st.st_size > MAX_FILE_BYTES:
            raise MidiError(path, f"too large for a MIDI file ({st.st_size / 2 ** 20:.0f} MB; "
                            f"the limit is {MAX_FILE_BYTES // 2 ** 20} MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise MidiError(path, "no such file") from None
    except IsADirectoryError:
        raise MidiError(path, "is a directory, not a MIDI file") from None
    except OSError as e:
        raise MidiError(path, f"cannot read ({e.strerror})") from None
    _check_header(path, data)
    try:
        score = Score.from_midi(data)
    except Exception as e:  # the parser's own message, kept on one line
        msg = " ".join(str(e).split()) or type(e).__name__
        raise MidiError(path, f"corrupt MIDI data ({msg})") from None
    tpq = int(score.ticks_per_quarter)
    starts, durs, pitches, vels, tracks = [], [], [], [], []
    for i, tr in enumerate(score.tracks):
        if tr.is_drum or len(tr.notes) == 0:
            continue
        a = tr.notes.numpy()
        starts.append(a["time"]); durs.append(a["duration"]); pitches.append(a["pitch"])
        vels.append(a["velocity"]); tracks.append(np.full(len(a["time"]), i))
    if not starts:
        raise MidiError(path, "no notes")
    pitch = np.concatenate(pitches).astype(np.int64)
    on_keys = int(((pitch >= LOWEST_KEY) & (pitch <= HIGHEST_KEY)).sum())
    if not on_keys:  # a piano roll of it would be empty: nothing to learn, hear or measure
        raise MidiError(path, f"no notes on the 88 piano keys (all {len(pitch)} notes lie "
                              f"outside MIDI {LOWEST_KEY}..{HIGHEST_KEY}, "
                              f"{int(pitch.min())}..{int(pitch.max())})")
    start = np.concatenate(starts).astype(np.int64)
    dur = np.concatenate(durs).astype(np.int64)
    if start.min() < 0 or dur.min() < 0:
        raise MidiError(path, "corrupt MIDI data (negative note time)")
    end = start + np.maximum(dur, 1)
    if end.max() > MAX_QUARTERS * tpq:
        raise MidiError(path, f"too long ({end.max() / tpq:.0f} quarter notes; "
                              f"limit {MAX_QUARTERS})")
    held = int(np.maximum(dur, 1).sum())
    if held > MAX_NOTE_QUARTERS * tpq:
        raise MidiError(path, f"notes too long in all (their lengths add up to {held / tpq:.0f} "
                              f"quarter notes; limit {MAX_NOTE_QUARTERS})")
    ts = [(int(t.time), int(t.numerator), int(t.denominator)) for t in score.time_signatures]
    return NoteList.from_arrays(start, end, pitch, np.concatenate(vels),
                                np.concatenate(tracks), ticks_per_beat=tpq,
                                time_signatures=ts, source=str(path))


def tempo_map(data: bytes) -> list:
    """``[(tick, microseconds per quarter note), ...]`` of the tempo events in a MIDI file's
    bytes, sorted by tick, one per tick: where several fall on the same tick, the **last**
    one wins, in the order of the file (tracks in order, events in order within a track), as
    mido and pretty_midi read it. (symusic sorts a file's tempo events by tick without
    keeping their order, so that any of them may win; a file with 50 tempo events on one
    tick lasted 9.4 s there instead of 14.35 s.) Lenient: a malformed track is read up to
    where it breaks."""
    changes = {}  # tick -> (order, µs per quarter)
    if data[:4] != b"MThd" or len(data) < 14:
        return []
    pos, order = 8 + struct.unpack(">I", data[4:8])[0], 0
    while pos + 8 <= len(data):
        tag, (n,) = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 8 + n
        if tag != b"MTrk":
            continue
        for tick, mspq in _track_tempos(body):
            order += 1
            changes[tick] = (order, mspq)
    return [(t, changes[t][1]) for t in sorted(changes)]


def _track_tempos(b: bytes):
    """``(tick, µs per quarter)`` of each tempo event of one track's bytes, in order."""
    i, tick, status = 0, 0, None
    n = len(b)

    def vlq():
        nonlocal i
        v = 0
        for _ in range(4):
            if i >= n:
                raise IndexError
            c = b[i]
            i += 1
            v = (v << 7) | (c & 0x7F)
            if not c & 0x80:
                return v
        raise IndexError  # longer than 4 bytes: not MIDI

    try:
        while i < n:
            tick += vlq()
            event = b[i]
            if event & 0x80:
                i += 1
                if event != 0xFF:  # as mido: a meta event leaves the running status
                    status = event
            elif status is None:
                return
            else:
                event = status  # running status
            if event == 0xFF:
                kind = b[i]
                i += 1
                length = vlq()
                if kind == 0x51 and length == 3 and i + 3 <= n:
                    yield tick, (b[i] << 16) | (b[i + 1] << 8) | b[i + 2]
                if kind == 0x2F:
                    return
                i += length
            elif event in (0xF0, 0xF7):
                i += vlq()
            elif event > 0xF0:
                return  # system common or real-time bytes do not belong in a file
            else:
                i += 1 if event & 0xF0 in (0xC0, 0xD0) else 2
    except IndexError:
        return


def write_midi(notes: NoteList, path: str | os.PathLike, tempo_bpm: float = 120.0) -> Path:
    """Write a :class:`NoteList` as a one-track (piano) MIDI file; returns the path."""
    from symusic import Note, Score, Tempo, TimeSignature, Track

    score = Score(notes.ticks_per_beat)
    score.tempos.append(Tempo(0, tempo_bpm))
    for t, num, den in notes.time_signatures or [(0, 4, 4)]:
        score.time_signatures.append(TimeSignature(t, num, den))
    track = Track("Piano", program=0)
    for s, e, p, v in zip(notes.start.tolist(), notes.end.tolist(),
                          notes.pitch.tolist(), notes.velocity.tolist()):
        track.notes.append(Note(s, e - s, p, v))
    score.tracks.append(track)
    return atomic_write(path, lambda fh: fh.write(score.dumps_midi()))
