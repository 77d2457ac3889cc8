"""Fetching the datasets and the thesis author's files into the data home
(``musicgen data fetch``; the "Run it yourself" page).

Every file comes from its public source at a pinned commit (or from a mirror laid out like
the data home, ``--mirror URL`` / ``$MUSICGEN_MIRROR``) and carries its size and SHA-256 in
the manifest ``sources.json``. A file is downloaded into ``.NAME.part`` beside its place,
resumed with an HTTP range request when a transfer breaks off (within a run, and by the next
run), verified, and only then renamed into place. A file already there with the right
checksum is never downloaded again, so a second run downloads nothing.

Every failure is a :class:`~musicgen_lib.errors.DataError` of one line naming the file and the
problem: a checksum mismatch leaves nothing behind; an unreachable server leaves nothing
new; a broken transfer keeps its ``.part`` for the next run to resume.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .home import SOURCES, data_home, source_folder, sources

#: The public sources' raw files at a commit.
GITHUB_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
CHUNK = 1 << 16
#: Attempts per file within one run (each resumes where the last stopped).
ATTEMPTS = 3


@dataclass
class FetchReport:
    """What :func:`fetch` did: per source, the files downloaded and those already present."""

    home: Path
    downloaded: dict = field(default_factory=dict)   # name -> [path, ...]
    present: dict = field(default_factory=dict)      # name -> count
    bytes: int = 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_url(name: str, entry: dict, mirror: str | None = None) -> str:
    """Where one manifest entry is downloaded from: the mirror laid out like the data home,
    else the source repository's raw file at the pinned commit."""
    src = sources()[name]
    if mirror:
        rel = f"{src['folder']}/{entry['path']}"
        return mirror.rstrip("/") + "/" + urllib.parse.quote(rel)
    return GITHUB_RAW.format(repo=src["repo"], commit=src["commit"],
                             path=urllib.parse.quote(entry["source"]))


def expand_names(names) -> list:
    """``all`` and the source names, checked, in manifest order without repeats."""
    names = list(names) or ["all"]
    unknown = [n for n in names if n != "all" and n not in SOURCES]
    if unknown:
        raise DataError(f"unknown data source {unknown[0]!r} (known: {', '.join(SOURCES)}, all)")
    return [n for n in SOURCES if "all" in names or n in names]


def fetch(names, home=None, mirror=None, progress: bool | None = None,
          timeout: float = 30.0) -> FetchReport:
    """Bring the sources ``names`` (or ``"all"``) into the data home ``home`` (default
    :func:`~musicgen_lib.data.home.data_home`) from ``mirror`` (default ``$MUSICGEN_MIRROR``,
    else the public sources). Files already there with the right SHA-256 are kept.

    Notebook: none (the "Run it yourself" page; ``musicgen data fetch``)."""
    names = expand_names(names)
    home = Path(home).expanduser() if home is not None else data_home()
    mirror = mirror if mirror is not None else os.environ.get("MUSICGEN_MIRROR") or None
    report = FetchReport(home)
    todo = []
    for name in names:
        folder = source_folder(name, home)
        report.downloaded[name], report.present[name] = [], 0
        for entry in sources()[name]["files"]:
            dest = folder / entry["path"]
            if dest.is_file() and dest.stat().st_size == entry["size"] \
                    and sha256_of(dest) == entry["sha256"]:
                report.present[name] += 1
            else:
                todo.append((name, entry, dest))
    if not todo:
        return report
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=sum(e["size"] for _, e, _ in todo), unit="B", unit_scale=True,
              desc="musicgen data fetch", disable=not show, file=sys.stderr) as bar:
        for name, entry, dest in todo:
            _download(file_url(name, entry, mirror), dest, entry, bar, timeout)
            report.downloaded[name].append(entry["path"])
            report.bytes += entry["size"]
    return report


def _download(url: str, dest: Path, entry: dict, bar, timeout: float) -> None:
    """One file: into ``.NAME.part`` (resumed), verified, renamed into place."""
    part = dest.with_name(f".{dest.name}.part")
    made = _make_parents(dest.parent)
    if part.is_file():  # bytes a broken run left: counted as done
        bar.update(min(part.stat().st_size, entry["size"]))
    try:
        for attempt in range(ATTEMPTS):
            have = part.stat().st_size if part.is_file() else 0
            if have > entry["size"]:
                bar.update(-entry["size"])
                part.unlink()
                have = 0
            try:
                if have < entry["size"]:
                    _transfer(url, part, have, entry["size"], bar, timeout)
                break
            except _WrongSize as e:
                part.unlink()
                raise DataError(f"{url}: {e}; nothing was kept") from None
            except _Broken as e:
                if attempt == ATTEMPTS - 1:
                    raise DataError(f"{url}: {e} after {ATTEMPTS} attempts; run the command "
                                    f"again to resume") from None
        digest = sha256_of(part)
        if digest != entry["sha256"]:
            part.unlink()
            raise DataError(f"{url}: checksum mismatch (SHA-256 {digest[:12]}…, expected "
                            f"{entry['sha256'][:12]}…); nothing was kept")
        os.replace(part, dest)
    except BaseException:
        if part.is_file() and part.stat().st_size == 0:
            part.unlink()
        if not part.exists():
            _remove_empty(made)
        raise


class _Broken(Exception):
    """A transfer that stopped before its end (what is on disk is kept for resuming)."""


class _WrongSize(Exception):
    """A complete transfer of a file of the wrong size (what is on disk is removed)."""


def _transfer(url: str, part: Path, have: int, size: int, bar, timeout: float) -> None:
    """Append bytes ``have..size`` of ``url`` to ``part`` (a range request when resuming)."""
    request = urllib.request.Request(url, headers={"User-Agent": "musicgen-data-fetch"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part is complete or wrong
            return
        raise DataError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DataError(f"{url}: cannot connect ({_reason(e.reason)}); check the network or "
                        f"use --mirror URL") from None
    except (socket.timeout, TimeoutError, ConnectionError) as e:
        raise DataError(f"{url}: cannot connect ({_reason(e)})") from None
    with response:
        if have and getattr(response, "status", 200) != 206:  # the range was ignored: restart
            bar.update(-have)
            have = 0
        length = response.headers.get("Content-Length")
        got = 0
        with open(part, "ab" if have else "wb") as fh:
            while have <= size:  # a longer file is wrong: stop one byte past its size
                try:
                    block = response.read(CHUNK)
                except Exception as e:  # reset, timeout, http.client.IncompleteRead
                    raise _Broken(f"transfer broken off at byte {have} of {size} "
                                  f"({_reason(e)})") from None
                if not block:
                    break
                try:
                    fh.write(block)
                except OSError as e:
                    raise DataError(f"{part}: cannot write ({e.strerror})") from None
                have += len(block)
                got += len(block)
                bar.update(len(block))
            fh.flush()
            os.fsync(fh.fileno())
    if have < size and length is not None and length.isdigit() and got < int(length):
        raise _Broken(f"transfer broken off at byte {have} of {size}")
    if have != size:
        raise _WrongSize(f"the file has {have if have <= size else 'more than ' + str(size)} "
                         f"bytes, expected {size}")


def _reason(e) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]


def _make_parents(folder: Path) -> list:
    """Create ``folder`` and its missing parents; return the ones created (deepest first)."""
    made = []
    p = folder
    while not p.exists():
        made.append(p)
        p = p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{folder}: cannot create the folder ({e.strerror})") from None
    return made


def _remove_empty(folders: list) -> None:
    for p in folders:  # deepest first
        try:
            p.rmdir()
        except OSError:
            break
