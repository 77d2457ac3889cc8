"""Writing files so that a crash never leaves half of one: every output of the library (training
checkpoints and configs, dataset caches, shards, MIDI files) goes through :func:`atomic_write`;
and checking an output path before the work that fills it (:func:`check_output`; a training
run's folder: :func:`check_run_folder`), so that no user file is replaced unasked and no long
job ends in "cannot write".
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from .errors import CheckpointError, OutputError


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


def check_output(path, *, inputs=(), force: bool = False, suffixes=()) -> Path:
    """Check, before any work, that ``path`` can be written as a new file: its folder exists
    and is writable, it is not a folder, not one of ``inputs`` (never, even with ``force``),
    and not an existing file unless ``force``; with ``suffixes``, its suffix is one of them.
    Raises :class:`OutputError` with one line; returns ``path`` as a :class:`Path`."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: the file name must end in {' or '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write in {parent} (permission denied)")
    if path.exists():
        for other in inputs:
            if other is not None and Path(other).exists() and os.path.samefile(path, other):
                raise OutputError(f"{path}: is an input of this command; choose another output")
        if not force:
            raise OutputError(f"{path}: exists; pass --force to replace it")
    return path


def check_output_folder(path, *, ours, what: str) -> Path:
    """Check, before any work, that the folder ``path`` may be written into: it is missing
    (its nearest existing parent is a writable folder), empty, or holds only files that
    ``ours(folder, names)`` recognises as written by this command (e.g. shards and their
    manifest). A folder of the user's is never written into. One-line :class:`OutputError`;
    returns ``path`` as a :class:`Path`. ``what`` names the contents (``"shards"``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file; give a folder for the {what}")
    existing = path if path.exists() else next(
        (p for p in path.absolute().parents if p.exists()), Path("/"))
    if not existing.is_dir():
        raise OutputError(f"{path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write in {existing} (permission denied)")
    if path.is_dir():
        try:
            names = sorted(p.name for p in path.iterdir()
                           if not (p.name.startswith(".") and p.name.endswith(".tmp")))
        except OSError as e:
            raise OutputError(f"{path}: cannot read the folder ({e.strerror})") from None
        if names and not ours(path, names):
            raise OutputError(f"{path}: not empty and not a folder of {what} (it holds "
                              f"{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); "
                              f"choose another output folder")
    return path


#: What a training run writes into its folder (and all that a folder of ours holds).
RUN_FILES = ("config.json", "model.pt", "checkpoint.pt", "log.csv", "log.json")


def _entries(folder: Path) -> list:
    """The names in ``folder`` but the temporary files a killed run left (``.NAME.*.tmp``)."""
    return sorted(p.name for p in folder.iterdir() if not (
        p.name.endswith(".tmp") and any(p.name.startswith(f".{n}.") for n in RUN_FILES)))


def is_run_folder(folder) -> bool:
    """Whether ``folder`` holds a training run of this library: only :data:`RUN_FILES` (and
    their temporary files), with a ``config.json`` that a run wrote."""
    folder = Path(folder)
    names = _entries(folder)
    if not names or any(n not in RUN_FILES for n in names):
        return False
    try:
        d = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and {"model", "config", "train"} <= d.keys()


def check_run_folder(out, *, resume: bool = False, overwrite: bool = False) -> None:
    """Before any work, whether a run may write into ``out``: a missing or empty folder, or a
    run of ours (:func:`is_run_folder`) that is resumed or, with ``overwrite``, replaced. A
    folder that holds anything else is never written into. One-line errors."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; --out names a folder for the run")
    existing = out if out.exists() else next(p for p in out.absolute().parents if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write in {existing} (permission denied)")
    if not out.exists() or not _entries(out):
        return
    if not is_run_folder(out):
        held = _entries(out)
        raise OutputError(f"{out}: not empty and not a musicgen training run (it holds "
                          f"{', '.join(held[:3])}{', ...' if len(held) > 3 else ''}); "
                          f"choose another output folder")
    if (out / "checkpoint.pt").exists() and not resume and not overwrite:
        raise CheckpointError(f"{out} already holds a training run; resume it (--resume), "
                              "replace it (--force) or choose another output folder")


LOG_COLUMNS = ["step", "epoch", "train_loss", "valid_nll", "lr", "time_s"]


def write_logs(out: Path, history: list, cols: list = LOG_COLUMNS) -> None:
    """A run's ``log.csv`` (the columns ``cols``) and ``log.json``, atomically."""
    s = io.StringIO()
    w = csv.DictWriter(s, cols, lineterminator="\n")
    w.writeheader()
    w.writerows({k: r.get(k, "") for k in cols} for r in history)
    atomic_write_bytes(out / "log.csv", s.getvalue().encode())
    atomic_write_bytes(out / "log.json", (json.dumps(history, indent=1) + "\n").encode())


def prepare_run_folder(out: Path, resuming: bool) -> None:
    """Make the run folder, delete the temporary files a run killed while writing left behind,
    and, unless the run is resumed, the previous run's ``model.pt`` (a replaced run's model
    must not outlive it: the engine would load it back when no validation writes a new one)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        for f in out.glob(f".{name}.*.tmp"):  # left by a run killed while writing `name`
            f.unlink(missing_ok=True)
    if not resuming:
        (out / "model.pt").unlink(missing_ok=True)


def read_checkpoint(ckpt: Path, model_info: dict) -> dict:
    """The saved ``checkpoint.pt`` of a run to resume, refused in one line if unreadable or
    written for another model or configuration."""
    import torch

    try:
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"{ckpt}: unreadable checkpoint ({type(e).__name__})") from None
    if saved["model_info"] != model_info:
        raise CheckpointError(f"{ckpt}: was written for {saved['model_info']['model']} with a "
                              "different configuration; use a new --out folder")
    return saved
