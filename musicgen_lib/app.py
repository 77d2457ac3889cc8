"""The interactive generator: pick a catalogued model and a one-bar prime, generate, listen
(notebook 11_play). Widgets only: the models come from :mod:`musicgen_lib.checkpoints`, the
primes from :mod:`musicgen_lib.data.primes`, generation from :mod:`musicgen_lib.play`, the
outputs from :mod:`musicgen_lib.render.notebook`.
"""
from __future__ import annotations

from pathlib import Path

from .checkpoints import PlayModel, available_models
from .data.primes import Prime, PrimeSource, prime_from_upload
from .errors import MusicgenError
from .play import PlayResult, generate
from .render.notebook import render_outputs, text_output

UPLOAD = "\x00upload"  # the prime dropdown's value for the uploaded file


class PlayApp:
    """Widgets to generate with any available model: model, prime (a test piece of the
    model's data, or an uploaded MIDI file's first bar), length in bars, temperature
    (thesis models only), seed, and a Generate button; the output shows the piano roll,
    an audio player, the score and a MIDI download link. Generates once with its defaults
    when created (``generate=False`` to skip).

    Notebook: 11_play."""

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
            self._sources[m.name] = PrimeSource(m.dataset, m.semantics, m.steps_per_beat,
                                                m.resolution, self.data)
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
        self.output.outputs = (text_output(text),)

    def _uploaded(self, change=None):
        files = self.upload_w.value
        if not files:
            return
        f = files[0]
        name, content = f["name"], bytes(f["content"])
        try:
            prime_from_upload(name, content, self.model.semantics,
                              self.model.steps_per_beat)  # check it now: a clear message
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
            return prime_from_upload(*self._upload, m.semantics, m.steps_per_beat)
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
