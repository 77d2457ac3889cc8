"""Shared fixtures: the datasets beside the checkout, and a private cache folder."""
from pathlib import Path

import pytest
import torch

# One thread: the tests' tensors are small, results do not depend on the core count, and a
# second thread on a busy 2-core machine made them many times slower.
torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
PIANO_MIDI_DE = SHARED / "piano-midi-de"
JSB = SHARED / "jsb-chorales"


@pytest.fixture
def piano_midi_de():
    if not PIANO_MIDI_DE.exists():
        pytest.skip(f"{PIANO_MIDI_DE} not present")
    return PIANO_MIDI_DE


@pytest.fixture
def jsb():
    if not JSB.exists():
        pytest.skip(f"{JSB} not present")
    return JSB


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("MUSICGEN_CACHE", str(d))
    return d
