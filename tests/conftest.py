"""Shared fixtures: the datasets and reference files of the data home (``../shared`` beside
the checkout here and in CI; ``$MUSICGEN_DATA`` or the user's data folder elsewhere), and a
private cache folder. Tests that need a source the home lacks are skipped."""
from pathlib import Path

import pytest
import torch

# One thread: the tests' tensors are small, results do not depend on the core count, and a
# second thread on a busy 2-core machine made them many times slower.
torch.set_num_threads(1)

from musicgen_lib.data.home import missing_files, source_folder

PIANO_MIDI_DE = source_folder("piano-midi-de")
JSB = source_folder("jsb")
REFERENCE = source_folder("thesis-2018")


def need(name: str) -> Path:
    """The data home's folder of source ``name``; skips the test when it is not complete."""
    if missing_files(name):
        pytest.skip(f"{source_folder(name)}: not in the data home (musicgen data fetch {name})")
    return source_folder(name)


@pytest.fixture
def piano_midi_de():
    return need("piano-midi-de")


@pytest.fixture
def jsb():
    return need("jsb")


@pytest.fixture
def reference():
    return need("thesis-2018")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("MUSICGEN_CACHE", str(d))
    return d
