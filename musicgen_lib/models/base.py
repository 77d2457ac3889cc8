"""What every sequence model over piano rolls shares: the interface the training engine and the
evaluation call, and the recurrent core that reads the past.

Explained in notebooks/04_independent_vs_dependent.ipynb.

A model defines p(v_1 .. v_T) = prod_t p(v_t | v_<t) over binary frames v_t in {0,1}^88.
Teacher forcing makes the conditioning context of every step known in advance, so one
full-sequence RNN call gives the parameters of all T conditionals at once; the per-step
distributions (independent Bernoulli, RBM, NADE) are then evaluated batched over (B x T).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """Inputs for teacher forcing: (B, T, D) -> (B, T, D) with row t = x[t-1] and row 0 = 0."""
    return F.pad(x, (0, 0, 1, 0))[:, :-1]


@dataclass
class RecurrentConfig:
    """The options of a model whose past is summarised by a :class:`Recurrence` and whose
    frames come from a distribution with ``n_hidden`` units (RNN-RBM, RNN-NADE): a model's
    config subclasses it and overrides defaults in place (the fields keep this order)."""
    n_visible: int = 88
    n_hidden: int = 150      # hidden units of the per-step distribution
    n_recurrent: int = 150   # RNN state size
    cell: str = "rnn"        # 'rnn' as in BL 2012; 'lstm' / 'gru' variants
    n_layers: int = 1
    dropout: float = 0.0


@dataclass
class StepStats:
    """Sums over the (masked) time steps of a batch, for frame accuracy (Bay et al. 2009)."""
    tp: float = 0.0  # expected true positives
    fp: float = 0.0  # expected false positives
    fn: float = 0.0  # expected false negatives


def recurrent_layers(cell: str, n_in: int, n_hidden: int, n_layers: int = 1,
                     dropout: float = 0.0) -> nn.Module:
    """torch's batch-first RNN, LSTM or GRU (``cell``: 'rnn', 'lstm', 'gru') of ``n_layers``
    layers, with ``dropout`` between them (torch applies it only between layers)."""
    kinds = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
    return kinds[cell](n_in, n_hidden, num_layers=n_layers, batch_first=True,
                       dropout=dropout if n_layers > 1 else 0.0)


class Recurrence(nn.Module):
    """The RNN that summarises the past: u_t = f(v_1 .. v_{t-1}), u_1 from a zero input.

    cell 'rnn' is the tanh RNN of Boulanger-Lewandowski et al. (2012); 'lstm' and 'gru' are
    variants. Dropout acts on the inputs and on the outputs (and between stacked layers).

    Notebook: 02_tools.
    """

    def __init__(self, n_in: int, n_hidden: int, cell: str = "rnn", n_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.cell = cell
        self.rnn = recurrent_layers(cell, n_in, n_hidden, n_layers, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, state=None):
        """x: (B, T, 88) frames v_1..v_T -> u: (B, T, H) with u_t depending on v_<t only."""
        out, state = self.rnn(self.drop(shift_right(x)), state)  # one call over all T
        return self.drop(out), state

    def step(self, v_prev: torch.Tensor, state=None):
        """One step of generation: v_prev (B, 88) -> u (B, H), new state."""
        out, state = self.rnn(v_prev[:, None, :], state)  # (B, 1, H)
        return out[:, 0], state


class SequenceModel(nn.Module):
    """Base class. Subclasses implement the methods below on padded batches.

    x: (B, T, 88) float 0/1 piano rolls; mask: (B, T) bool, True on real (unpadded) steps.
    """

    #: True if log_prob is the exact log-likelihood; else an estimate, which `method` names
    exact: bool = True
    #: True if log_prob estimates log partition functions by annealed importance sampling
    #: (evaluate() then reports its chains and temperatures)
    uses_ais: bool = False
    #: how log_prob is computed, for people: 'exact' or the estimator's name (a label only:
    #: code switches on `exact` and `uses_ais`)
    method: str = "exact"
    #: samples per step used to estimate the expected frame accuracy
    accuracy_samples: int = 100
    #: True if every step shares one estimated log Z (its error does not average out over steps)
    shared_partition: bool = False
    #: False for models whose prediction is not a frame (events, notes, the voices' pseudo-
    #: likelihood): evaluate() then reports no frame accuracy
    has_frame_accuracy: bool = True
    #: what one step of x is: a 'frame' of a piano roll, or an 'event' / 'note' token
    step_unit: str = "frame"
    #: the one dataset of tokens a token model reads (None: any piano-roll dataset)
    reads_dataset: str | None = None

    def training_loss(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Scalar loss to minimise, averaged over real steps, and a dict of float statistics."""
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor, mask: torch.Tensor, **opts) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) log p(v_t | v_<t) and (B, T) variance of that estimate (zeros if exact)."""
        raise NotImplementedError

    def frame_stats(self, x: torch.Tensor, mask: torch.Tensor, n_samples: int = 100) -> StepStats:
        """Expected TP / FP / FN of the prediction of each v_t from the true past."""
        raise NotImplementedError

    def sample_frame(self, u: torch.Tensor) -> torch.Tensor:
        """One frame (B, 88) drawn given the recurrence's summary u (B, H) of the past."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime: torch.Tensor | None = None) -> torch.Tensor:
        """Sample (batch, n_steps, 88) frames, optionally after priming with (batch, P, 88).

        For models with a recurrence ``self.rnn``: it reads each frame, and
        :meth:`sample_frame` draws the next one from its summary."""
        state, v = None, next(self.parameters()).new_zeros(batch, self.cfg.n_visible)
        if prime is not None:  # read the prime; v becomes its last frame
            _, state = self.rnn.rnn(torch.cat([v[:, None], prime[:, :-1]], 1))
            v = prime[:, -1]
        out = []
        for _ in range(n_steps):
            u, state = self.rnn.step(v, state)
            v = self.sample_frame(u)
            out.append(v)
        return torch.stack(out, 1)


class ClosedFormLogProb(SequenceModel):
    """Base of the models whose log-probability of every step, ``_log_prob(x, mask)`` (B, T),
    is computed in closed form, teacher-forced: the training loss is its mean over the real
    steps, and log_prob returns it with zero variance (the RNN-NADE, the Bernoulli models, the
    token models; the DeepBach-style model's pseudo-likelihood too)."""

    #: the name of the loss in the training statistics
    loss_name: str = "nll"

    def _log_prob(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def training_loss(self, x, mask):
        nll = -(self._log_prob(x, mask) * mask).sum() / mask.sum()
        return nll, {self.loss_name: nll.item()}

    @torch.no_grad()
    def log_prob(self, x, mask, **_):
        lp = self._log_prob(x, mask) * mask
        return lp, torch.zeros_like(lp)


class TokenModel(SequenceModel):
    """Base of the models of tokens instead of frames (events, notes: notebook 04c; melody
    steps: 04a, 04d), each reading one dataset: no frame accuracy, and ``to_notes`` to hear
    or engrave what ``generate`` returns. Those with an exact log-likelihood per token also
    derive from :class:`ClosedFormLogProb`."""
    has_frame_accuracy = False

    def frame_stats(self, x, mask, n_samples=1):
        raise ConfigError(f"{type(self).__name__} predicts {self.step_unit}s, not frames: it "
                          "has no frame accuracy; use --no-accuracy")

    @staticmethod
    def to_notes(tokens):
        """The NoteList of generated tokens."""
        raise NotImplementedError


class BernoulliLogits(ClosedFormLogProb):
    """Base of the models whose p(v_t | v_<t) is a product of Bernoulli conditionals with
    logits ``self.logits(x)`` (B, T, 88), teacher-forced: the LSTM with independent keys and
    the bi-axial LSTM (whose logit for key n also sees keys below n of the same frame). The
    likelihood is then exact: a sum of binary cross-entropies."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _log_prob(self, x, mask=None):
        """(B, T) log p(v_t | v_<t): the sum over keys of the Bernoulli log-likelihoods."""
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none").sum(-1)


class RecurrentBiases(SequenceModel):
    """Base of Boulanger-Lewandowski et al.'s conditional models (RNN-RBM, RNN-NADE): the
    recurrence summarises the past as u_t, and the step's distribution over frames takes its
    biases from it, b_t = b + W_ub u_t (visible) and c_t = c + W_uc u_t (hidden). Subclasses
    add the distribution (its weights and sampling)."""

    def __init__(self, cfg: RecurrentConfig):
        super().__init__()
        self.cfg = cfg
        self.rnn = Recurrence(cfg.n_visible, cfg.n_recurrent, cfg.cell, cfg.n_layers, cfg.dropout)
        self.to_b = nn.Linear(cfg.n_recurrent, cfg.n_visible)  # b_t = b + W_ub u_t
        self.to_c = nn.Linear(cfg.n_recurrent, cfg.n_hidden)   # c_t = c + W_uc u_t

    def biases(self, x):
        """Teacher-forced biases of every step: x (B, T, 88) -> b (B, T, 88), c (B, T, H)."""
        u, _ = self.rnn(x)                 # (B, T, R), one call over all T
        return self.to_b(u), self.to_c(u)


def stats_from_probs(p: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> StepStats:
    """Expected TP/FP/FN when keys are predicted on with marginal probabilities p (B, T, 88)."""
    m = mask[..., None].to(p.dtype)
    return StepStats(tp=float((p * x * m).sum()), fp=float((p * (1 - x) * m).sum()),
                     fn=float(((1 - p) * x * m).sum()))


def stats_from_samples(s: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> StepStats:
    """Monte-Carlo version: s (S, B, T, 88) samples of v_t given the true past."""
    return stats_from_probs(s.float().mean(0), x, mask)
