"""Model names -> (class, config dataclass), and the JSON form of a configuration.

Explained in notebooks/04_independent_vs_dependent.ipynb (the comparison table builds its models
from these names).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..errors import MusicgenError
from .lstm_bernoulli import LSTMBernoulli, LSTMBernoulliConfig
from .mixture import Mixture, MixtureConfig
from .rbm import RBM, RBMConfig
from .rnn_nade import RNNNADE, RNNNADEConfig
from .rnn_rbm import RNNRBM, RNNRBMConfig
from .octave_decoder import DecoderConfig
from .thesis_seq import ThesisDecoderModel, ThesisModel, ThesisModelConfig


class ConfigError(MusicgenError):
    """A model name or configuration value that cannot be used."""


MODELS = {
    "lstm": (LSTMBernoulli, LSTMBernoulliConfig),   # independent Bernoulli keys (thesis §4.1)
    "rbm": (RBM, RBMConfig),                         # one RBM for every frame
    "rnn-rbm": (RNNRBM, RNNRBMConfig),               # Boulanger-Lewandowski et al. 2012
    "rnn-nade": (RNNNADE, RNNNADEConfig),            # Boulanger-Lewandowski et al. 2012
    "mixture": (Mixture, MixtureConfig),             # K exact models mixed at every step
    "thesis": (ThesisModel, ThesisModelConfig),      # Ivanov 2018: main module + voices (12-dim)
    "thesis-decoder": (ThesisDecoderModel, DecoderConfig),  # its octave decoder
}
_CELLS = ("rnn", "lstm", "gru")


def _default(f: dataclasses.Field):
    """A field's default value (also for fields with a default_factory)."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _type_ok(v, default) -> bool:
    """JSON value v fits a field whose default is `default` (ints are fine for floats)."""
    if isinstance(default, bool):
        return isinstance(v, bool)
    if isinstance(default, int):
        return isinstance(v, int) and not isinstance(v, bool)
    if isinstance(default, float):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, type(default))


def canonical(name: str) -> str:
    """'RNN_NADE' -> 'rnn-nade'; raises ConfigError for an unknown name."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return key


def make_config(name: str, values: dict | None = None):
    """The config dataclass of model `name` with `values` overriding its defaults (checked)."""
    cls = MODELS[canonical(name)][1]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(values or {})
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)} for model {canonical(name)}; "
                          f"known: {', '.join(fields)}")
    for k, v in values.items():
        if not _type_ok(v, _default(fields[k])):
            raise ConfigError(f"model option {k} must be {type(_default(fields[k])).__name__}, got {v!r}")
        if k == "cell" and v not in _CELLS:
            raise ConfigError(f"model option cell must be one of {', '.join(_CELLS)}, got {v!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise ConfigError(f"model option {k} must not be negative, got {v!r}")
    if "dropout" in values and not 0 <= values["dropout"] < 1:
        raise ConfigError(f"model option dropout must be in [0, 1), got {values['dropout']!r}")
    return cls(**{k: (float(v) if isinstance(_default(fields[k]), float) else v) for k, v in values.items()})


def build(name: str, cfg=None):
    """A fresh model `name` from a config dataclass or dict (None: defaults)."""
    key = canonical(name)
    if cfg is None or isinstance(cfg, dict):
        cfg = make_config(key, cfg)
    return MODELS[key][0](cfg)


def name_of(model) -> str:
    for key, (cls, _) in MODELS.items():
        if type(model) is cls:
            return key
    raise ConfigError(f"{type(model).__name__} is not a registered model")


def config_dict(model) -> dict:
    """{'model': name, 'config': {...}}: enough to rebuild the model."""
    return {"model": name_of(model), "config": dataclasses.asdict(model.cfg)}


def save_config(path, model, **extra) -> None:
    """Write config_dict(model) (plus extra sections such as 'train', 'data') as JSON."""
    from ..files import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps({**config_dict(model), **extra}, indent=2) + "\n").encode())


def load_config(path) -> dict:
    """Read a config.json; raises ConfigError with a one-line message if unusable."""
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


def model_from_config(d: dict):
    """Build the (untrained) model described by a config_dict()."""
    if "model" not in d:
        raise ConfigError("config has no 'model' entry")
    return build(d["model"], d.get("config"))
