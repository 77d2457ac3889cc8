"""Outputs people look at and listen to: piano-roll plots, the Fig. 17 harmony chart,
engraved scores, audio (notebooks 01_representations, 09_harmony_analysis)."""
from .audio import AudioConfig, audio_player, render_audio, write_audio
from .plots import plot_harmony, plot_roll, plot_transitions, set_book_theme
from .score import ScoreConfig, roll_score_svg, roll_to_score, score_svg

__all__ = ["AudioConfig", "audio_player", "render_audio", "write_audio", "plot_harmony",
           "plot_roll", "plot_transitions", "set_book_theme", "ScoreConfig", "roll_score_svg", "roll_to_score",
           "score_svg"]
