"""A small MuseGAN (thesis §5.5, Fig. 7; Dong et al. 2017): one track of eight bars of piano
roll generated at once by convolutions, judged by its samples (a GAN has no likelihood).

Explained in notebooks/04e_musegan.ipynb.

The generator, as the thesis draws it for one instrument:

    z_shared, z_temp ~ N(0, I)                     noise for the whole fragment
    z^(1) .. z^(bars) = G_temp(z_temp)             two 1-D transposed convolutions along the bars:
                                                   the fragment's "structure"
    bar t = G_bar(z_shared, z^(t), z_bar^(t))      each bar from its own noise z_bar^(t) as well:
                                                   transposed convolutions first along time
                                                   (1 -> 4 -> 16 steps), then along pitch
                                                   (1 -> 4 octaves -> 48 keys)

The bars are generated independently given their inputs; what ties them together is G_temp's
output and the shared noise. The last layer maps each octave's features to its 12 keys with one
kernel shared by all octaves. The critic reads the eight bars with the convolutions in the
reverse order (pitch, then time, then bars) and outputs one real number: the model is trained
as a Wasserstein GAN with gradient penalty (Gulrajani et al. 2017; MuseGAN's choice), in
``musicgen_lib/train_gan.py``. The generator's output is the probability that each key sounds;
a sample is that roll thresholded at ``threshold`` (MuseGAN's "hard thresholding").

Rolls are sounding rolls on the 16th-note grid, keys ``lowest`` .. ``lowest + n_pitches - 1``
of the 88 (C2..B5 by default: the range of the chorales' voices).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .base import SequenceModel

LOWEST_KEY = 21  # MIDI pitch of key 0 of an 88-key roll


@dataclass
class MuseGANConfig:
    """Sizes of a :class:`MuseGAN` (generator) and its :class:`MuseGANCritic`.

    Notebook: 04e_musegan."""
    bars: int = 8              # bars per fragment (a power of two, at least 4)
    steps_per_bar: int = 16    # 16th notes of a 4/4 bar (fixed by the layers: 1 -> 4 -> 16)
    lowest: int = 36           # MIDI pitch of the lowest row (C2)
    n_pitches: int = 48        # rows: 4 octaves (fixed by the layers: 1 -> 4 -> 48)
    n_noise: int = 32          # size of each noise vector (shared, temporal, per bar)
    n_channels: int = 64       # width of the generator's and the critic's layers
    threshold: float = 0.5     # a key sounds in a sample where its probability exceeds this


def _up(c_in, c_out, kernel, norm=True):
    """A transposed convolution whose stride is its kernel (each input cell becomes a block),
    then batch norm and ReLU (or nothing, for the last layer)."""
    layers = [nn.ConvTranspose2d(c_in, c_out, kernel, stride=kernel)]
    if norm:
        layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MuseGAN(SequenceModel):
    """The generator: noise -> (B, bars * 16, 48) probabilities that each key sounds.

    Notebook: 04e_musegan.
    """
    adversarial = True    # trained against a critic (train_gan), not by a likelihood
    exact = False
    method = "none (an implicit model: no likelihood)"
    has_frame_accuracy = False

    def __init__(self, cfg: MuseGANConfig):
        super().__init__()
        if cfg.bars < 4 or cfg.bars & (cfg.bars - 1) or cfg.steps_per_bar != 16 or cfg.n_pitches != 48:
            raise ValueError("MuseGAN's layers need bars a power of two >= 4, 16 steps per bar and 48 keys")
        self.cfg = cfg
        C, d = cfg.n_channels, cfg.n_noise
        # G_temp: z_temp (d) -> (d, bars), doubling along the bars until there are `bars`
        self.temp_in = nn.Sequential(nn.Linear(d, C * 2), nn.BatchNorm1d(C * 2), nn.ReLU())
        n_doublings = int(np.log2(cfg.bars)) - 1
        self.temp = nn.Sequential(*[nn.Sequential(nn.ConvTranspose1d(C, C if i < n_doublings - 1 else d, 2, 2),
                                                  nn.BatchNorm1d(C if i < n_doublings - 1 else d), nn.ReLU())
                                    for i in range(n_doublings)])
        # G_bar: (shared, temporal, own noise) -> one bar, (1, 16, 48)
        self.bar_in = nn.Sequential(nn.Linear(3 * d, 2 * C * 4), nn.BatchNorm1d(2 * C * 4), nn.ReLU())
        self.bar = nn.Sequential(
            _up(2 * C, C, (2, 1)), _up(C, C, (2, 1)),     # time: 4 -> 8 -> 16 steps (1 pitch cell)
            _up(C, C, (1, 4)),                            # pitch: 1 -> 4 octaves
            _up(C, 1, (1, 12), norm=False))               # each octave -> its 12 keys, shared kernel

    def noise(self, batch: int, generator=None, device=None):
        """The three noises of ``batch`` fragments: shared (B, d), temporal (B, d) and per bar
        (B, bars, d), from ``generator``."""
        d, bars = self.cfg.n_noise, self.cfg.bars
        z = torch.randn(batch, 2 * d + bars * d, generator=generator)
        if device is not None:
            z = z.to(device)
        return z[:, :d], z[:, d:2 * d], z[:, 2 * d:].reshape(batch, bars, d)

    def forward(self, z_shared, z_temp, z_bar):
        """Probabilities (B, bars * 16, 48) of the fragments made from the three noises."""
        B, bars, d = z_bar.shape
        C = self.cfg.n_channels
        per_bar = self.temp(self.temp_in(z_temp).reshape(B, C, 2)).transpose(1, 2)   # (B, bars, d)
        inp = torch.cat([z_shared[:, None].expand(-1, bars, -1), per_bar, z_bar], -1)  # (B, bars, 3d)
        h = self.bar_in(inp.reshape(B * bars, 3 * d)).reshape(B * bars, 2 * C, 4, 1)  # 4 steps, 1 cell
        logits = self.bar(h)                                                          # (B*bars, 1, 16, 48)
        return torch.sigmoid(logits.reshape(B, bars * 16, self.cfg.n_pitches))

    def to_keys(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 48) rows -> (B, T, 88) rolls (keys outside the rows stay silent)."""
        lo = self.cfg.lowest - LOWEST_KEY
        return torch.nn.functional.pad(x, (lo, 88 - lo - self.cfg.n_pitches))

    def from_keys(self, roll) -> torch.Tensor:
        """(..., T, 88) rolls -> (..., T, 48) rows: the generator's and critic's pitch range."""
        lo = self.cfg.lowest - LOWEST_KEY
        return torch.as_tensor(roll)[..., lo:lo + self.cfg.n_pitches].float()

    @torch.no_grad()
    def generate(self, n_steps: int, batch: int = 1, prime=None, temperature: float = 1.0,
                 generator=None) -> torch.Tensor:
        """(batch, n_steps, 88) 0/1 sounding rolls: fragments from fresh noise, thresholded;
        longer than one fragment, independent fragments follow each other. ``temperature``
        scales the noise (1: the prior).

        Notebook: 04e_musegan."""
        if prime is not None:
            raise ValueError("MuseGAN generates whole fragments from noise: no prime")
        self.eval()
        dev = next(self.parameters()).device
        L = self.cfg.bars * self.cfg.steps_per_bar
        n = -(-n_steps // L)
        z = [t * temperature for t in self.noise(batch * n, generator, dev)]
        probs = self(*z)                                                 # (batch * n, L, 48)
        rows = (probs > self.cfg.threshold).float().reshape(batch, n * L, -1)[:, :n_steps]
        return self.to_keys(rows)

    @staticmethod
    def to_notes(roll):
        """The notes of a generated (T, 88) sounding roll at 16th notes, 480 ticks per beat."""
        from ..data.pianoroll import roll_to_notes

        return roll_to_notes(np.asarray(roll), 4)


class MuseGANCritic(nn.Module):
    """The critic: (B, bars * 16, 48) rolls -> (B,) real scores, reading pitch (octave blocks,
    then across octaves), then time within the bar, then the bars.

    Notebook: 04e_musegan.
    """

    def __init__(self, cfg: MuseGANConfig):
        super().__init__()
        C = cfg.n_channels
        act = lambda: nn.LeakyReLU(0.2)
        self.net = nn.Sequential(
            nn.Conv2d(1, C, (1, 12), stride=(1, 12)), act(),        # each octave: (C, T, 4)
            nn.Conv2d(C, C, (1, 4), stride=(1, 4)), act(),           # across octaves: (C, T, 1)
            nn.Conv2d(C, C, (4, 1), stride=(4, 1)), act(),           # beats: (C, T / 4, 1)
            nn.Conv2d(C, 2 * C, (4, 1), stride=(4, 1)), act(),       # bars: (2C, bars, 1)
            nn.Conv2d(2 * C, 2 * C, (2, 1), stride=(2, 1)), act(),   # pairs of bars
            nn.Flatten(), nn.Linear(2 * C * cfg.bars // 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, None]).squeeze(-1)                       # (B,)
