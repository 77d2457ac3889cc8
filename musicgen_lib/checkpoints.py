"""Where trained checkpoints are found: the default chorale model ships inside the package
(``musicgen_lib/bundled/``, so an installed ``musicgen sample`` works anywhere); the others
live in the source checkout's ``checkpoints/`` folder, or anywhere a path names them.
"""
from __future__ import annotations

from pathlib import Path

from .errors import CheckpointError

#: Checkpoints shipped inside the package (package data).
BUNDLED = Path(__file__).resolve().with_name("bundled")
#: The checkout's committed checkpoints (absent when the package is installed from a wheel).
CHECKOUT_CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
#: The model ``musicgen sample`` and the play app use when none is named.
DEFAULT = "thesis-chorales"


def find_checkpoint(name: str) -> Path:
    """The folder of the committed checkpoint ``name`` (e.g. ``thesis-chorales``,
    ``review-jsb/rnn-rbm``, ``thesis-piano/generator-path``): the package's own first, then
    the checkout's. A :class:`CheckpointError` says where it looked.

    Notebook: 03–11 (every chapter that loads a trained model)."""
    for root in (BUNDLED, CHECKOUT_CHECKPOINTS):
        folder = root / name
        if folder.is_dir():
            return folder
    raise CheckpointError(f"{name}: no such committed checkpoint (looked in {BUNDLED} and "
                          f"{CHECKOUT_CHECKPOINTS}; the others than {DEFAULT} come with the "
                          f"source checkout, or name a checkpoint folder by its path)")
