"""Engraved scores: music21 stream -> MusicXML -> SVG with verovio (notebook
01_representations).

verovio is seeded (``xmlIdSeed``) so the SVG is byte-identical across runs, which lets
strict nbval compare it.
"""
from __future__ import annotations

import re


def score_svg(stream, width: int = 2000, scale: int = 40, page: int = 1) -> str:
    """Engrave a music21 stream (a score, part or measure range) as one SVG page."""
    import verovio
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    xml = GeneralObjectExporter(stream).parse().decode("utf-8")
    xml = re.sub(r"<encoding-date>[^<]*</encoding-date>", "", xml)  # today's date: unstable
    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.setOptions({"xmlIdSeed": 1, "pageWidth": width, "scale": scale, "adjustPageHeight": True,
                   "footer": "none", "header": "none", "breaks": "auto"})
    if not tk.loadData(xml):
        raise ValueError("verovio could not read the MusicXML exported by music21")
    return tk.renderToSVG(page)
