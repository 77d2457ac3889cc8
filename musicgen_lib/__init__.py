"""musicgen_lib: the library behind the book *Neural Music Generation — a runnable account*.

The layout follows the data: ``data`` (MIDI -> piano rolls -> fragments), ``models``,
training, sampling, analysis and rendering. Each module's docstring names the notebook
that explains it.
"""
from .errors import CheckpointError, DataError, MidiError, MusicgenError

__version__ = "0.1.0"
__all__ = ["MusicgenError", "MidiError", "DataError", "CheckpointError", "__version__"]
