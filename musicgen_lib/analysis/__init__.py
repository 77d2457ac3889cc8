"""Analysis of piano rolls: statistics and metrics as pure functions."""
from .metrics import pitch_class_counts, polyphony

__all__ = ["pitch_class_counts", "polyphony"]
