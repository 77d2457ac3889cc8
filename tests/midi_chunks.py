"""Lenient reading and writing of MIDI files' chunks and track events, byte for byte, for the
MIDI fuzzer (:mod:`midi_fuzz`) and the tests that build odd files by hand.

:func:`split_file` and :func:`parse_track` take a file apart without judging it (a track
that does not parse gives None); :func:`join_file` and :func:`join_track` put it back with
every chunk length recomputed, so that a change made in between reaches the loader's parser
instead of being caught by its header check.
"""
from __future__ import annotations

import struct


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity (more than 4 bytes for n >= 2**28: invalid, on purpose)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _read_vlq(b: bytes, i: int) -> tuple[int, int]:
    n = 0
    while i < len(b):
        n = (n << 7) | (b[i] & 0x7F)
        i += 1
        if not b[i - 1] & 0x80:
            return n, i
    raise ValueError("truncated variable-length quantity")


def split_file(data: bytes):
    """``(header_body, [[tag, body], ...], trailing_bytes)`` or None if the chunks do not fit."""
    if data[:4] != b"MThd" or len(data) < 14:
        return None
    chunks, pos = [], 0
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos + 4:pos + 8])
        if pos + 8 + n > len(data):
            return None
        chunks.append([data[pos:pos + 4], data[pos + 8:pos + 8 + n]])
        pos += 8 + n
    if len(chunks[0][1]) < 6:
        return None
    return chunks[0][1], chunks[1:], data[pos:]


def join_file(header: bytes, chunks, trailing: bytes = b"") -> bytes:
    """The inverse of :func:`split_file`, with every chunk length recomputed."""
    return b"".join(tag + struct.pack(">I", len(body)) + body
                    for tag, body in [[b"MThd", header], *chunks]) + trailing


def parse_track(b: bytes):
    """``[[delta, event_bytes], ...]`` with running status expanded, or None if malformed."""
    events, status, i = [], None, 0
    try:
        while i < len(b):
            delta, i = _read_vlq(b, i)
            if b[i] >= 0x80:
                status, i = b[i], i + 1
            elif status is None:
                return None
            if status == 0xFF:
                n, j = _read_vlq(b, i + 1)
                body, i, status = bytes([0xFF, b[i]]) + vlq(n) + b[j:j + n], j + n, None
            elif status in (0xF0, 0xF7):
                n, j = _read_vlq(b, i)
                body, i, status = bytes([status]) + vlq(n) + b[j:j + n], j + n, None
            else:
                k = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                body, i = bytes([status]) + b[i:i + k], i + k
            if i > len(b):
                return None
            events.append([delta, body])
    except (ValueError, IndexError):
        return None
    return events


def join_track(events) -> bytes:
    """The inverse of :func:`parse_track` (running status written out)."""
    return b"".join(vlq(d) + e for d, e in events)


def ticks_per_quarter(header: bytes) -> int:
    """Ticks per quarter note of a header body (480 for SMPTE time or 0)."""
    division = struct.unpack(">H", header[4:6])[0]
    return division if 0 < division < 0x8000 else 480
