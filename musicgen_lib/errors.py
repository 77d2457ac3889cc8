"""Errors the library raises for bad input.

Every message is one line that names the file (or value) and the problem, so the
command line can print it as it is, without a traceback.
"""


class MusicgenError(Exception):
    """Base class: a user-facing problem with input, configuration or files."""


class MidiError(MusicgenError):
    """A MIDI file that cannot be read: missing, empty, truncated, corrupt or absurd."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DataError(MusicgenError):
    """A dataset path or dataset option that cannot be used.

    Notebook: 02_tools."""


class CheckpointError(MusicgenError):
    """A checkpoint that is missing, corrupt or does not fit the model."""


class OutputError(MusicgenError):
    """An output that cannot be made: bad option, unwritable or protected path, nothing to
    analyse."""


class ConfigError(MusicgenError):
    """A model name, model option or training option that cannot be used."""
