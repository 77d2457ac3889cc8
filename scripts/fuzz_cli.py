"""Fuzz the ``musicgen`` command line: Hypothesis draws argument vectors for every sub-command
(valid and invalid numbers, missing, read-only and folder paths, garbage and absurd MIDI files,
existing user files as outputs and inputs) and runs them through ``musicgen_lib.cli.main``
in this process.

    .venv/bin/python scripts/fuzz_cli.py [--invocations 2000] [--seed 0] [--processes 5]
        [--timeout 120] [--max-rss-mb 3000] [--keep-going]

Each invocation must

* end with exit status 0 or 2, where 2 comes with one error line on stderr (``musicgen: error:
  ...`` or ``musicgen train: error: ...``) and no exception escapes ``main`` (no traceback);
* change no file the user had before it (all files of the fuzzing folder are hashed before and
  after): only a file named as an output *with* ``--force`` may be replaced, and never one that
  is also an input; a run folder of ours only with ``--force`` or ``--resume``;
* answer within ``--timeout`` seconds (a hang), and keep this process's peak RSS under
  ``--max-rss-mb``.

``--processes N`` also runs N ``musicgen sample`` invocations as real processes with the same
timeout (a hang there is killed). Files the invocations create are removed after each one, and
replaced user files are put back, so that every invocation sees the same folder.

``tests/test_cli_fuzz.py`` runs a short, derandomised version of the same (:func:`run`).
Exit status 0 when nothing failed, 1 otherwise.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "tests")):  # the package, and tests/midi_chunks.py
    if _p not in sys.path:
        sys.path.insert(0, _p)

from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CHECKPOINTS = ROOT / "checkpoints"

# ---------------------------------------------------------------- the fuzzing folder


def _midi(events, tpq: int = 96, fmt: int = 0) -> bytes:
    """A one-track MIDI file from ``[(delta, event_bytes), ...]`` (end of track added)."""
    from midi_chunks import join_file, join_track

    body = join_track([[d, e] for d, e in events] + [[0, b"\xff\x2f\x00"]])
    return join_file(struct.pack(">HHH", fmt, 1, tpq), [[b"MTrk", body]])


def _tempo(us: int) -> bytes:
    return b"\xff\x51\x03" + us.to_bytes(3, "big")


def _piece(rng, n: int = 48, tpq: int = 96) -> bytes:
    """``n`` eighth notes of random pitches, some after an eighth's rest."""
    events = []
    for p in rng.integers(40, 84, n).tolist():
        events += [(int(rng.integers(0, 2)) * tpq // 2, bytes([0x90, p, 70])),
                   (tpq // 2, bytes([0x80, p, 0]))]
    return _midi(events, tpq)


@dataclass
class World:
    """The fuzzing folder: inputs, user files that must survive, and names for outputs."""

    root: Path
    #: protected files: path -> bytes (put back when an allowed --force replaced them)
    saved: dict = field(default_factory=dict)
    hashes: dict = field(default_factory=dict)
    dirs: set = field(default_factory=set)

    def p(self, name: str) -> str:
        return str(self.root / name)


def make_world(root: Path) -> World:
    """Write the fuzzing folder under ``root`` (a fresh temporary folder)."""
    import numpy as np

    from musicgen_lib.data.shards import prepare

    rng = np.random.default_rng(2018)
    w = World(root)
    d = root
    for sub in ("in", "midi", "empty-dir", "ro", "user-run", "user-shards", "out", "cache"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    good = _piece(rng)
    files = {
        "in/good.mid": good,
        "in/chords.mid": _midi([(0, _tempo(400_000)), (0, b"\x90\x3c\x50"), (0, b"\x90\x40\x50"),
                                (0, b"\x90\x43\x50"), (384, b"\x80\x3c\x00"), (0, b"\x80\x40\x00"),
                                (0, b"\x80\x43\x00")]),
        # 50 tempo events on tick 0: the last (1 s per beat) wins
        "in/tempo50.mid": _midi([(0, _tempo(200_000 + 10_000 * i)) for i in range(49)]
                                + [(0, _tempo(1_000_000))]
                                + [e for k in range(8) for e in ((0, bytes([0x90, 60 + k, 80])),
                                                                 (96, bytes([0x80, 60 + k, 0])))]),
        # every note outside the 88 keys
        "in/low.mid": _midi([(0, b"\x90\x05\x50"), (96, b"\x80\x05\x00"), (0, b"\x90\x7f\x50"),
                             (96, b"\x80\x7f\x00")]),
        # 16 s per beat, one note held for 99 000 quarter notes: 440 hours
        "in/slow.mid": _midi([(0, _tempo(16_000_000)), (0, b"\x90\x3c\x50"),
                              (99_000 * 96, b"\x80\x3c\x00")]),
        # three hours of silence, then a note
        "in/silence.mid": _midi([(0, _tempo(500_000)), (21_600 * 96, b"\x90\x3c\x50"),
                                 (96, b"\x80\x3c\x00")]),
        "in/garbage.mid": bytes(rng.integers(0, 256, 300, dtype=np.uint8)),
        "in/empty.mid": b"",
        "in/truncated.mid": good[: len(good) // 2],
        "in/notes.txt": b"my notes\n",
        "in/mine.mid": b"my own file, not MIDI\n",
        "in/score.svg": b"<svg>mine</svg>\n",
        "in/roll.png": b"\x89PNG mine",
        "in/audio.wav": b"RIFF mine",
        "in/audio.mp3": b"ID3 mine",
        "in/report.html": b"<p>mine</p>\n",
        "in/cfg-good.json": b'{"train": {"max_steps": 2, "valid_every": 1, "batch_size": 4}}',
        "in/cfg-nan.json": b'{"train": {"lr": NaN}}',
        "in/cfg-garbage.json": b"{not json",
        "in/cfg-other.json": b'{"model": "rnn-nade", "config": {}, "train": {}}',
        "in/cfg-unknown.json": b'{"train": {"no_such_option": 1}}',
        "ro/keep.mid": good,
        "user-run/config.json": b'{"my": "settings"}',
        "user-run/log.csv": b"my,data\n",
        "user-shards/manifest.json": b'{"mine": true}',
        "user-shards/notes.txt": b"mine\n",
    }
    for i in range(12):
        files[f"midi/p{i:02d}.mid"] = _piece(rng, 24 + 4 * i)
    files["midi/garbage.mid"] = files["in/garbage.mid"]
    files["midi/low.mid"] = files["in/low.mid"]
    for name, data in files.items():
        (d / name).write_bytes(data)
    # a run of ours (to resume, replace, init from and evaluate) and a folder of shards
    from musicgen_lib.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--model", "lstm", "--dataset", "midi", "--path", w.p("midi"),
                     "--max-steps", "1", "--out", w.p("a-run")]) == 0
        prepare(d / "midi", d / "shards", shard_size=4, workers=1)
    os.chmod(d / "ro", 0o555)
    w.saved = {p: p.read_bytes() for p in _files(d)}
    w.hashes = {p: _sha(b) for p, b in w.saved.items()}
    w.dirs = {Path(dp) for dp, _, _ in os.walk(d)}
    return w


def _files(root: Path) -> list:
    out = []
    for dirpath, dirs, names in os.walk(root):
        if Path(dirpath) == root:
            dirs[:] = [x for x in dirs if x != "cache"]  # the dataset cache: ours, kept
        out += [Path(dirpath) / n for n in names]
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- argument strategies

#: Values that are not whole numbers, or out of range for every option (the last two only for
#: some: --steps-per-beat 97, --steps 100001; a seed takes both).
BAD_INTS = ["0", "-1", "-5", "nan", "inf", "abc", "", "1.5", "1e3", "0x10",
            "99999999999999999999", "4294967296", "100001", "97"]
BAD_FLOATS = ["0", "-1", "-5", "nan", "inf", "-inf", "1e309", "abc", "", "0.0", "1e-300"]


@st.composite
def _int(draw, valid, bad: float = 0.2):
    """A valid whole number as text, or (with probability ``bad``) an invalid one."""
    if draw(st.integers(0, 99)) < 100 * bad:
        return draw(st.sampled_from(BAD_INTS))
    return str(draw(valid))


@st.composite
def _float(draw, valid, bad: float = 0.2):
    if draw(st.integers(0, 99)) < 100 * bad:
        return draw(st.sampled_from(BAD_FLOATS))
    return f"{draw(valid):g}"


@st.composite
def _opt(draw, name, values, p: float = 0.5):
    """``[name, value]`` (with probability ``p``) or ``[]``."""
    return [name, draw(values)] if draw(st.integers(0, 99)) < 100 * p else []


@st.composite
def _choice(draw, good: list, bad: list, p_good: float = 0.7):
    """One of ``good`` (with probability ``p_good``) or of ``bad``."""
    pool = good if not bad or draw(st.integers(0, 99)) < 100 * p_good else bad
    return draw(st.sampled_from(pool))


def _flag(name):
    return st.sampled_from([[], [name]])


class Strategies:
    """Argument vectors over a :class:`World`. ``steps``: the largest valid --steps drawn;
    ``long``: also the costlier valid values (finer grids).

    Each vector first draws how wild it is, ``bad`` (0, 0, 0.1 or 0.3): the chance that a
    number or a path in it is an invalid one. A third of the vectors are thus entirely valid
    and do the command's real work; the others mix in bad values."""

    def __init__(self, w: World, steps: int = 16, long: bool = False):
        self.w, self.steps, self.long = w, steps, long

    def _bad(self, draw) -> float:
        return draw(st.sampled_from([0.0, 0.0, 0.1, 0.3]))

    def midi_input(self, bad):
        p = self.w.p
        return _choice([p("in/good.mid"), p("in/chords.mid"), p("in/tempo50.mid"),
                        p("midi/p03.mid"), p("ro/keep.mid"), p("in/slow.mid"),
                        p("in/silence.mid")],
                       [p("in/low.mid"), p("in/garbage.mid"), p("in/empty.mid"),
                        p("in/truncated.mid"), p("in/notes.txt"), p("in/missing.mid"),
                        p("empty-dir")], 1 - max(bad, 0.1))  # bad files are the point

    def folder(self, bad):
        p = self.w.p
        return _choice([p("midi"), p("in"), p("shards")],
                       [p("empty-dir"), p("missing-dir"), p("in/good.mid"), p("user-shards")],
                       1 - bad)

    def out_file(self, suffix: str, bad):
        p = self.w.p
        return _choice([p(f"out/new{suffix}"), p(f"out/new{suffix}"), p(f"out/new{suffix}"),
                        p(f"in/score{suffix}"), p(f"in/report{suffix}"), p(f"in/audio{suffix}"),
                        p(f"in/roll{suffix}")],
                       [p("in/mine.mid"), p("in/good.mid"), p("in/notes.txt"), p("out"),
                        p(f"missing-dir/x{suffix}"), p(f"ro/new{suffix}"), p("ro/keep.mid"),
                        p(f"out/new{suffix}.txt"), p(f"in/good.mid/x{suffix}"),
                        f"/proc/sys/new{suffix}"], 1 - bad)

    def checkpoint(self, bad):
        from musicgen_lib.checkpoints import BUNDLED
        from musicgen_lib.data.home import source_folder

        return _choice([str(BUNDLED / "thesis-chorales"), str(CHECKPOINTS / "thesis-jsb"),
                        str(CHECKPOINTS / "thesis-piano8"), str(CHECKPOINTS / "thesis-piano"),
                        str(source_folder("thesis-2018"))],
                       [str(CHECKPOINTS / "review-jsb" / "lstm"), self.w.p("a-run"),
                        self.w.p("user-run"), self.w.p("missing-dir"), self.w.p("in/good.mid")],
                       1 - bad)

    def _dataset(self, draw, datasets, bad, fine: bool = False):
        """``--dataset`` and its options; ``fine``: grids up to 96 steps per beat in a long
        run (train and evaluate stay at 8 at most: a model over 6 000 steps per piece takes
        minutes a step, which is work, not a hang)."""
        a = ["--dataset", draw(_choice(datasets, ["bogus"], 1 - bad / 3))]
        if a[1] in ("midi", "shards") or draw(st.integers(0, 99)) < 100 * bad:
            a += ["--path", draw(self.folder(bad))]
        a += draw(_opt("--resolution", _choice(["quarter", "8th", "16th"], ["bogus"], 1 - bad), 0.2))
        a += draw(_opt("--steps-per-beat", _int(st.integers(1, 96 if self.long and fine else 8),
                                                bad), 0.4))
        return a

    # ---- sub-commands

    @st.composite
    def sample(draw, self):
        bad = self._bad(draw)
        a = ["sample"]
        a += draw(_opt("--checkpoint", self.checkpoint(bad), 0.4))
        kind = draw(st.sampled_from(["none", "prime", "dataset", "dataset"]))
        if kind == "prime":
            a += ["--prime", draw(self.midi_input(bad))]
        elif kind == "dataset":
            a += ["--prime-dataset", draw(_choice(["chorales", "jsb", "piano-midi-de", "midi"],
                                                  ["bogus"], 1 - bad / 3))]
        if "midi" in a or draw(st.integers(0, 99)) < 100 * bad:
            a += ["--path", draw(self.folder(bad))]
        a += ["--steps", draw(_int(st.integers(1, self.steps), bad))]
        a += draw(_opt("--temperature", _float(st.floats(0.05, 3), bad), 0.3))
        a += draw(_opt("--gibbs-steps", _int(st.integers(1, 4), bad), 0.2))
        a += draw(_opt("--generator", _choice(
            [str(CHECKPOINTS / "thesis-piano" / "generator-path")],
            [str(CHECKPOINTS / "review-jsb" / "lstm"), self.w.p("a-run"), self.w.p("user-run"),
             self.w.p("missing-dir")], 1 - bad), 0.15))
        a += draw(_opt("--history", _int(st.integers(0, 64), bad), 0.2))
        a += draw(_opt("--seed", _int(st.integers(0, 2 ** 32 - 1), bad), 0.4))
        if draw(st.integers(0, 99)) >= 100 * bad / 3:
            a += ["--out", draw(self.out_file(".mid", bad))]
        return a + draw(_flag("--force"))

    @st.composite
    def render(draw, self):
        bad = self._bad(draw)
        a = ["render", draw(self.midi_input(bad))]
        outputs = draw(st.sampled_from([["--audio"], ["--score"], ["--roll"], ["--audio", "--roll"],
                                        ["--audio", "--score", "--roll"], []]))
        for o in outputs:
            a += [o, draw(self.out_file(draw(st.sampled_from([".wav", ".mp3", ".flac"]))
                                        if o == "--audio" else {"--score": ".svg", "--roll": ".png"}[o],
                                        bad))]
        a += draw(_opt("--start", _int(st.integers(1, 12), bad), 0.3))
        a += draw(_opt("--bars", _int(st.integers(1, 200), bad), 0.3))
        a += draw(_opt("--bpm", _float(st.floats(1, 1000), bad), 0.3))
        a += draw(_opt("--synth", _choice(["auto", "sine", "tinysoundfont"], ["bogus"], 1 - bad), 0.3))
        return a + draw(_flag("--force"))

    @st.composite
    def analyze(draw, self):
        bad = self._bad(draw)
        a = ["analyze", draw(st.one_of(self.midi_input(bad), self.folder(bad)))]
        a += draw(_flag("--json"))
        a += draw(_opt("--report", self.out_file(".html", bad), 0.3))
        a += draw(_opt("--window", _int(st.integers(1, 64), bad), 0.3))
        a += draw(_opt("--hop", _int(st.integers(1, 64), bad), 0.3))
        a += draw(_opt("--minor", _choice(["natural", "harmonic", "melodic"], ["bogus"], 1 - bad), 0.2))
        return a + draw(_flag("--force"))

    @st.composite
    def data(draw, self):
        bad = self._bad(draw)
        which = draw(st.sampled_from(["stats", "stats", "prepare", "home", "fetch"]))
        if which == "stats":
            a = ["data", "stats"] + self._dataset(draw, ["midi", "midi", "jsb", "piano-midi-de"],
                                                  bad, fine=True)
            a += draw(_opt("--semantics", _choice(["sounding", "onset"], ["bogus"], 1 - bad), 0.3))
            return a + draw(_flag("--no-cache")) + draw(_flag("--json"))
        if which == "prepare":
            a = ["data", "prepare", draw(self.folder(bad)),
                 "--out", draw(_choice([self.w.p("out/shards"), self.w.p("shards")],
                                       [self.w.p("user-shards"), self.w.p("user-run"),
                                        self.w.p("in/good.mid"), self.w.p("ro/shards"),
                                        "/proc/sys/shards"], 1 - bad))]
            a += draw(_opt("--steps-per-beat", _int(st.integers(1, 8), bad), 0.3))
            a += draw(_opt("--semantics", st.sampled_from(["sounding", "onset"]), 0.3))
            a += draw(_opt("--shard-size", _int(st.integers(1, 8), bad), 0.3))
            a += draw(_opt("--workers", _int(st.integers(1, 2), bad), 0.3))
            return a
        if which == "home":
            return ["data", "home"] + draw(_opt("--source", _choice(
                ["jsb", "piano-midi-de", "thesis-2018"], ["bogus"], 1 - bad), 0.5))
        # fetch: never the network; names that do not exist, or a mirror that does not either
        names = draw(st.sampled_from([["bogus"], ["jsb", "bogus"], ["jsb"]]))
        return ["data", "fetch", *names, "--home", self.w.p("out/home"),
                "--mirror", "file://" + self.w.p("missing-dir")]

    @st.composite
    def train(draw, self):
        bad = self._bad(draw)
        a = ["train", "--model", draw(_choice(["lstm", "lstm", "rnn-nade", "thesis",
                                               "thesis-decoder"], ["bogus"], 1 - bad / 3))]
        a += self._dataset(draw, ["midi", "midi", "shards", "jsb"], bad)
        a += draw(_opt("--config", _choice(
            [self.w.p("in/cfg-good.json")],
            [self.w.p(f"in/cfg-{k}.json") for k in ("nan", "garbage", "other", "unknown")]
            + [self.w.p("in/missing.json")], 1 - bad), 0.3))
        a += ["--out", draw(_choice([self.w.p("out/run"), self.w.p("a-run"), self.w.p("empty-dir")],
                                    [self.w.p("user-run"), self.w.p("in/good.mid"),
                                     self.w.p("ro/run"), "/proc/sys/run"], 1 - bad))]
        a += ["--max-steps", draw(_int(st.integers(1, 3), bad))]  # always: the default is 5000
        a += draw(_opt("--max-minutes", _float(st.floats(0.01, 5), bad), 0.2))
        a += draw(_opt("--seed", _int(st.integers(0, 2 ** 32 - 1), bad), 0.2))
        a += draw(_opt("--init", _choice([self.w.p("a-run")], [self.w.p("user-run"),
                                                                self.w.p("missing-dir")], 1 - bad), 0.15))
        a += draw(_opt("--threads", _int(st.integers(1, 2 if self.long else 1), bad), 0.2))
        a += draw(_opt("--device", _choice(["cpu"], ["cuda"], 1 - bad), 0.1))
        return a + draw(_flag("--resume")) + draw(_flag("--force")) + draw(_flag("--no-progress"))

    @st.composite
    def evaluate(draw, self):
        bad = self._bad(draw)
        a = ["evaluate", "--checkpoint", draw(_choice([
            self.w.p("a-run"), str(CHECKPOINTS / "review-jsb" / "lstm"),
            str(CHECKPOINTS / "review-jsb" / "rnn-nade"), str(CHECKPOINTS / "thesis-piano8")],
            [self.w.p("user-run"), self.w.p("missing-dir"), self.w.p("in/good.mid")], 1 - bad))]
        a += self._dataset(draw, ["midi", "midi", "shards"], bad)
        a += draw(_opt("--split", _choice(["train", "valid", "test"], ["bogus"], 1 - bad), 0.3))
        a += draw(_flag("--json"))
        # the thesis pair's likelihood (SMC and AIS) takes some 0.6 s per step with the
        # checkpoint's own chains and temperatures: always fewer here
        thesis = a[2] == str(CHECKPOINTS / "thesis-piano8")
        a += draw(_opt("--ais-chains", _int(st.integers(1, 8), bad), 1.0 if thesis else 0.2))
        a += draw(_opt("--ais-betas", _int(st.integers(1, 20), bad), 1.0 if thesis else 0.2))
        a += draw(_opt("--samples", _int(st.integers(1, 4), bad), 0.3))
        a += draw(_flag("--no-accuracy"))
        a += draw(_opt("--seed", _int(st.integers(0, 2 ** 32 - 1), bad), 0.2))
        a += draw(_opt("--threads", _int(st.integers(1, 2 if self.long else 1), bad), 0.2))
        return a

    MISC = (["--help"], ["sample", "--help"], ["bogus"], [], ["analyze", "--help"], ["data"],
            ["render", "--help"], ["train", "--help"], ["data", "stats"], ["sample"],
            ["evaluate", "--help"], ["data", "prepare", "--help"])

    def misc(self):
        return st.sampled_from(self.MISC)

    #: each sub-command's share of the invocations
    SHARES = (("sample", 0.25), ("render", 0.2), ("analyze", 0.12), ("data", 0.14),
              ("train", 0.14), ("evaluate", 0.1), ("misc", 0.05))

    def plan(self, invocations: int) -> list:
        """``(name, strategy, count)`` per sub-command; the counts add up to ``invocations``."""
        counts = [int(invocations * share) for _, share in self.SHARES]
        counts[-1] = min(counts[-1], len(self.MISC))  # so many distinct ones: then Hypothesis stops
        for i in range(invocations - sum(counts)):
            counts[i % (len(counts) - 1)] += 1
        return [(name, getattr(self, name)(), n) for (name, _), n in zip(self.SHARES, counts)]


# ---------------------------------------------------------------- one invocation

class Hang(BaseException):
    """Raised by the alarm in an invocation that ran past the timeout."""


@dataclass
class Outcome:
    argv: list
    code: object
    stdout: str
    stderr: str
    seconds: float
    problems: list


_INPUT_OPTS = ("--prime", "--path", "--config", "--checkpoint", "--generator", "--init")
_OUTPUT_OPTS = {"sample": ("--out",), "render": ("--audio", "--score", "--roll"),
                "analyze": ("--report",)}


def _value(argv, opt):
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == opt]


def allowed_changes(argv: list, w: World) -> set:
    """The protected files this invocation may change: a file output named with --force and
    not also an input; a run folder of ours with --force or --resume; shards of ours."""
    out = set()
    cmd = argv[0] if argv else ""
    inputs = {os.path.realpath(v) for o in _INPUT_OPTS for v in _value(argv, o)}
    if cmd in ("render", "analyze") and len(argv) > 1:
        inputs.add(os.path.realpath(argv[1]))
    if "--force" in argv:
        for o in _OUTPUT_OPTS.get(cmd, ()):
            out |= {os.path.realpath(v) for v in _value(argv, o)} - inputs
    if cmd == "train" and ("--force" in argv or "--resume" in argv) \
            and os.path.realpath(w.p("a-run")) in {os.path.realpath(v) for v in _value(argv, "--out")}:
        out |= {os.path.realpath(p) for p in w.saved if p.is_relative_to(w.root / "a-run")}
    if argv[:2] == ["data", "prepare"] and \
            os.path.realpath(w.p("shards")) in {os.path.realpath(v) for v in _value(argv, "--out")}:
        out |= {os.path.realpath(p) for p in w.saved if p.is_relative_to(w.root / "shards")}
    return out


def invoke(argv: list, w: World, timeout: float) -> Outcome:
    """Run ``main(argv)`` here; check the exit status, stderr and the user's files; put the
    folder back as it was."""
    import torch

    from musicgen_lib.cli import main

    threads = torch.get_num_threads()
    out, err = io.StringIO(), io.StringIO()
    problems, code = [], None

    def alarm(*_):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(max(1, int(timeout)))
    t0 = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    except Hang:
        problems.append(f"hang: no answer in {timeout:g} s")
    except SystemExit as e:
        code = e.code
        if code not in (0, 2):
            problems.append(f"SystemExit({code!r})")
    except BaseException as e:  # noqa: BLE001 - anything escaping main is a traceback
        problems.append("traceback: " + "".join(traceback.format_exception(e))[-1500:])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        torch.set_num_threads(threads)
    secs = time.monotonic() - t0
    stderr = err.getvalue()
    if code is not None and code not in (0, 2):
        problems.append(f"exit status {code!r}")
    if "Traceback" in stderr:
        problems.append("traceback on stderr")
    if code == 2:
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ": error: " in ln]
        if len(errors) != 1 or not lines[-1].startswith("musicgen") or ": error: " not in lines[-1]:
            problems.append(f"exit 2 without exactly one error line last on stderr: {stderr[-600:]!r}")
    problems += _check_files(argv, w)
    return Outcome(list(argv), code, out.getvalue(), stderr, secs, problems)


def _check_files(argv: list, w: World) -> list:
    """Compare the protected files with their saved copies; put back what changed (and say
    so unless allowed) and remove every file the invocation created."""
    problems = []
    allowed = allowed_changes(argv, w)
    for path, data in w.saved.items():
        try:
            now = path.read_bytes()
        except OSError:
            now = None
        if now is None or _sha(now) != w.hashes[path]:
            if os.path.realpath(path) not in allowed:
                problems.append(f"user file {'removed' if now is None else 'changed'}: {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.parent == w.root / "ro":
                os.chmod(path.parent, 0o755)
            path.write_bytes(data)
    os.chmod(w.root / "ro", 0o755)
    keep = set(w.saved)
    for path in _files(w.root):
        if path not in keep:
            path.unlink()
    for dirpath, _, _ in sorted(os.walk(w.root), key=lambda x: -len(x[0])):
        d = Path(dirpath)
        if d not in w.dirs and not d.is_relative_to(w.root / "cache"):
            shutil.rmtree(d, ignore_errors=True)
    os.chmod(w.root / "ro", 0o555)
    return problems


def invoke_process(argv: list, timeout: float) -> Outcome:
    """``musicgen ARGV`` as a real process, killed after ``timeout`` seconds (a hang)."""
    t0 = time.monotonic()
    problems = []
    try:
        r = subprocess.run([sys.executable, "-m", "musicgen_lib", *argv], capture_output=True,
                           text=True, timeout=timeout, cwd=ROOT)
        code, stdout, stderr = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        code, stdout, stderr = None, str(e.stdout or ""), str(e.stderr or "")
        problems.append(f"hang: process killed after {timeout:g} s")
    if code is not None and code not in (0, 2):
        problems.append(f"exit status {code}")
    if "Traceback" in stderr:
        problems.append("traceback on stderr: " + stderr[-1500:])
    return Outcome(list(argv), code, stdout, stderr, time.monotonic() - t0, problems)


# ---------------------------------------------------------------- the run

@dataclass
class Report:
    invocations: int = 0
    codes: dict = field(default_factory=dict)
    tracebacks: int = 0
    hangs: int = 0
    overwritten: int = 0
    memory: int = 0
    other: int = 0
    peak_rss_mb: int = 0
    slowest: tuple = (0.0, [])
    failures: list = field(default_factory=list)
    processes: int = 0
    commands: dict = field(default_factory=dict)

    def add(self, o: Outcome, rss_limit_mb: int) -> None:
        self.invocations += 1
        self.codes[o.code] = self.codes.get(o.code, 0) + 1
        name = " ".join(o.argv[:2] if o.argv[:1] == ["data"] else o.argv[:1]) or "(none)"
        self.commands.setdefault(name, {0: 0, 2: 0})
        if o.code in (0, 2):
            self.commands[name][o.code] += 1
        before = self.peak_rss_mb
        self.peak_rss_mb = max(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        problems = list(o.problems)
        if self.peak_rss_mb > rss_limit_mb and self.peak_rss_mb > before:  # this one raised it
            problems.append(f"memory: peak RSS {self.peak_rss_mb} MB over {rss_limit_mb} MB")
        if o.seconds > self.slowest[0]:
            self.slowest = (o.seconds, o.argv)
        for p in problems:
            if p.startswith("traceback") or p.startswith("exit status") or p.startswith("SystemExit"):
                self.tracebacks += 1
            elif p.startswith("hang"):
                self.hangs += 1
            elif p.startswith("user file"):
                self.overwritten += 1
            elif p.startswith("memory"):
                self.memory += 1
            else:
                self.other += 1
        if problems:
            self.failures.append((o.argv, problems))

    @property
    def ok(self) -> bool:
        return not self.failures

    def text(self, rss_limit_mb: int) -> str:
        lines = [f"{self.invocations} invocations ({self.processes} as processes): exit statuses "
                 + ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items(), key=str)),
                 "  by command (exit 0 / 2): " + "; ".join(
                     f"{k} {v[0]}/{v[2]}" for k, v in sorted(self.commands.items())),
                 f"  tracebacks {self.tracebacks}, hangs {self.hangs}, user files changed "
                 f"{self.overwritten}, memory over the limit {self.memory}, other {self.other}",
                 f"  peak RSS {self.peak_rss_mb} MB (limit {rss_limit_mb} MB); slowest "
                 f"{self.slowest[0]:.1f} s: musicgen {' '.join(self.slowest[1])}"]
        for argv, problems in self.failures[:30]:
            lines.append(f"  FAILURE musicgen {' '.join(argv)}")
            lines += [f"      {p}" for p in problems]
        return "\n".join(lines)


def run(w: World, invocations: int, seed: int = 0, timeout: float = 120.0,
        rss_limit_mb: int = 3000, steps: int = 16, long: bool = False, processes: int = 0,
        derandomize: bool = False, log=None) -> Report:
    """Run ``invocations`` drawn argument vectors in this process (and ``processes``
    ``musicgen sample`` processes); returns the :class:`Report`."""
    report = Report()
    strategies = Strategies(w, steps=steps, long=long)
    for k, (name, strategy, n) in enumerate(strategies.plan(invocations)):
        if n < 1:
            continue
        if name == "misc":  # a dozen fixed vectors: each once
            for argv in strategies.MISC[:n]:
                o = invoke(list(argv), w, timeout)
                report.add(o, rss_limit_mb)
                if log is not None:
                    log(o)
            continue

        @settings(max_examples=n, deadline=None, database=None, derandomize=derandomize,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(strategy)
        def one(argv):
            o = invoke(argv, w, timeout)
            report.add(o, rss_limit_mb)
            if log is not None:
                log(o)

        if not derandomize:
            one = hyp_seed(seed * 100 + k)(one)
        one()

    @settings(max_examples=max(processes, 1), deadline=None, database=None, derandomize=derandomize,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategies.sample())
    def process(argv):
        o = invoke_process(argv, timeout)
        _check_files(argv, w)  # put the folder back (a process may write its --out)
        report.add(o, rss_limit_mb)
        report.processes += 1
        if log is not None:
            log(o)

    if processes:
        if not derandomize:
            process = hyp_seed(seed + 1)(process)
        process()
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invocations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--processes", type=int, default=5,
                    help="musicgen sample runs as real processes (default 5)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a hang")
    ap.add_argument("--max-rss-mb", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=64, help="largest valid --steps drawn")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every invocation")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz_cli_") as tmp:
        os.environ["MUSICGEN_CACHE"] = str(Path(tmp) / "cache")
        t0 = time.monotonic()
        w = make_world(Path(tmp))
        n = [0]

        def log(o: Outcome):
            n[0] += 1
            if args.verbose or o.problems:
                print(f"[{n[0]}] {o.code} {o.seconds:.1f}s musicgen {' '.join(o.argv)}"
                      + "".join(f"\n    {p}" for p in o.problems), flush=True)
            elif n[0] % 100 == 0:
                print(f"[{n[0]}] {time.monotonic() - t0:.0f} s", flush=True)

        report = run(w, args.invocations, args.seed, args.timeout, args.max_rss_mb,
                     steps=args.steps, long=True, processes=args.processes, log=log)
        os.chmod(Path(tmp) / "ro", 0o755)
        print(f"\n{time.monotonic() - t0:.0f} s")
        print(report.text(args.max_rss_mb))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
