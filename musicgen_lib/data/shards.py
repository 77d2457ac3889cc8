"""A folder of MIDI files -> compressed shards of piano rolls, prepared once, in parallel
(``musicgen data prepare``), and read back one shard at a time — training streams from them
(:class:`ShardedRolls`, ``musicgen train --dataset shards --path DIR``).

Layout of the output folder::

    shard-00000.npz   up to ``shard_size`` rolls: ``bits`` (the rolls of the shard end to
                      end, each step packed into 11 bytes by ``np.packbits``), ``offsets``
                      (``n + 1`` step offsets) and ``names`` (the files' relative paths)
    shard-00001.npz   ...
    manifest.json     options, and for each shard its input files (with a fingerprint of
                      their sizes and modification times), the pieces it holds and the
                      files skipped with their one-line reasons

The sorted file list is cut into consecutive groups of ``shard_size`` files, so shard
``i`` always holds the same files. A run skips every shard whose ``.npz`` exists and
whose manifest entry matches (same options, same files, same fingerprint): re-running
after an interruption redoes only what is missing. Shards and the manifest are written
to a temporary file and renamed (``os.replace``), so an interrupted run never leaves a
half-written shard. Only one or two shards' rolls are in memory at any time.

The rolls are exactly those of ``load_dataset("midi", folder, steps_per_beat=...,
semantics=...)`` (same parsing, whole bars of leading silence stripped); no filters are
applied and no splits are stored (use :func:`~musicgen_lib.data.split_of` on the names).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import DataError
from ..files import atomic_write
from .datasets import Piece, Skipped, midi_files, parse_file
from .midi import N_KEYS
from .pianoroll import SEMANTICS

MANIFEST = "manifest.json"
#: Bumped whenever the shard format or the parsing changes.
SHARD_VERSION = 1
_SHARD_RE = re.compile(r"^shard-\d{5,}\.npz$")


@dataclass
class PrepareResult:
    """What :func:`prepare` did: shards written now, shards kept from an earlier run."""

    out: Path
    written: list = field(default_factory=list)
    reused: list = field(default_factory=list)
    pieces: int = 0
    steps: int = 0
    skipped: list = field(default_factory=list)  # of Skipped

    @property
    def shards(self) -> int:
        return len(self.written) + len(self.reused)


def shard_name(i: int) -> str:
    return f"shard-{i:05d}.npz"


def _fingerprint(files: list) -> str:
    """Hash of the labels, sizes and modification times of one shard's input files."""
    h = hashlib.sha256()
    for label, path in files:
        try:
            st = os.stat(path)
            h.update(f"{label}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        except OSError:
            h.update(f"{label}\0missing\0".encode())
    return h.hexdigest()[:24]


def _parse_packed(job):
    """Worker: one file to ``(packed roll, steps, None)`` or ``(None, 0, reason)``.
    Never raises: an unexpected error becomes a one-line reason."""
    try:
        roll, _, reason = parse_file(job)
    except Exception as e:  # noqa: BLE001 - a bad file must not stop the run
        msg = " ".join(str(e).split()) or type(e).__name__
        return None, 0, f"cannot convert ({type(e).__name__}: {msg})"
    if reason:
        return None, 0, reason
    return np.packbits(roll.astype(bool), axis=1), len(roll), None


def _write_manifest(out: Path, manifest: dict) -> None:
    data = json.dumps(manifest, indent=1).encode()
    atomic_write(out / MANIFEST, lambda fh: fh.write(data))


def _read_manifest(out: Path) -> Optional[dict]:
    try:
        return json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _check_same_source(out: Path, old: dict, root: Path, options: dict) -> None:
    """Refuse to replace the shards in ``out`` when they come from another folder or were
    made with other options (re-running on the same folder resumes instead)."""
    source = str(old.get("source", ""))
    same = source == str(root) or (source and Path(source).resolve() == root.resolve())
    if not same:
        raise DataError(f"{out}: holds shards of {source or 'another folder'}; --force replaces "
                        f"them, or choose another --out")
    if old.get("options") != options:
        was = old.get("options") if isinstance(old.get("options"), dict) else {}
        diff = ", ".join(f"{k} {was.get(k)} -> {v}" for k, v in options.items() if was.get(k) != v)
        raise DataError(f"{out}: holds shards of {source} made with other options ({diff}); "
                        f"--force replaces them, or choose another --out")


def prepare(folder, out, *, steps_per_beat: int = 4, semantics: str = "sounding",
            shard_size: int = 256, workers: Optional[int] = None,
            progress: bool = False, force: bool = False) -> PrepareResult:
    """Convert the MIDI files under ``folder`` (searched recursively) into shards in ``out``.

    ``workers`` processes parse the files (default: the CPU count; 1 parses in this
    process). Shards already complete from an earlier run with the same options are kept
    (see the module docstring). Unreadable files are skipped and listed, with their
    one-line reason, in the result and in ``manifest.json``. Raises :class:`DataError`
    for a missing folder, a folder without MIDI files, or a bad option — and, unless
    ``force``, for an ``out`` that holds shards of another source or other options (they
    would be replaced).
    """
    if semantics not in SEMANTICS:
        raise DataError(f"unknown semantics {semantics!r} (choose from {', '.join(SEMANTICS)})")
    if steps_per_beat < 1:
        raise DataError(f"steps per beat must be at least 1, not {steps_per_beat}")
    if shard_size < 1:
        raise DataError(f"shard size must be at least 1, not {shard_size}")
    if workers is not None and workers < 1:
        raise DataError(f"workers must be at least 1, not {workers}")
    root, out = Path(folder), Path(out)
    if not root.exists():
        raise DataError(f"{root}: no such file or directory")
    files = midi_files(root)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{out}: cannot create the folder ({e.strerror})") from None

    options = {"version": SHARD_VERSION, "steps_per_beat": steps_per_beat,
               "semantics": semantics, "shard_size": shard_size}
    groups = [files[i:i + shard_size] for i in range(0, len(files), shard_size)]
    old = _read_manifest(out)
    if isinstance(old, dict) and old.get("shards") and not force:
        _check_same_source(out, old, root, options)
    old_entries = {}
    if old and old.get("options") == options:
        old_entries = {e.get("file"): e for e in old.get("shards", []) if isinstance(e, dict)}

    entries, todo = [], []
    result = PrepareResult(out)
    for i, group in enumerate(groups):
        name = shard_name(i)
        inputs, fp = [label for label, _ in group], _fingerprint(group)
        prev = old_entries.get(name)
        if (prev and prev.get("inputs") == inputs and prev.get("fingerprint") == fp
                and (out / name).is_file()):
            entries.append(prev)
            result.reused.append(name)
        else:
            entries.append(None)
            todo.append((i, name, group, inputs, fp))

    manifest = {"source": str(root), "options": options, "files": len(files),
                "shards": entries, "pieces": 0, "steps": 0, "skipped": []}

    def finish_manifest():
        done = [e for e in entries if e is not None]
        manifest["shards"] = done
        manifest["pieces"] = sum(e["count"] for e in done)
        manifest["steps"] = sum(e["steps"] for e in done)
        manifest["skipped"] = [s for e in done for s in e["skipped"]]
        manifest["complete"] = len(done) == len(entries)
        _write_manifest(out, manifest)

    n_workers = min(workers or os.cpu_count() or 1, max(1, sum(len(t[2]) for t in todo)))
    jobs_of = lambda group: [(path, False, (), steps_per_beat, semantics, False)  # noqa: E731
                             for _, path in group]
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(t[2]) for t in todo), desc="preparing shards", unit="file")
    pool = None
    try:
        if n_workers > 1 and todo:
            import multiprocessing as mp

            pool = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None) \
                .Pool(n_workers)

        def start(task):
            jobs = jobs_of(task[2])
            if pool is None:
                return map(_parse_packed, jobs)
            chunk = max(1, min(16, len(jobs) // (4 * n_workers)))
            return pool.imap(_parse_packed, jobs, chunksize=chunk)

        # Two shards in flight at most: the next one is parsed while this one is written.
        pending = start(todo[0]) if todo else None
        for k, (i, name, group, inputs, fp) in enumerate(todo):
            results, pending = pending, (start(todo[k + 1]) if k + 1 < len(todo) else None)
            packed, lengths, names, skipped = [], [], [], []
            for (label, _), (bits, steps, reason) in zip(group, results):
                if reason:
                    skipped.append({"file": label, "reason": reason})
                else:
                    packed.append(bits); lengths.append(steps); names.append(label)
                if bar is not None:
                    bar.update(1)
            arrays = {
                "bits": np.concatenate(packed) if packed else
                np.zeros((0, (N_KEYS + 7) // 8), np.uint8),
                "offsets": np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]),
                "names": np.array(names, dtype=str),
            }
            del packed
            atomic_write(out / name, lambda fh: np.savez_compressed(fh, **arrays))
            entries[i] = {"file": name, "inputs": inputs, "fingerprint": fp,
                          "pieces": names, "count": len(names), "steps": int(sum(lengths)),
                          "skipped": skipped}
            result.written.append(name)
            finish_manifest()
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    finish_manifest()
    # Shards of an earlier run that the current plan does not have (fewer files, another
    # shard size) would confuse a reader that globs: remove them.
    keep = {shard_name(i) for i in range(len(groups))}
    for p in out.iterdir():
        if _SHARD_RE.match(p.name) and p.name not in keep:
            p.unlink()
    result.pieces, result.steps = manifest["pieces"], manifest["steps"]
    result.skipped = [Skipped(s["file"], s["reason"]) for s in manifest["skipped"]]
    return result


def _manifest_or_error(folder) -> tuple:
    out = Path(folder)
    if not out.is_dir():
        raise DataError(f"{out}: no such folder")
    manifest = _read_manifest(out)
    if manifest is None:
        raise DataError(f"{out}: no readable {MANIFEST} (run `musicgen data prepare` first)")
    return out, manifest


def iter_shards(folder) -> Iterator[tuple]:
    """Yield ``(name, roll)`` for every piece in the shards of ``folder``, in file order.

    ``roll`` is a ``(T, 88)`` uint8 piano roll. Only one shard is loaded at a time, so
    memory stays bounded by the shard size whatever the size of the whole set.
    """
    out, manifest = _manifest_or_error(folder)
    for entry in manifest["shards"]:
        rolls, offsets, names = _read_shard(out / entry["file"])
        for j, name in enumerate(names):
            yield str(name), rolls[offsets[j]:offsets[j + 1]]


def _read_shard(path: Path) -> tuple:
    """(rolls of the shard end to end (steps, 88) uint8, step offsets, names) of one shard."""
    try:
        with np.load(path) as z:
            bits, offsets, names = z["bits"], z["offsets"], z["names"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: unreadable shard ({' '.join(str(e).split())})") from None
    return np.unpackbits(bits, axis=1, count=N_KEYS), offsets, names


def load_shards(folder) -> list:
    """All pieces of a prepared folder as :class:`~musicgen_lib.data.Piece` objects
    (``velocity`` None), in file order. Holds everything in memory: for large sets,
    iterate with :func:`iter_shards` instead."""
    return [Piece(name, roll) for name, roll in iter_shards(folder)]


def read_manifest(folder) -> dict:
    """The ``manifest.json`` of a prepared folder (options, shards, skipped files)."""
    return _manifest_or_error(folder)[1]


class ShardedRolls:
    """One split of a prepared folder as a lazy sequence of rolls: what training streams from.

    ``len()`` is the number of pieces of the split (from the manifest, by
    :func:`~musicgen_lib.data.split_of` on each name); ``rolls[i]`` is a ``(T, 88)`` uint8
    roll, read from its shard, of which the last ``cache`` stay decoded. The training engine
    asks :meth:`epoch_order` for its piece order: the shards in a random order, the pieces
    shuffled within each — so consecutive batches touch one or two shards and memory stays
    bounded by the shard size, whatever the size of the corpus.
    """

    def __init__(self, folder, split: Optional[str] = None, seed: int = 0, cache: int = 2):
        from collections import OrderedDict

        from .datasets import split_of

        self.folder, manifest = _manifest_or_error(folder)
        self.options = manifest["options"]
        self.split = split
        self._files = [e["file"] for e in manifest["shards"]]
        self.index = [(s, j) for s, e in enumerate(manifest["shards"])
                      for j, name in enumerate(e["pieces"])
                      if split is None or split_of(name, seed) == split]
        self.names = [manifest["shards"][s]["pieces"][j] for s, j in self.index]
        self._cache, self._cache_size = OrderedDict(), max(1, cache)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        s, j = self.index[i]
        rolls, offsets = self._shard(s)
        return rolls[offsets[j]:offsets[j + 1]]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def _shard(self, s: int):
        if s in self._cache:
            self._cache.move_to_end(s)
            return self._cache[s]
        self._cache[s] = _read_shard(self.folder / self._files[s])[:2]
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return self._cache[s]

    def epoch_order(self, seed: int, epoch: int) -> list:
        """Piece indices of an epoch, shuffled shard by shard; a function of (seed, epoch)."""
        rng = np.random.default_rng([seed, epoch])
        by_shard: dict = {}
        for i, (s, _) in enumerate(self.index):
            by_shard.setdefault(s, []).append(i)
        order = []
        for s in rng.permutation(sorted(by_shard)):
            order += [by_shard[s][k] for k in rng.permutation(len(by_shard[s]))]
        return order
