"""Draw the README's picture, book/images/pianoroll.png, with the library.

    .venv/bin/python scripts/readme_figure.py

A Bach chorale from music21's corpus (public domain) as a piano roll of 88 keys and, below,
octave-compressed to 12 pitch classes with the octave mask.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from musicgen_lib.data import compress, load_dataset, octave_mask  # noqa: E402
from musicgen_lib.render import plot_roll  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "book" / "images" / "pianoroll.png"


def main():
    piece = next(p for p in load_dataset("chorales").pieces() if p.name == "bach/bwv347")
    roll = piece.roll[:128]
    x = compress(roll)
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    plot_roll(octave_mask(x) + roll, axes[0], pitch_range=(36, 84),
              title=f"{piece.name}: 88 keys (black) inside the octave mask (grey)")
    plot_roll(x, axes[1], title="the same, folded to 12 pitch classes")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=90)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
