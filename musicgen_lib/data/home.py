"""The data home: the one place every dataset and reference file is looked up
(notebooks 01–11, every command that reads data, the tests).

The home is, in order:

1. ``$MUSICGEN_DATA`` when it is set;
2. ``../shared`` beside the source checkout, when it exists (the project's own machines);
3. the user's data folder, ``platformdirs.user_data_dir("musicgen")``
   (``~/.local/share/musicgen`` on Linux).

Inside it, each fetchable source has a folder (:data:`SOURCES`)::

    datasets/jsb-chorales/jsb-chorales-quarter.json, …
    datasets/piano-midi-de/midis/<composer>/*.mid, metadata.csv
    reference/thesis-2018/greats-model.pt, greats-decoder.pt, final-model-1h.mid

``musicgen data fetch NAME`` (:mod:`musicgen_lib.data.fetch`) fills it; :func:`require`
answers a missing source with the one line that names that command.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from ..errors import DataError

#: The source checkout this module lies in (when installed from a wheel, a folder that has
#: no ``pyproject.toml``, so the ``../shared`` rule does not apply).
CHECKOUT = Path(__file__).resolve().parents[2]
#: The manifest of every fetchable file: source, pinned commit, path, size, SHA-256.
MANIFEST = Path(__file__).with_name("sources.json")


def data_home() -> Path:
    """The data home (see the module docstring for the order of the rules)."""
    env = os.environ.get("MUSICGEN_DATA")
    if env:
        return Path(env).expanduser()
    shared = CHECKOUT.parent / "shared"
    if (CHECKOUT / "pyproject.toml").is_file() and shared.is_dir():
        return shared
    from platformdirs import user_data_dir

    return Path(user_data_dir("musicgen", appauthor=False))


@lru_cache(maxsize=None)
def sources() -> dict:
    """The manifest (:data:`MANIFEST`): ``{name: {"folder", "repo", "commit", "files"}}``,
    each file ``{"path", "source", "size", "sha256"}`` (``path`` inside ``folder``,
    ``source`` inside the repository at the commit)."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


#: The names ``musicgen data fetch`` and :func:`require` take.
SOURCES = ("jsb", "piano-midi-de", "thesis-2018")


def source_folder(name: str, home=None) -> Path:
    """Where source ``name`` lives inside the data home (whether or not it is there)."""
    if name not in SOURCES:
        raise DataError(f"unknown data source {name!r} (known: {', '.join(SOURCES)})")
    return Path(home if home is not None else data_home()) / sources()[name]["folder"]


def missing_files(name: str, home=None) -> list:
    """The manifest's files of ``name`` that are absent from the home (sizes are not
    checked here; ``musicgen data fetch`` verifies every checksum)."""
    folder = source_folder(name, home)
    return [f["path"] for f in sources()[name]["files"] if not (folder / f["path"]).is_file()]


def require(name: str, home=None) -> Path:
    """The folder of source ``name`` in the data home; a :class:`DataError` naming the fetch
    command when any of its files is missing.

    Notebook: every chapter that reads data — 01_representations, 03_rnn_rbm,
    04_independent_vs_dependent, 05_attention, 06_voice_sampler, 07_octave_decoder,
    08_training_and_samples, 09_harmony_analysis, 10_discussion."""
    folder = source_folder(name, home)
    missing = missing_files(name, home)
    if missing:
        what = "is not" if len(missing) == len(sources()[name]["files"]) else \
            f"is incomplete ({len(missing)} files missing, e.g. {missing[0]})"
        raise DataError(f"{folder}: the data source {name!r} {what} in the data home; "
                        f"get it with `musicgen data fetch {name}`")
    return folder
