"""Outputs people look at and listen to: piano-roll plots, engraved scores."""
from .plots import plot_roll
from .score import score_svg

__all__ = ["plot_roll", "score_svg"]
