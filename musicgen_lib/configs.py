"""Options from JSON, checked: the one place where a dict of model or training options (from
``--config``, a run's ``config.json`` or a notebook) becomes a configuration dataclass.

Every configuration of the library is a dataclass whose defaults fix each option's type
(thesis defaults for the models). :func:`from_dict` checks the names and the types of the
values against them, and the bounds that hold for every option (finite, not negative); what
is specific to one model (a cell type, a loss name) its class checks. Errors are one line
(:class:`~musicgen_lib.errors.ConfigError`).

Notebook: 03_rnn_rbm (the configuration of a run), 04_independent_vs_dependent.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from .errors import ConfigError


def default_of(f: dataclasses.Field):
    """A field's default value (also for fields with a default_factory)."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def fits(value, default) -> bool:
    """Whether JSON ``value`` fits a field whose default is ``default`` (ints are fine for
    floats; a bool is never a number)."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def from_dict(cls, values: dict | None, what: str):
    """The dataclass ``cls`` with ``values`` overriding its defaults, checked: unknown names,
    values of the wrong type, numbers that are negative or not finite are refused with a
    one-line :class:`ConfigError` that calls the options ``what`` (e.g. "model option",
    "training option"). Numbers given as ints for float fields become floats."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(values or {})
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    for name, value in values.items():
        default = default_of(fields[name])
        if not fits(value, default):
            raise ConfigError(f"{what} {name} must be {type(default).__name__}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                not math.isfinite(value) or value < 0):
            raise ConfigError(f"{what} {name} must be a finite number, not negative, got {value!r}")
    return cls(**{name: (float(value) if isinstance(default_of(fields[name]), float) else value)
                  for name, value in values.items()})


def read_json(path) -> dict:
    """A JSON object from ``path`` (a run's ``config.json``, a ``--config`` file); one-line
    :class:`ConfigError` when the file is missing, unreadable or not an object."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return d


__all__ = ["default_of", "fits", "from_dict", "read_json"]
