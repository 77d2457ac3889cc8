"""An interactive generator: pick a trained model and a one-bar prime, generate, listen
(notebook 11_play).

Three kinds of committed checkpoint can generate:

``thesis-chorales``
    The thesis model (thesis §6) trained on the music21 Bach chorales
    (``checkpoints/thesis-chorales``): onset rolls, 4 steps per beat, with temperature.
``author-piano``
    The thesis author's published weights (``greats-model.pt``, ``greats-decoder.pt``),
    trained on piano music: onset rolls, 4 steps per beat, with temperature. Listed when a
    reference folder holding them is found.
``review-jsb/<name>``
    The reviewed models (thesis §4–5: LSTM, RBM, RNN-RBM, RNN-NADE, mixtures) under
    ``checkpoints/review-jsb/<name>/`` (``config.json`` + ``model.pt``), trained on JSB
    Chorales at one step per quarter note: sounding rolls, no temperature.

:func:`generate` continues a prime with any of them and returns a :class:`PlayResult`
(the roll in sounding semantics for display, and MIDI bytes); :class:`PlayApp` wraps it in
ipywidgets. Everything here is deterministic for a seed.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoints import BUNDLED, CHECKOUT_CHECKPOINTS, DEFAULT
from .data.home import source_folder
from .errors import DataError, MidiError, MusicgenError

CHECKPOINTS = CHECKOUT_CHECKPOINTS
#: Reviewed models that have a ``generate`` (the thesis model in the engine does not).
REVIEW_MODELS = ("lstm", "rbm", "rnn-rbm", "rnn-nade", "mixture")
#: Longest continuation :func:`generate` accepts, in steps.
MAX_STEPS = 4096
AUTHOR_FILES = ("greats-model.pt", "greats-decoder.pt")


# ---------------------------------------------------------------- the models

@dataclass(frozen=True)
class PlayModel:
    """A checkpoint that can generate, and the representation it works in."""

    name: str
    kind: str             # "thesis" (generator + octave decoder) or "review" (a SequenceModel)
    folder: Path
    dataset: str          # the data it was trained on: chorales, piano-midi-de, jsb, midi
    semantics: str        # onset or sounding
    steps_per_beat: int
    description: str
    bpm: float = 90.0     # playback tempo
    resolution: str | None = None  # JSB resolution (jsb only)

    @property
    def has_temperature(self) -> bool:
        return self.kind == "thesis"

    @property
    def label(self) -> str:
        return f"{self.name}: {self.description}"


def _review_model(folder: Path) -> PlayModel | None:
    """The reviewed model in ``folder``, or None if it is not one that can generate."""
    from .data.datasets import JSB_RESOLUTIONS

    if not ((folder / "config.json").is_file() and (folder / "model.pt").is_file()):
        return None
    try:
        cfg = json.loads((folder / "config.json").read_text())
        model = str(cfg["model"]).strip().lower().replace("_", "-")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if model not in REVIEW_MODELS:
        return None
    data = cfg.get("data") or {}
    dataset = data.get("dataset", "jsb")
    if dataset == "jsb":
        resolution = data.get("resolution", "quarter")
        spb = JSB_RESOLUTIONS.get(resolution, 1)
        where = f"JSB Chorales, {spb} step{'s' if spb > 1 else ''} per beat"
    else:
        resolution, spb = None, int(data.get("steps_per_beat", 4))
        where = f"{dataset}, {spb} steps per beat"
    return PlayModel(f"review-jsb/{folder.name}", "review", folder, dataset,
                     data.get("semantics", "sounding"), spb,
                     f"reviewed model {model} trained on {where}", 90.0, resolution)


def available_models(reference=None, checkpoints=None) -> list:
    """The committed checkpoints that can generate, as :class:`PlayModel` s: the thesis
    model trained on the chorales (shipped with the package), the author's weights when
    ``reference`` (default: the data home's ``thesis-2018``) holds them, and every reviewed
    model under ``checkpoints/review-jsb/`` (a missing folder is simply not listed)."""
    root = Path(checkpoints) if checkpoints is not None else CHECKPOINTS
    reference = Path(reference) if reference is not None else source_folder("thesis-2018")
    out = []
    own = BUNDLED / DEFAULT if checkpoints is None else root / DEFAULT
    if (own / "generator").is_dir() and (own / "decoder").is_dir():
        out.append(PlayModel("thesis-chorales", "thesis", own, "chorales", "onset", 4,
                             "the thesis model trained on the music21 Bach chorales", 90.0))
    if all((reference / f).is_file() for f in AUTHOR_FILES):
        out.append(PlayModel("author-piano", "thesis", reference, "piano-midi-de", "onset", 4,
                             "the thesis author's published weights, trained on piano music",
                             120.0))
    review = root / "review-jsb"
    if review.is_dir():
        for folder in sorted(p for p in review.iterdir() if p.is_dir()):
            m = _review_model(folder)
            if m is not None:
                out.append(m)
    return out


def find_model(model, reference=None, checkpoints=None) -> PlayModel:
    """A :class:`PlayModel` by name (or the model itself)."""
    if isinstance(model, PlayModel):
        return model
    models = available_models(reference, checkpoints)
    for m in models:
        if m.name == model:
            return m
    raise MusicgenError(f"no model {model!r} (available: {', '.join(m.name for m in models)})")


_LOADED: dict = {}


def load_model(model: PlayModel):
    """The networks of a model, loaded once: ``(generator, decoder)`` for the thesis model,
    the :class:`~musicgen_lib.models.base.SequenceModel` for a reviewed one."""
    key = (model.kind, str(model.folder))
    if key not in _LOADED:
        if model.kind == "thesis":
            from .sample import load_thesis_model

            _LOADED[key] = load_thesis_model(model.folder)
        else:
            from .train import load_trained

            _LOADED[key] = load_trained(model.folder)[0]
    return _LOADED[key]


# ---------------------------------------------------------------- primes

@dataclass
class Prime:
    """A prime: ``roll`` (n, 88) uint8 in a model's semantics and steps per beat."""

    name: str
    roll: np.ndarray


def first_bar(roll, steps_per_beat: int = 4, beats_per_bar: int = 4,
              source: str = "prime") -> np.ndarray:
    """The first bar (on the bar grid from step 0) that holds a note; raises DataError when
    ``roll`` holds none."""
    roll = np.asarray(roll, dtype=np.uint8)
    sounding = np.flatnonzero(roll.any(axis=1)) if roll.ndim == 2 else np.zeros(0, int)
    if not len(sounding):
        raise DataError(f"{source}: holds no notes on the 88 piano keys")
    bar = max(1, int(steps_per_beat * beats_per_bar))
    a = int(sounding[0] // bar * bar)
    out = np.zeros((bar, roll.shape[1]), np.uint8)
    part = roll[a:a + bar]
    out[:len(part)] = part
    return out


def _beats_per_bar(notes, steps_per_beat: int) -> int:
    """Beats (quarter notes) per bar from a note list's first time signature, if it makes
    a whole number of steps; else 4."""
    if notes.time_signatures:
        _, num, den = notes.time_signatures[0]
        beats = num * 4 / den if den else 0
        if beats > 0 and (beats * steps_per_beat) == int(beats * steps_per_beat):
            return beats  # may be fractional (6/8 = 3 beats; 3/8 = 1.5)
    return 4


def prime_from_notes(notes, model: PlayModel, name: str) -> Prime:
    """The first bar of a note list, in ``model``'s semantics and steps per beat."""
    from .data import notes_to_roll

    roll = notes_to_roll(notes, model.steps_per_beat, model.semantics)
    beats = _beats_per_bar(notes, model.steps_per_beat)
    return Prime(name, first_bar(roll, model.steps_per_beat, beats, source=name))


def prime_from_midi(path, model: PlayModel, name: str | None = None) -> Prime:
    """The first bar of a MIDI file (what ``midi_to_roll`` reads) in ``model``'s semantics.
    Raises :class:`MidiError` naming the file (``name`` if given) for a bad one."""
    from .data import read_midi

    name = name or Path(path).name
    try:
        notes = read_midi(path)
    except MidiError as e:
        raise MidiError(name, e.problem) from None
    if not len(notes):
        raise MidiError(name, "no notes")
    try:
        return prime_from_notes(notes, model, name)
    except DataError as e:  # no note on the 88 keys
        raise MidiError(name, str(e).split(": ", 1)[-1]) from None


def prime_from_upload(name: str, content: bytes, model: PlayModel) -> Prime:
    """The first bar of an uploaded MIDI file's bytes; errors name the upload."""
    name = Path(str(name) or "upload.mid").name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.mid"
        path.write_bytes(bytes(content))
        return prime_from_midi(path, model, name)


@functools.lru_cache(maxsize=1)
def _test_chorales() -> tuple:
    """(name, file) of the music21 chorales in the test split (names only: each is parsed
    when chosen, so the app needs no parse of the whole corpus)."""
    from .data.datasets import chorale_files

    return tuple(chorale_files("test"))


@functools.lru_cache(maxsize=8)
def _dataset(name: str, path: str, semantics: str, steps_per_beat: int, resolution):
    from .data import load_dataset

    return load_dataset(name, path, semantics=semantics, steps_per_beat=steps_per_beat,
                        resolution=resolution or "quarter")


class PrimeSource:
    """The test pieces that can prime a model: those of its own dataset when it is in the data
    home (``data``, default :func:`~musicgen_lib.data.home.data_home`), else the music21
    chorales (always there)."""

    def __init__(self, model: PlayModel, data=None):
        from .data.home import require

        self.model = model
        self.dataset, self.note, self._pieces = "chorales", "", None
        if model.dataset in ("jsb", "piano-midi-de"):
            try:
                ds = _dataset(model.dataset, str(require(model.dataset, data)), model.semantics,
                              model.steps_per_beat, model.resolution)
                self._pieces = {p.name: p for p in ds.pieces("test") if p.roll.any()}
                self.dataset = model.dataset
            except MusicgenError:
                self.note = (f"{model.dataset} is not in the data home (`musicgen data fetch "
                             f"{model.dataset}`): priming with chorales")
        elif model.dataset not in ("chorales",):
            self.note = f"priming with chorales ({model.dataset} is not browsable here)"

    def names(self) -> list:
        if self._pieces is not None:
            return list(self._pieces)
        return [n for n, _ in _test_chorales()]

    def prime(self, name: str) -> Prime:
        label = f"{self.dataset} {name}"
        if self._pieces is not None:
            if name not in self._pieces:
                raise DataError(f"{self.dataset} has no test piece {name!r}")
            p = self._pieces[name]
            return Prime(label, first_bar(p.roll, self.model.steps_per_beat, source=label))
        files = dict(_test_chorales())
        if name not in files:
            raise DataError(f"no test chorale {name!r}")
        from .data.datasets import chorale_notes

        return prime_from_notes(chorale_notes(files[name]), self.model, label)


# ---------------------------------------------------------------- generation

@dataclass
class PlayResult:
    """Prime + continuation. ``model_roll`` (T, 88) is in the model's semantics; ``roll``
    (T, 88) is what sounds (``onset_to_sounding`` of an onset roll), for display."""

    model: str
    prime_name: str
    seed: int
    temperature: float | None
    steps_per_beat: int
    semantics: str
    prime_steps: int
    model_roll: np.ndarray
    roll: np.ndarray
    velocity: np.ndarray | None
    midi: bytes
    bpm: float
    seconds: float = field(default=0.0, compare=False)  # time the generation took

    @property
    def steps(self) -> int:
        """Generated steps (after the prime)."""
        return len(self.model_roll) - self.prime_steps

    def notes(self):
        from .data import roll_to_notes

        return roll_to_notes(self.model_roll, self.steps_per_beat, self.semantics, self.velocity)

    def checksum(self) -> str:
        """A short hash of the roll in the model's semantics (equal rolls, equal checksums)."""
        return hashlib.sha256(np.ascontiguousarray(self.model_roll, np.uint8).tobytes()) \
            .hexdigest()[:12]

    def summary(self) -> str:
        """Two short deterministic lines: model and settings; prime, steps, notes, checksum."""
        temp = "" if self.temperature is None else f", temperature {self.temperature:g}"
        return (f"{self.model} (seed {self.seed}{temp}), prime {self.prime_name}:\n"
                f"  {self.prime_steps} + {self.steps} steps at {self.steps_per_beat} per beat, "
                f"{len(self.notes())} notes, roll {self.checksum()}")


def _midi_bytes(roll, steps_per_beat, semantics, velocity, bpm) -> bytes:
    from .data import roll_to_midi

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.mid"
        roll_to_midi(roll, path, steps_per_beat, semantics, velocity=velocity, tempo_bpm=bpm)
        return path.read_bytes()


def generate(model, prime, steps: int = 128, temperature: float = 1.0, seed: int = 0, *,
             prime_name: str = "prime", reference=None, checkpoints=None) -> PlayResult:
    """Continue ``prime`` ((n, 88) 0/1 roll in the model's semantics and steps per beat, or
    a :class:`Prime`) by ``steps`` steps with ``model`` (a name from :func:`available_models`
    or a :class:`PlayModel`). ``temperature`` applies to the thesis models only (the
    reviewed ones have none). Deterministic for a seed; runs torch on one thread."""
    import torch

    m = find_model(model, reference, checkpoints)
    if isinstance(prime, Prime):
        prime_name, prime = prime.name, prime.roll
    prime = np.asarray(prime)
    if prime.ndim != 2 or prime.shape[1] != 88 or len(prime) < 1:
        raise DataError(f"{prime_name}: a prime must be a (steps, 88) roll, not shape "
                        f"{tuple(prime.shape)}")
    prime = (prime > 0).astype(np.uint8)
    steps = int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise DataError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")
    if m.has_temperature and not float(temperature) > 0:
        raise DataError(f"temperature must be positive, not {temperature}")
    nets = load_model(m)
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if m.kind == "thesis":
            from .sample import generate as thesis_generate

            s = thesis_generate(*nets, prime, steps=steps, temperature=float(temperature),
                                seed=int(seed))
            cont, cvel = s.roll[0], s.velocity[0]
            velocity = np.concatenate([np.where(prime > 0, 80, 0), cvel]).astype(np.uint8)
            temp = float(temperature)
        else:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                torch.manual_seed(int(seed))
                out = nets.generate(steps, batch=1,
                                    prime=torch.as_tensor(prime, dtype=torch.float32)[None])
            cont, velocity, temp = out[0].numpy().astype(np.uint8), None, None
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    full = np.concatenate([prime, cont]).astype(np.uint8)
    if m.semantics == "onset":
        from .data import onset_to_sounding

        shown = onset_to_sounding(full)
    else:
        shown = full
    return PlayResult(m.name, prime_name, int(seed), temp, m.steps_per_beat, m.semantics,
                      len(prime), full, shown, velocity,
                      _midi_bytes(full, m.steps_per_beat, m.semantics, velocity, m.bpm),
                      m.bpm, seconds)


# ---------------------------------------------------------------- rendering

def download_link(midi: bytes, filename: str = "sample.mid", text: str | None = None) -> str:
    """An HTML link that downloads ``midi`` (embedded as a data: URL)."""
    b64 = base64.b64encode(midi).decode("ascii")
    return (f'<a download="{filename}" href="data:audio/midi;base64,{b64}">'
            f'{text or f"download the MIDI ({filename}, {len(midi):,} bytes)"}</a>')


def roll_png(result: PlayResult, dpi: int = 80) -> bytes:
    """The piano roll of a result as PNG bytes (a red line after the prime)."""
    from matplotlib.figure import Figure

    from .render.plots import plot_roll

    fig = Figure(figsize=(12, 3.6))
    ax = fig.subplots()
    plot_roll(result.roll, ax, steps_per_beat=result.steps_per_beat,
              title=f"{result.model}: {result.prime_name} (first bar), then "
                    f"{result.steps} generated steps")
    ax.axvline(result.prime_steps - 0.5, color="red")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def score_svg(result: PlayResult, max_bars: int = 16) -> str:
    """The engraved score (two piano staves) of at most ``max_bars`` bars of a result."""
    from .render.score import ScoreConfig, roll_score_svg

    n = max_bars * 4 * result.steps_per_beat
    onsets = result.model_roll[:n] if result.semantics == "onset" else None
    return roll_score_svg(result.roll[:n], ScoreConfig(steps_per_beat=result.steps_per_beat,
                                                       split="auto"), onsets=onsets)


def audio_html(result: PlayResult, seconds: float = 60.0) -> str:
    """An HTML audio player (MP3) of at most ``seconds`` of a result."""
    from .render.audio import AudioConfig, audio_player

    cfg = AudioConfig(bpm=result.bpm, steps_per_beat=result.steps_per_beat)
    return audio_player(result.notes(), cfg, seconds=seconds)._repr_html_()


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": data}


def _text(line: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": line + "\n"}


def render_outputs(result: PlayResult, score_bars: int = 16) -> list:
    """Notebook outputs (dicts, as an ``ipywidgets.Output`` holds them) showing a result:
    the summary, the piano roll, an audio player, the score and a MIDI download link."""
    html_esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    bars = -(-len(result.roll) // (4 * result.steps_per_beat))
    shown = min(bars, score_bars)
    caption = (f"the score: {'all ' if shown == bars else 'the first '}{shown} bar"
               f"{'s' if shown > 1 else ''}")
    return [
        _text(result.summary()),
        _display({"image/png": base64.b64encode(roll_png(result)).decode("ascii"),
                  "text/plain": f"<piano roll of {result.model}>"}),
        _display({"text/html": audio_html(result), "text/plain": "<audio>"}),
        _display({"text/html": f"<p><em>{html_esc(caption)}</em></p>", "text/plain": caption}),
        _display({"image/svg+xml": score_svg(result, score_bars), "text/plain": "<score>"}),
        _display({"text/html": download_link(result.midi), "text/plain": "<MIDI download link>"}),
    ]


# ---------------------------------------------------------------- the app

UPLOAD = "\x00upload"  # the prime dropdown's value for the uploaded file


class PlayApp:
    """Widgets to generate with any available model: model, prime (a test piece of the
    model's data, or an uploaded MIDI file's first bar), length in bars, temperature
    (thesis models only), seed, and a Generate button; the output shows the piano roll,
    an audio player, the score and a MIDI download link. Generates once with its defaults
    when created (``generate=False`` to skip)."""

    def __init__(self, data=None, reference=None, checkpoints=None, model: str | None = None,
                 prime: str | None = None, bars: int = 8, temperature: float = 1.0,
                 seed: int = 0, generate: bool = True):
        import ipywidgets as w

        self.data, self.reference, self.checkpoints = data, reference, checkpoints
        self.models = {m.name: m for m in available_models(reference, checkpoints)}
        if not self.models:
            raise MusicgenError("no model to generate with: the bundled thesis-chorales is "
                                "missing and no reference folder was found")
        self.result: PlayResult | None = None
        self.message: str | None = None
        self._upload: tuple | None = None  # (name, bytes)
        self._sources: dict = {}
        wide = w.Layout(width="95%")
        style = {"description_width": "90px"}
        self.model_w = w.Dropdown(options=[(m.label, m.name) for m in self.models.values()],
                                  value=model or next(iter(self.models)),
                                  description="model", layout=wide, style=style)
        self.prime_w = w.Dropdown(description="prime", layout=wide, style=style)
        self.upload_w = w.FileUpload(accept=".mid,.midi", multiple=False, icon="",
                                     description="MIDI prime")
        self.bars_w = w.IntSlider(value=bars, min=1, max=32, description="length (bars)",
                                  style=style, layout=w.Layout(width="420px"))
        self.steps_w = w.Label()
        self.temperature_w = w.FloatSlider(value=temperature, min=0.1, max=2.0, step=0.05,
                                           description="temperature", style=style,
                                           layout=w.Layout(width="420px"))
        self.seed_w = w.IntText(value=seed, description="seed", style=style,
                                layout=w.Layout(width="200px"))
        self.button = w.Button(description="Generate", button_style="primary")
        self.status_w = w.Label()
        self.output = w.Output()
        self.widget = w.VBox([
            self.model_w,
            w.HBox([self.prime_w]),
            w.HBox([self.upload_w, w.Label("(a MIDI file's first bar primes the model)")]),
            w.HBox([self.bars_w, self.steps_w]),
            self.temperature_w,
            w.HBox([self.seed_w, self.button, self.status_w]),
            self.output,
        ])
        self._model_changed()
        if prime is not None:
            self.prime_w.value = prime
        self.model_w.observe(self._model_changed, names="value")
        self.bars_w.observe(self._update_steps, names="value")
        self.upload_w.observe(self._uploaded, names="value")
        self.button.on_click(self.generate)
        if generate:
            self.generate()

    # -- state
    @property
    def model(self) -> PlayModel:
        return self.models[self.model_w.value]

    @property
    def steps(self) -> int:
        return self.bars_w.value * 4 * self.model.steps_per_beat

    def _source(self, m: PlayModel) -> PrimeSource:
        if m.name not in self._sources:
            self._sources[m.name] = PrimeSource(m, self.data)
        return self._sources[m.name]

    def _model_changed(self, change=None):
        m = self.model
        src = self._source(m)
        options = [(f"{src.dataset} test: {n}", n) for n in src.names()]
        if self._upload is not None:
            options.insert(0, (f"uploaded: {self._upload[0]}", UPLOAD))
        keep = self.prime_w.value if self.prime_w.value == UPLOAD else None
        self.prime_w.options = options
        self.prime_w.value = keep or (options[0][1] if options else None)
        self.temperature_w.disabled = not m.has_temperature
        self.temperature_w.description = "temperature" if m.has_temperature else "(no temp.)"
        self.status_w.value = src.note
        self._update_steps()

    def _update_steps(self, change=None):
        m = self.model
        self.steps_w.value = f"= {self.steps} steps ({m.steps_per_beat} per beat)"

    def _show_message(self, text: str):
        self.message = text
        self.output.outputs = (_text(text),)

    def _uploaded(self, change=None):
        files = self.upload_w.value
        if not files:
            return
        f = files[0]
        name, content = f["name"], bytes(f["content"])
        try:
            prime_from_upload(name, content, self.model)  # check it now: a clear message
        except MusicgenError as e:
            self._show_message(f"cannot use the uploaded file: {e}")
            return
        except Exception as e:  # a parser failure the library did not foresee: still one line
            self._show_message(f"cannot use the uploaded file: {Path(name).name}: "
                               f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
            return
        self._upload = (Path(name).name, content)
        self._model_changed()
        self.prime_w.value = UPLOAD
        self.status_w.value = f"uploaded {self._upload[0]}: press Generate"

    def prime(self) -> Prime:
        """The selected prime in the current model's semantics."""
        m = self.model
        if self.prime_w.value == UPLOAD and self._upload is not None:
            return prime_from_upload(*self._upload, m)
        return self._source(m).prime(self.prime_w.value)

    # -- generating
    def generate(self, *_):
        """Generate with the current settings and show the result (or a one-line error)."""
        self.button.disabled = True
        self.status_w.value = "generating…"
        try:
            m = self.model
            self.result = generate(m, self.prime(), self.steps, self.temperature_w.value,
                                   self.seed_w.value)
            self.message = None
            self.output.outputs = tuple(render_outputs(self.result))
            self.status_w.value = f"generated in {self.result.seconds:.1f} s"
        except MusicgenError as e:
            self._show_message(f"error: {e}")
            self.status_w.value = ""
        except Exception as e:  # never a traceback in the app
            self._show_message(f"error: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
            self.status_w.value = ""
        finally:
            self.button.disabled = False
        return self.result

    def summary(self) -> str:
        if self.message:
            return f"PlayApp: {self.message}"
        if self.result is None:
            return "PlayApp: nothing generated yet"
        return f"PlayApp: {self.result.summary()}"

    # -- display: the widgets, with a deterministic plain-text form (what nbval compares)
    def _repr_mimebundle_(self, **kwargs):
        show = getattr(self.widget, "_repr_mimebundle_", None)
        bundle = dict(show(**kwargs) or {}) if callable(show) else {}  # None once closed
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self) -> str:
        return self.summary()
