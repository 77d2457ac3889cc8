"""Writing files so that a crash never leaves half of one: every output of the library (training
checkpoints and configs, dataset caches, shards, MIDI files) goes through :func:`atomic_write`.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, give it ordinary
    permissions (mkstemp makes 0600) and rename it onto ``path``; on any error the temporary
    file is removed and ``path`` is untouched. Returns ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """:func:`atomic_write` of a bytes object."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_torch_save(obj, path) -> Path:
    """``torch.save`` through :func:`atomic_write`."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())
