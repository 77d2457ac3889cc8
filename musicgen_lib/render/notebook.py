"""Showing a generated result in a notebook: its piano roll as PNG, an audio player, the
engraved score, a MIDI download link — as notebook outputs (notebook 11_play's app shows
them in an ``ipywidgets.Output``).

``result`` is a :class:`musicgen_lib.play.PlayResult` (any object with its attributes: the
rolls, ``steps_per_beat``, ``semantics``, ``midi``, ``bpm``, ``notes()`` and ``summary()``).
"""
from __future__ import annotations

import base64
import io


def download_link(midi: bytes, filename: str = "sample.mid", text: str | None = None) -> str:
    """An HTML link that downloads ``midi`` (embedded as a data: URL)."""
    b64 = base64.b64encode(midi).decode("ascii")
    return (f'<a download="{filename}" href="data:audio/midi;base64,{b64}">'
            f'{text or f"download the MIDI ({filename}, {len(midi):,} bytes)"}</a>')


def roll_png(result, dpi: int = 80) -> bytes:
    """The piano roll of a result as PNG bytes (a red line after the prime)."""
    from matplotlib.figure import Figure

    from .plots import plot_roll

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


def score_svg(result, max_bars: int = 16) -> str:
    """The engraved score (two piano staves) of at most ``max_bars`` bars of a result."""
    from .score import ScoreConfig, roll_score_svg

    n = max_bars * 4 * result.steps_per_beat
    onsets = result.model_roll[:n] if result.semantics == "onset" else None
    return roll_score_svg(result.roll[:n], ScoreConfig(steps_per_beat=result.steps_per_beat,
                                                       split="auto"), onsets=onsets)


def audio_html(result, seconds: float = 60.0) -> str:
    """An HTML audio player (MP3) of at most ``seconds`` of a result."""
    from .audio import AudioConfig, audio_player

    cfg = AudioConfig(bpm=result.bpm, steps_per_beat=result.steps_per_beat)
    return audio_player(result.notes(), cfg, seconds=seconds)._repr_html_()


def display_output(data: dict) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": data}


def text_output(line: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": line + "\n"}


def render_outputs(result, score_bars: int = 16) -> list:
    """Notebook outputs (dicts, as an ``ipywidgets.Output`` holds them) showing a result:
    the summary, the piano roll, an audio player, the score and a MIDI download link."""
    html_esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    bars = -(-len(result.roll) // (4 * result.steps_per_beat))
    shown = min(bars, score_bars)
    caption = (f"the score: {'all ' if shown == bars else 'the first '}{shown} bar"
               f"{'s' if shown > 1 else ''}")
    return [
        text_output(result.summary()),
        display_output({"image/png": base64.b64encode(roll_png(result)).decode("ascii"),
                  "text/plain": f"<piano roll of {result.model}>"}),
        display_output({"text/html": audio_html(result), "text/plain": "<audio>"}),
        display_output({"text/html": f"<p><em>{html_esc(caption)}</em></p>", "text/plain": caption}),
        display_output({"image/svg+xml": score_svg(result, score_bars), "text/plain": "<score>"}),
        display_output({"text/html": download_link(result.midi), "text/plain": "<MIDI download link>"}),
    ]


__all__ = ["download_link", "roll_png", "score_svg", "audio_html", "display_output", "text_output",
           "render_outputs"]
