"""The ``musicgen`` command line's checks of numbers, in one place: ``argparse`` ``type=``
functions (a bad value is refused while the arguments are parsed, before any work, with one
line naming the option and its range) and the bounds every sub-command shares.

Each bound keeps one command within a fixed amount of memory and time:

* :data:`MAX_SAMPLE_STEPS`: ``musicgen sample`` keeps the whole continuation (and each step's
  attention and decision probabilities) in memory and writes the MIDI file at the end;
  100 000 steps are about 1.7 hours of music at 4 steps per beat and 120 bpm, one to two
  minutes of sampling on a CPU core and about 1 GB.
* :data:`MAX_HISTORY`: the steps before the prime bar that ``musicgen sample`` feeds the
  generator (notebook 10 gives 128); they are read one by one, about 1 ms each (100 000 took
  85 s), and the attention reaches 128 steps back.
* :data:`STEPS_PER_BEAT`: a MIDI dataset's grid; 96 steps per beat is finer than any notated
  rhythm (a 256th-note triplet), while a piano roll's size grows with it (a 100 000-step
  grid took 24 GB for one file).
* :data:`MAX_PIECE_STEPS`: ``musicgen train`` and ``evaluate`` put whole pieces into batches
  (padded to the longest), so their memory grows with the longest piece: a 44-byte file
  holding one note of 99 000 quarter notes made a piece of 9.5 million steps at 96 steps per
  beat, and a batch of 33 GB; evaluating a piece of 99 000 steps took 5 minutes and 3.5 GB.
  The longest piano-midi.de piece has 7 716 steps at 4 steps per beat (1 929 quarter notes):
  32 768 steps hold every piece of it up to 16 steps per beat.
* :data:`BPM`, :data:`TEMPERATURE`: finite and positive; beyond these ranges the audio
  is absurdly long or the voices' logits overflow.
"""
from __future__ import annotations

import argparse
import math

MAX_SAMPLE_STEPS = 100_000
MAX_HISTORY = 4096
MAX_PIECE_STEPS = 32_768
STEPS_PER_BEAT = (1, 96)
BPM = (1.0, 1000.0)
TEMPERATURE = (0.01, 100.0)
MAX_SEED = 2 ** 32 - 1
MAX_GIBBS_STEPS = 1000
MAX_THREADS = 1024
MAX_WORKERS = 256
MAX_BARS = 10 ** 6
#: ``musicgen analyze``'s key window and hop, in steps (4096: 256 bars).
MAX_KEY_STEPS = 4096
#: Training steps, shard sizes and other counts with no tighter bound.
MAX_COUNT = 10 ** 9
#: ``musicgen evaluate``: AIS chains and intermediate temperatures per estimate (the RBM's
#: defaults are 1 000 and 10 000), and samples per step for frame accuracy (default 100).
MAX_AIS_CHAINS = 100_000
MAX_AIS_BETAS = 1_000_000
MAX_ACCURACY_SAMPLES = 10_000


def spaced(v: int) -> str:
    """``100 000``: a whole number with its thousands spaced."""
    return f"{v:,}".replace(",", " ")


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return v


def int_range(lo: int, hi: int, why: str = ""):
    """A ``type=`` function: a whole number in ``lo..hi`` (``why``: appended to the error)."""

    def parse(text: str) -> int:
        v = _int(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {spaced(lo)} to {spaced(hi)}{why}, not {text.strip()}")
        return v

    parse.__name__ = f"int {lo}..{hi}"  # argparse names the type in some messages
    return parse


def float_range(lo: float, hi: float, why: str = ""):
    """A ``type=`` function: a finite number in ``[lo, hi]``."""

    def parse(text: str) -> float:
        v = _float(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be a number from {lo:g} to {hi:g}{why}, "
                                             f"not {text.strip()}")
        return v

    parse.__name__ = f"number {lo:g}..{hi:g}"
    return parse


def positive_float(text: str) -> float:
    """A finite number above 0."""
    v = _float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text.strip()}")
    return v


positive_float.__name__ = "positive number"

#: The shared ``type=`` functions.
positive_int = int_range(1, MAX_COUNT)
seed = int_range(0, MAX_SEED)
steps_per_beat = int_range(*STEPS_PER_BEAT)
sample_steps = int_range(1, MAX_SAMPLE_STEPS, " (the continuation is kept in memory until "
                                              "the MIDI file is written)")
history = int_range(0, MAX_HISTORY)
gibbs_steps = int_range(1, MAX_GIBBS_STEPS)
threads = int_range(1, MAX_THREADS)
workers = int_range(1, MAX_WORKERS)
bar_number = int_range(1, MAX_BARS)
key_steps = int_range(1, MAX_KEY_STEPS)
ais_chains = int_range(1, MAX_AIS_CHAINS)
ais_betas = int_range(1, MAX_AIS_BETAS)
accuracy_samples = int_range(1, MAX_ACCURACY_SAMPLES)
temperature = float_range(*TEMPERATURE)
bpm = float_range(*BPM)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``musicgen: error: …`` (naming the
    sub-command's help), exit status 2."""

    def error(self, message: str):
        message = " ".join(str(message).split())
        self.exit(2, f"musicgen: error: {message} (see {self.prog} --help)\n")
