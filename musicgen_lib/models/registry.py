"""Model names -> (class, config dataclass), and the JSON form of a configuration.

Explained in notebooks/04_independent_vs_dependent.ipynb (the comparison table builds its models
from these names).
"""
from __future__ import annotations

import dataclasses
import json

from ..configs import from_dict, read_json
from ..errors import ConfigError
from ..files import atomic_write_bytes
from .bachprop import BachProp, BachPropConfig
from .biaxial import Biaxial, BiaxialConfig
from .classifying_vae import ClassifyingVAE, ClassifyingVAEConfig
from .deepbach import DeepBach, DeepBachConfig
from .lstm_bernoulli import LSTMBernoulli, LSTMBernoulliConfig
from .melody_lstm import MelodyLSTM, MelodyLSTMConfig
from .mixture import Mixture, MixtureConfig
from .music_vae import MusicVAE, MusicVAEConfig
from .musegan import MuseGAN, MuseGANConfig
from .octave_decoder import DecoderConfig
from .performance_rnn import PerformanceRNN, PerformanceRNNConfig
from .rbm import RBM, RBMConfig
from .rnn_dbn import RNNDBN, RNNDBNConfig
from .rnn_nade import RNNNADE, RNNNADEConfig
from .rnn_rbm import RNNRBM, RNNRBMConfig
from .thesis_seq import ThesisDecoderModel, ThesisGeneratorModel, ThesisGeneratorModelConfig
from .transformer_nade import TransformerNADE, TransformerNADEConfig

MODELS = {
    "lstm": (LSTMBernoulli, LSTMBernoulliConfig),   # independent Bernoulli keys (thesis §4.1)
    "rbm": (RBM, RBMConfig),                         # one RBM for every frame
    "rnn-rbm": (RNNRBM, RNNRBMConfig),               # Boulanger-Lewandowski et al. 2012
    "rnn-nade": (RNNNADE, RNNNADEConfig),            # Boulanger-Lewandowski et al. 2012
    "rnn-dbn": (RNNDBN, RNNDBNConfig),               # Goel et al. 2014: a two-layer DBN per step
    #                                                  (an importance-weighted bound)
    "mixture": (Mixture, MixtureConfig),             # K exact models mixed at every step
    "biaxial": (Biaxial, BiaxialConfig),             # Johnson 2017: tied parallel networks
    "transformer-nade": (TransformerNADE, TransformerNADEConfig),  # relative attention over frames,
    #                                                                a NADE per frame (exact)
    "classifying-vae": (ClassifyingVAE, ClassifyingVAEConfig),  # thesis §5.4: the key as a latent
    #                                                            of every frame (a bound)
    "deepbach": (DeepBach, DeepBachConfig),          # Hadjeres et al. 2017: labelled SATB voices,
    #                                                  pseudo-likelihood (dataset jsb-satb)
    "performance-rnn": (PerformanceRNN, PerformanceRNNConfig),  # Simon & Oore 2017: events
    #                                                             (dataset piano-events)
    "melody-lstm": (MelodyLSTM, MelodyLSTMConfig),  # thesis §5.1: lag inputs, time features
    #                                                  (dataset chorale-melodies)
    "music-vae": (MusicVAE, MusicVAEConfig),        # thesis §5.1, Fig. 4: hierarchical VAE of
    #                                                  melody segments (dataset chorale-melodies)
    "musegan": (MuseGAN, MuseGANConfig),             # thesis §5.5, Fig. 7: a small MuseGAN, one track
    #                                                  (adversarial: trained by train_gan)
    "bachprop": (BachProp, BachPropConfig),          # Colombo & Gerstner 2018: note triples
    #                                                  (dataset chorale-triples)
    "thesis": (ThesisGeneratorModel, ThesisGeneratorModelConfig),  # Ivanov 2018: main module +
    #                                                                voices (12-dim)
    "thesis-decoder": (ThesisDecoderModel, DecoderConfig),  # its octave decoder
}
_CELLS = ("rnn", "lstm", "gru")


def canonical(name: str) -> str:
    """'RNN_NADE' -> 'rnn-nade'; raises ConfigError for an unknown name."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return key


def make_config(name: str, values: dict | None = None):
    """The config dataclass of model `name` with `values` overriding its defaults (checked by
    :func:`musicgen_lib.configs.from_dict`, plus the options every model shares)."""
    cfg = from_dict(MODELS[canonical(name)][1], values, "model option")
    if getattr(cfg, "cell", "lstm") not in _CELLS:
        raise ConfigError(f"model option cell must be one of {', '.join(_CELLS)}, got {cfg.cell!r}")
    if not 0 <= getattr(cfg, "dropout", 0.0) < 1:
        raise ConfigError(f"model option dropout must be in [0, 1), got {cfg.dropout!r}")
    return cfg


def build(name: str, cfg=None):
    """A fresh model `name` from a config dataclass or dict (None: defaults). A mixture's
    members are built here, by their own names (a mixture of mixtures is refused).

    Notebook: 02_tools, 03_rnn_rbm."""
    key = canonical(name)
    if cfg is None or isinstance(cfg, dict):
        cfg = make_config(key, cfg)
    cls = MODELS[key][0]
    if cls is Mixture:
        if canonical(cfg.member) == "mixture":
            raise ConfigError("a mixture cannot have mixtures as members")
        return Mixture(cfg, [build(cfg.member, dict(cfg.member_config))
                             for _ in range(cfg.n_members)])
    return cls(cfg)


def name_of(model) -> str:
    """The registered name of a model's class."""
    for key, (cls, _) in MODELS.items():
        if type(model) is cls:
            return key
    raise ConfigError(f"{type(model).__name__} is not a registered model")


def config_dict(model) -> dict:
    """{'model': name, 'config': {...}}: enough to rebuild the model."""
    return {"model": name_of(model), "config": dataclasses.asdict(model.cfg)}


def save_config(path, model, **extra) -> None:
    """Write config_dict(model) (plus extra sections such as 'train', 'data') as JSON,
    atomically (a training run's ``config.json``)."""
    atomic_write_bytes(path, (json.dumps({**config_dict(model), **extra}, indent=2) + "\n").encode())


def load_config(path) -> dict:
    """Read a config.json; raises ConfigError with a one-line message if unusable."""
    return read_json(path)


def model_from_config(d: dict):
    """Build the (untrained) model described by a config_dict()."""
    if "model" not in d:
        raise ConfigError("config has no 'model' entry")
    return build(d["model"], d.get("config"))
