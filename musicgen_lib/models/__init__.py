"""The reviewed sequence models over 88-key piano rolls (thesis §4-5) and their registry.

rbm -> notebooks/02_tools.ipynb; rnn_rbm -> notebooks/03_rnn_rbm.ipynb;
lstm_bernoulli, rnn_nade, biaxial -> notebooks/04_independent_vs_dependent.ipynb.
"""
from .base import Recurrence, SequenceModel, StepStats
from .lstm_bernoulli import LSTMBernoulli, LSTMBernoulliConfig
from .rbm import RBM, RBMConfig
from ..errors import ConfigError
from .registry import MODELS, build, load_config, make_config, model_from_config, save_config
from .rnn_nade import NADE, RNNNADE, RNNNADEConfig
from .rnn_rbm import RNNRBM, RNNRBMConfig

__all__ = ["Recurrence", "SequenceModel", "StepStats", "LSTMBernoulli", "LSTMBernoulliConfig",
           "RBM", "RBMConfig", "MODELS", "ConfigError", "build", "load_config", "make_config",
           "model_from_config", "save_config", "NADE", "RNNNADE", "RNNNADEConfig", "RNNRBM",
           "RNNRBMConfig"]
