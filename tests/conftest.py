"""Shared fixtures: the datasets beside the checkout, and a private cache folder."""
from pathlib import Path

import pytest

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
