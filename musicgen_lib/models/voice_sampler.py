"""Voice-by-voice polyphonic sampling over 12 pitch classes (notebook 06_voice_sampler;
thesis §6.4, Fig. 13, 15, 16).

``V`` voices share one LSTM. At every step each voice sees the main module's features and
two masks — pitch classes already chosen to *play* and already *banned* — and outputs a
categorical distribution over the 24 decisions (note m, play) / (note m, ban); decisions on
notes already decided get probability 0. A note sounds iff some voice chose (m, play).
Every voice must add information (a new note to play or to ban), which is why this
alphabet does not collapse the way "note or pause" did.

Training (the thesis' scheme): the decision *index* is sampled from the voice's
distribution, its *value* replaced by the truth; the per-note probability
``p(m) = P(some voice plays m) * (1 - P(some voice bans m))`` enters a binary
cross-entropy. That loss is a stochastic surrogate, not the sampler's likelihood;
:meth:`VoiceSampler.path_log_prob` scores the sampler's own probability of the frames instead.
Sampling one frame at a time is ``thesis_step.GeneratorStep.voices``.

``state_across``: ``"time"`` (the author's code: voice v keeps its own LSTM state from
step to step) or ``"voices"`` (the state flows from voice to voice within a step and starts
fresh at every step).

``alphabet``: ``"play-ban"`` (the thesis' design, 24 decisions) or ``"note-pause"`` (the
earlier variant of §6.4 that the thesis reports collapsing, 13 decisions: play note m, or
pause). With ``note-pause`` a voice can only add notes; a note it picked that the truth says
is off leaves no trace, and ``p(m) = P(some voice plays m)``. Kept for the ablation of
notebook 06; the likelihood estimate (thesis_nll) needs ``play-ban``.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def masked_decisions(logits, play, ban, play_ban: bool = True, temperature: float = 1.0):
    """Softmax over the decisions with those on decided notes forced to 0: logits (..., 24)
    or (..., 13) with the play and ban masks (..., 12)."""
    if temperature != 1.0:
        logits = logits / temperature
    decided = (play + ban) > 0
    if play_ban:
        masked = torch.cat([decided, decided], dim=-1)
    else:  # pausing is always allowed
        masked = torch.cat([decided, torch.zeros_like(decided[..., :1])], dim=-1)
    return torch.softmax(logits.masked_fill(masked, float("-inf")), dim=-1)


def consistent_decisions(target, play, ban, voices_left: int):
    """Which decisions (..., 24) agree with the true frame ``target`` (..., 12) given the notes
    decided so far (``play``, ``ban``): a play on a sounding note not yet decided, or a ban on
    a silent one while enough voices remain (``voices_left``, this one included) to play the
    sounding notes still undecided. 0/1 in target's dtype. Used by the path likelihood and
    the SMC estimate (thesis_nll), which both draw only consistent decisions."""
    undecided = (play + ban) == 0
    left = (target * undecided).sum(-1, keepdim=True)  # sounding, not yet played
    may_ban = (left < voices_left).to(target.dtype)  # enough voices remain to play them
    return torch.cat([target * undecided, (1 - target) * undecided * may_ban], -1)


def record_decision(idx, play, ban, n_notes: int = 12):
    """The play and ban masks (..., 12) after the play-ban decisions ``idx`` (...): 0..11
    play note idx, 12..23 ban note idx - 12."""
    note = F.one_hot(idx % n_notes, n_notes).to(play.dtype)
    is_play = (idx < n_notes).to(play.dtype)[..., None]
    return play + note * is_play, ban + note * (1 - is_play)


def pick(q, u):
    """Inverse-CDF sampling: the category of each row of q (..., K) chosen by the uniform
    u (...). Explicit uniforms make the vectorised and per-step passes draw alike."""
    c = q.cumsum(-1)
    # the number of cumulative sums below u * total (c never decreases)
    return torch.searchsorted(c, (u * c[..., -1])[..., None])[..., 0].clamp_(max=q.shape[-1] - 1)


class VoiceSampler(nn.Module):
    """Parameter names match the author's ``sampler.lstm`` / ``sampler.linear``."""

    def __init__(self, feature_size: int = 130, hidden_size: int = 100, n_voices: int = 5,
                 n_notes: int = 12, state_across: str = "time", alphabet: str = "play-ban"):
        super().__init__()
        if state_across not in ("time", "voices"):
            raise ValueError(f"state_across must be 'time' or 'voices', not {state_across!r}")
        if alphabet not in ("play-ban", "note-pause"):
            raise ValueError(f"alphabet must be 'play-ban' or 'note-pause', not {alphabet!r}")
        self.n_voices, self.n_notes, self.state_across = n_voices, n_notes, state_across
        self.alphabet = alphabet
        self.lstm = nn.LSTM(feature_size + 2 * n_notes, hidden_size, batch_first=True)
        # play-ban: 0..11 play, 12..23 ban; note-pause: 0..11 play, 12 pause
        self.linear = nn.Linear(hidden_size, 2 * n_notes if alphabet == "play-ban" else n_notes + 1)

    def decision_probs(self, out, play, ban, temperature: float = 1.0):
        """Masked softmax over the decisions: (..., H) -> (..., 24) or (..., 13)."""
        return masked_decisions(self.linear(out), play, ban, self.alphabet == "play-ban",
                                temperature)

    def _note(self, idx, dtype):
        """One-hot (..., 12) of the note a decision concerns (zeros for a pause)."""
        if self.alphabet == "play-ban":
            return F.one_hot(idx % self.n_notes, self.n_notes).to(dtype)
        return F.one_hot(idx, self.n_notes + 1)[..., :self.n_notes].to(dtype)

    def _voice(self, features, play, ban, state):
        """One voice over whole sequences, teacher-forced: its decision distribution
        (B, T, 24) given the masks so far, and the LSTM state passed to the next voice."""
        B, T, _ = features.shape
        inp = torch.cat([features, play, ban], dim=-1)  # (B, T, F + 24)
        if self.state_across == "time":  # one full-sequence call per voice
            out, _ = self.lstm(inp)
        else:  # every (b, t) is a sequence over voices: carry the state voice to voice
            out, state = self.lstm(inp.reshape(B * T, 1, -1), state)
            out = out.reshape(B, T, -1)
        with torch.autocast(features.device.type, enabled=False):  # the head in fp32
            return self.decision_probs(out.float(), play, ban), state

    def forward(self, features, target, rng=None, noise=None):
        """Teacher-forced pass over whole sequences.

        features: (B, T, feature_size); target: (B, T, 12) in {0, 1}; noise: optional
        (V, B, T) uniforms that pick the decisions (drawn from ``rng`` if absent).
        Returns p (B, T, 12) — the probability that each note sounds — and a dict with the
        voices' distributions q (V, B, T, 24) and chosen decisions (V, B, T).
        """
        B, T, N = target.shape
        if noise is None:
            noise = torch.rand(self.n_voices, B, T, generator=rng, device=features.device)
        target = target.to(features.dtype)
        play = features.new_zeros(B, T, N)
        ban = features.new_zeros(B, T, N)
        p_play = features.new_zeros(B, T, N)
        p_ban = features.new_zeros(B, T, N)
        qs, choices, state = [], [], None
        for v in range(self.n_voices):
            q, state = self._voice(features, play, ban, state)  # (B, T, 24)
            p_play = p_play + (1 - p_play) * q[..., :N]
            if self.alphabet == "play-ban":
                p_ban = p_ban + (1 - p_ban) * q[..., N:]
            with torch.no_grad():  # which note is decided is sampled; its value is the truth
                idx = pick(q, noise[v])  # (B, T)
                note = self._note(idx, features.dtype)
                play = play + note * target
                if self.alphabet == "play-ban":
                    ban = ban + note * (1 - target)
            qs.append(q)
            choices.append(idx)
        p = p_play * (1 - p_ban)
        return p, {"q": torch.stack(qs), "choices": torch.stack(choices)}

    def path_log_prob(self, features, target, rng=None, noise=None, particles: int = 1):
        """The sampler's own probability of the true frames, teacher-forced over whole
        sequences: a trainable alternative to the thesis' surrogate (``loss="path"``).

        At every step the voices decide in turn; each decision is drawn from the voice's
        distribution restricted to decisions *consistent* with the true frame (a play on a
        sounding note not yet decided, or a ban on a silent one while enough voices remain
        to play the rest, as in thesis_nll), and the step scores ``log w = sum_v log Z_v``,
        Z_v the voice's probability mass on the consistent decisions. w is an unbiased
        estimate of the probability that sampling plays exactly the frame given the voices'
        states, so ``E[log w]`` is a lower bound on its log (one particle; the drawn
        decisions carry no gradient). Unlike the BCE of marginals, it charges a silent step
        the probability that *every* voice bans. features (B, T, F), target (B, T, 12) in
        the model's class order. Returns log w (B, T) and which frames the voices can play
        (B, T) (no more notes than voices); impossible frames score 0. With ``particles`` = K,
        the log of the mean of K independent weights (an importance-weighted bound, tighter:
        one particle under-rates frames of many notes, which many orders of decisions play).
        """
        if self.alphabet != "play-ban":
            raise ValueError("the path likelihood needs the play/ban alphabet")
        K = particles
        if K > 1:  # the particles side by side in the batch
            features, target = features.repeat(K, 1, 1), target.repeat(K, 1, 1)
        B, T, N = target.shape
        V = self.n_voices
        if noise is None:
            noise = torch.rand(V, B, T, generator=rng, device=features.device)
        target = target.to(features.dtype)
        possible = target.sum(-1) <= V
        play = features.new_zeros(B, T, N)
        ban = features.new_zeros(B, T, N)
        log_w = features.new_zeros(B, T)
        state = None
        for v in range(V):
            q, state = self._voice(features, play, ban, state)  # (B, T, 24)
            with torch.no_grad():
                allowed = consistent_decisions(target, play, ban, V - v)
                allowed = torch.where(possible[..., None], allowed, torch.ones_like(allowed))
            z = (q * allowed).sum(-1)
            log_w = log_w + torch.where(possible, z.clamp_min(1e-30).log(), torch.zeros_like(z))
            with torch.no_grad():
                idx = pick(q * allowed, noise[v])  # (B, T): a consistent decision
                play, ban = record_decision(idx, play, ban, N)
        if K > 1:
            log_w = torch.logsumexp(log_w.view(K, -1, T), 0) - math.log(K)
            possible = possible.view(K, -1, T)[0]
        return log_w, possible

    @staticmethod
    def step_loss(p, target, eps: float = 1e-7):
        """Binary cross-entropy summed over the notes: (B, T, 12) -> (B, T)."""
        p = p.clamp(eps, 1 - eps)
        t = target.to(p.dtype)
        return -(t * p.log() + (1 - t) * (1 - p).log()).sum(-1)

    @staticmethod
    def loss(p, target, mask=None):
        """The thesis' loss: :meth:`step_loss` averaged over the (unmasked) steps -> ()."""
        per_step = VoiceSampler.step_loss(p, target)
        if mask is None:
            return per_step.mean()
        m = mask.to(per_step.dtype)
        return (per_step * m).sum() / m.sum().clamp(min=1)
