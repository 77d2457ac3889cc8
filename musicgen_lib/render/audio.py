"""Piano rolls and MIDI files -> audio: a General MIDI piano, MP3 for the book
(notebook 09_harmony_analysis, and every notebook with a player).

The synthesiser is TinySoundFont (PyPI ``tinysoundfont``, a self-contained C synth; install
it with ``pip install --no-deps tinysoundfont`` — its declared ``pyaudio`` dependency is
only for live playback and does not build without PortAudio headers) playing the General
MIDI soundfont that ships inside ``pretty_midi`` (``TimGM6mb.sf2``, acoustic grand piano).
Where it is not installed, a **fallback** synthesises every note as a few decaying sine
partials; the result says so (:attr:`Rendering.synthesizer`, and a caption on the player).

Rendering is deterministic: the same notes give the same samples and the same MP3 bytes
(libsndfile's LAME encoder, through ``soundfile``), so notebooks with players pass strict
nbval. Audio for the book is mono, 22.05 kHz MP3 (30 s ≈ 130 KB, 175 KB in base64).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MusicgenError
from ..files import atomic_write_bytes

FORMATS = {".mp3": ("MP3", "MPEG_LAYER_III"), ".wav": ("WAV", "PCM_16"),
           ".flac": ("FLAC", "PCM_16")}
#: LAME variable-bitrate quality for MP3 (soundfile's ``compression_level``: 0 best, 1
#: smallest); 0.6 keeps a piano clear at ~35 kbit/s mono (30 s ≈ 130 KB).
MP3_COMPRESSION = 0.6
FALLBACK = "additive sine synthesis (fallback: tinysoundfont is not installed)"
#: The longest audio rendered, in seconds (the tail included): an hour of mono float32 at
#: 22.05 kHz is 320 MB, and rendering it and encoding it as WAV peaks at about 0.9 GB. Checked
#: before the samples are allocated (a 52-byte file at 16 s per beat asked for 136 GiB);
#: ``musicgen render`` renders the first hour of a longer file and says so.
MAX_SECONDS = 3600.0


class AudioError(MusicgenError):
    """Audio that cannot be rendered or written (unknown format, unreadable soundfont)."""


@dataclass(frozen=True)
class AudioConfig:
    """How notes become sound. Rolls are played at ``bpm`` with ``steps_per_beat`` steps per
    beat (MIDI files keep their own tempo map). ``synthesizer``: ``auto`` (TinySoundFont
    if installed, else the sine fallback), ``tinysoundfont`` or ``sine``. ``soundfont``:
    an .sf2 path (default: pretty_midi's ``TimGM6mb.sf2``); ``program``: General MIDI
    program (0 = acoustic grand piano). The result is peak-normalised to ``peak``.

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 04a_melody, 04b_voices, 04c_events_and_notes,
    04d_melody_vae, 04e_musegan, 04f_classifying_vae, 08_training_and_samples, 09_harmony_analysis."""

    sample_rate: int = 22050
    bpm: float = 120.0
    steps_per_beat: int = 4
    velocity: int = 80
    program: int = 0
    soundfont: str | None = None
    synthesizer: str = "auto"
    tail: float = 1.0
    peak: float = 0.9


@dataclass
class NoteEvents:
    """Notes in seconds; all arrays ``(N,)``."""

    start: np.ndarray     # seconds
    end: np.ndarray       # seconds, > start
    pitch: np.ndarray     # MIDI pitch
    velocity: np.ndarray  # 1..127

    @property
    def duration(self) -> float:
        return float(self.end.max()) if len(self.end) else 0.0


@dataclass
class Rendering:
    """Mono audio: ``samples`` ``(N,)`` float32 in [-1, 1] at ``sample_rate``, and the name
    of what made it."""

    samples: np.ndarray
    sample_rate: int
    synthesizer: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def is_fallback(self) -> bool:
        return self.synthesizer == FALLBACK


# ---------------------------------------------------------------- notes in seconds

def events_from_roll(roll, config: AudioConfig = AudioConfig(), velocity=None,
                     semantics: str = "sounding") -> NoteEvents:
    """Notes of a ``(T, 88)`` roll, played at ``config.bpm`` (``velocity``: optional
    ``(T, 88)`` MIDI velocities, else ``config.velocity``)."""
    from ..data.pianoroll import roll_to_notes

    notes = roll_to_notes(np.asarray(roll), config.steps_per_beat, semantics, velocity,
                          default_velocity=config.velocity)
    return events_from_notes(notes, config.bpm)


def events_from_notes(notes, bpm: float = 120.0) -> NoteEvents:
    """Notes of a :class:`~musicgen_lib.data.midi.NoteList` (ticks) at a fixed tempo."""
    sec = 60.0 / bpm / notes.ticks_per_beat
    return NoteEvents(notes.start * sec, notes.end * sec, notes.pitch.copy(),
                      np.clip(notes.velocity, 1, 127))


def events_from_midi(path) -> NoteEvents:
    """Notes of a MIDI file in seconds, through its tempo map (drums left out)."""
    from symusic import Score

    from ..data.midi import read_midi

    read_midi(path)  # the library's checks: one clear MidiError for a bad file
    score = _in_seconds(path, Score(str(path)))
    parts = [t.notes.numpy() for t in score.tracks if not t.is_drum and len(t.notes)]
    a = {k: np.concatenate([p[k] for p in parts]) for k in ("time", "duration", "pitch", "velocity")}
    start = a["time"].astype(np.float64)
    end = start + np.maximum(a["duration"].astype(np.float64), 1e-3)
    order = np.lexsort((a["pitch"], start))
    return NoteEvents(start[order], end[order], a["pitch"][order].astype(np.int64),
                      np.clip(a["velocity"][order], 1, 127).astype(np.int64))


def _in_seconds(path, score):
    """A symusic score (in ticks) of the file ``path`` converted to seconds through its tempo
    map; where several tempo events share a tick, the last one in the file wins
    (:func:`~musicgen_lib.data.midi.tempo_map`; symusic alone lets any of them win)."""
    from symusic import Tempo

    from ..data.midi import tempo_map

    ticks = [int(t.time) for t in score.tempos]
    if len(set(ticks)) < len(ticks):
        score.tempos.clear()
        score.tempos.extend([Tempo(t, mspq=m) for t, m in tempo_map(Path(path).read_bytes())])
    return score.to("second")


def clip_events(events: NoteEvents, start: float = 0.0, seconds: float | None = None) -> NoteEvents:
    """The notes sounding in ``[start, start + seconds)``, shifted to begin at 0 and cut at
    the end."""
    stop = np.inf if seconds is None else start + seconds
    keep = (events.end > start) & (events.start < stop)
    s = np.maximum(events.start[keep], start) - start
    e = np.minimum(events.end[keep], stop) - start
    return NoteEvents(s, e, events.pitch[keep], events.velocity[keep])


# ---------------------------------------------------------------- synthesis

def default_soundfont() -> Path:
    """pretty_midi's General MIDI soundfont ``TimGM6mb.sf2``."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def tinysoundfont_available() -> bool:
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=4)
def _loaded_soundfont(path: str):
    from tinysoundfont import _tinysoundfont as tsf

    try:
        return tsf.SoundFont(path)
    except Exception as e:
        raise AudioError(f"{path}: cannot load the soundfont ({' '.join(str(e).split())})") from None


def synthesize_soundfont(events: NoteEvents, config: AudioConfig = AudioConfig()) -> np.ndarray:
    """``(N,)`` float32 mono samples of the notes played by TinySoundFont."""
    from tinysoundfont import _tinysoundfont as tsf

    path = str(config.soundfont or default_soundfont())
    if not Path(path).exists():
        raise AudioError(f"{path}: no such soundfont")
    sf = tsf.SoundFont(_loaded_soundfont(path))  # a fresh clone: no state from earlier renders
    sr = config.sample_rate
    sf.set_output(tsf.OutputMode.Mono, sr, 0.0)
    sf.set_max_voices(256)
    preset = sf.get_preset_index(0, config.program)
    if preset < 0:
        raise AudioError(f"{path}: no General MIDI program {config.program} in bank 0")
    n = _n_samples(events, config)
    out = np.zeros(n, np.float32)
    raw = memoryview(out).cast("B")  # the binding wants a byte buffer (4 bytes per sample)
    # (sample, kind, pitch, velocity); note-offs (kind 0) before note-ons at the same sample
    on = np.rint(events.start * sr).astype(np.int64)
    off = np.maximum(np.rint(events.end * sr).astype(np.int64), on + 1)
    times = np.r_[off, on]
    kinds = np.r_[np.zeros(len(off), np.int64), np.ones(len(on), np.int64)]
    pitches = np.r_[events.pitch, events.pitch]
    vels = np.r_[events.velocity, events.velocity]
    order = np.lexsort((pitches, kinds, times))
    pos = 0
    for i in order.tolist():
        t = min(int(times[i]), n)
        if t > pos:
            sf.render(raw[4 * pos:4 * t])
            pos = t
        if kinds[i]:
            sf.note_on(preset, int(pitches[i]), float(vels[i]) / 127.0)
        else:
            sf.note_off(preset, int(pitches[i]))
    if pos < n:
        sf.render(raw[4 * pos:4 * n])
    return out


def _n_samples(events: NoteEvents, config: AudioConfig) -> int:
    """The length of the rendering in samples, checked against :data:`MAX_SECONDS` before
    anything is allocated."""
    seconds = events.duration + config.tail
    if not np.isfinite(seconds) or seconds > MAX_SECONDS:
        raise AudioError(f"the audio would last {seconds / 3600:.1f} hours; at most "
                         f"{MAX_SECONDS / 3600:g} hour is rendered (render a part of it)")
    return int(np.ceil(seconds * config.sample_rate))


def synthesize_sine(events: NoteEvents, config: AudioConfig = AudioConfig()) -> np.ndarray:
    """The fallback: each note as four sine partials (1, 1/2, 1/4, 1/8 in amplitude) under
    a piano-like envelope (5 ms attack, exponential decay, 80 ms release)."""
    sr = config.sample_rate
    n = _n_samples(events, config)
    out = np.zeros(n, np.float64)
    release = int(0.08 * sr)
    for s, e, p, v in zip(events.start.tolist(), events.end.tolist(),
                          events.pitch.tolist(), events.velocity.tolist()):
        i0 = int(round(s * sr))
        held = max(int(round(e * sr)) - i0, 1)
        m = min(held + release, n - i0)
        if m <= 0:
            continue
        t = np.arange(m) / sr
        f = 440.0 * 2 ** ((p - 69) / 12)
        wave = sum(a * np.sin(2 * np.pi * f * h * t) for h, a in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.125))
                   if f * h < sr / 2)
        env = np.minimum(t / 0.005, 1.0) * np.exp(-t * (1.5 + f / 500))
        if m > held:
            env[held:] *= np.linspace(1.0, 0.0, m - held)
        out[i0:i0 + m] += (v / 127.0) * wave * env
    return out.astype(np.float32)


def synthesize(events: NoteEvents, config: AudioConfig = AudioConfig()) -> Rendering:
    """Render notes with the configured synthesiser, peak-normalised."""
    kind = config.synthesizer
    if kind not in ("auto", "tinysoundfont", "sine"):
        raise AudioError(f"unknown synthesizer {kind!r} (choose auto, tinysoundfont or sine)")
    use_sf = kind == "tinysoundfont" or (kind == "auto" and tinysoundfont_available())
    if use_sf:
        if not tinysoundfont_available():
            raise AudioError("tinysoundfont is not installed (pip install --no-deps tinysoundfont)")
        samples = synthesize_soundfont(events, config)
        name = f"{Path(config.soundfont or default_soundfont()).name} via TinySoundFont"
    else:
        samples = synthesize_sine(events, config)
        name = FALLBACK if kind == "auto" else "additive sine synthesis"
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > 0:  # in place: the same float32 products, without a second copy of an hour
        samples *= config.peak / peak
    return Rendering(samples, config.sample_rate, name)


def render_audio(source, config: AudioConfig = AudioConfig(), start: float = 0.0,
                 seconds: float | None = None, velocity=None) -> Rendering:
    """Render a ``(T, 88)`` roll, a NoteList, :class:`NoteEvents` or a MIDI file path,
    optionally only ``seconds`` from ``start``."""
    if isinstance(source, NoteEvents):
        events = source
    elif isinstance(source, (str, os.PathLike)):
        events = events_from_midi(source)
    elif hasattr(source, "ticks_per_beat"):
        events = events_from_notes(source, config.bpm)
    else:
        events = events_from_roll(source, config, velocity)
    if start or seconds is not None:
        events = clip_events(events, start, seconds)
    return synthesize(events, config)


# ---------------------------------------------------------------- encoding and players

def encode(rendering: Rendering, fmt: str = ".mp3") -> bytes:
    """The audio as file bytes: ``.mp3`` (deterministic LAME VBR, :data:`MP3_COMPRESSION`),
    ``.wav`` or ``.flac``."""
    import soundfile

    fmt = fmt if fmt.startswith(".") else "." + fmt
    if fmt.lower() not in FORMATS:
        raise AudioError(f"unknown audio format {fmt!r} (choose {', '.join(FORMATS)})")
    container, subtype = FORMATS[fmt.lower()]
    buf = io.BytesIO()
    soundfile.write(buf, rendering.samples, rendering.sample_rate, format=container,
                    subtype=subtype,
                    compression_level=MP3_COMPRESSION if container == "MP3" else None)
    return buf.getvalue()


def audio_bytes(source, config: AudioConfig = AudioConfig(), fmt: str = ".mp3", **kw) -> bytes:
    """:func:`render_audio` then :func:`encode`."""
    return encode(render_audio(source, config, **kw), fmt)


def write_audio(source, path, config: AudioConfig = AudioConfig(), **kw) -> Rendering:
    """Render and write to ``path`` (format from the suffix: .mp3, .wav, .flac)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise AudioError(f"{path}: unknown audio format {path.suffix or '(no suffix)'!r} "
                         f"(choose {', '.join(FORMATS)})")
    rendering = render_audio(source, config, **kw)
    data = encode(rendering, path.suffix)
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise AudioError(f"{path}: cannot write ({e.strerror})") from None
    return rendering


def audio_player(source, config: AudioConfig = AudioConfig(), start: float = 0.0,
                 seconds: float | None = 30.0, velocity=None):
    """An ``IPython.display.Audio`` player of at most ``seconds`` of a roll, NoteList or
    MIDI file, embedded as MP3 (``audio/mpeg``). A fallback rendering carries a visible
    caption saying so.

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 04a_melody, 04b_voices, 04c_events_and_notes,
    04d_melody_vae, 04e_musegan, 04f_classifying_vae, 08_training_and_samples, 09_harmony_analysis."""
    rendering = render_audio(source, config, start, seconds, velocity)
    return _Player(encode(rendering, ".mp3"), rendering.synthesizer if rendering.is_fallback else None)


@lru_cache(maxsize=1)
def _player_class():
    from IPython.display import Audio

    class Player(Audio):
        """An embedded MP3 player; ``caption`` (if any) is shown above it."""

        def __init__(self, data: bytes, caption: str | None = None):
            super().__init__(data=data)
            self.mimetype = "audio/mpeg"
            self.caption = caption

        def _repr_html_(self):
            html = super()._repr_html_()
            if self.caption:
                html = f'<div><em>{self.caption}</em></div>{html}'
            return html

    return Player


def _Player(data: bytes, caption: str | None = None):
    return _player_class()(data, caption)


def mean_tempo(path) -> float:
    """Average tempo of a MIDI file in quarter notes per minute (its length in beats over its
    length in seconds) — the tempo at which to play its piano roll so that it lasts as long
    as the file (piano-midi.de files carry hundreds of tempo events).

    Notebook: 09_harmony_analysis."""
    from symusic import Score

    ticks = Score(str(path))
    secs = _in_seconds(path, ticks.copy())
    beats = ticks.end() / ticks.ticks_per_quarter
    return 60.0 * beats / secs.end() if secs.end() > 0 else 120.0
