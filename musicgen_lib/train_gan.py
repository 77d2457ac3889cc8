"""The training loop of the book's adversarial model (MuseGAN, models/musegan.py): a Wasserstein
GAN with gradient penalty (Gulrajani et al. 2017), with the engine's guarantees — seeded,
atomic checkpoints, exact resume, a CSV/JSON log — but no likelihood to validate or stop on.

Explained in notebooks/04e_musegan.ipynb.

Each step updates the critic ``n_critic`` times on fresh batches of real fragments (random
windows of ``bars`` bars from the training pieces, starting at a bar line, transposed by up to
±``transpose`` semitones) and generated ones,

    critic loss    = E D(fake) - E D(real) + gp_weight * E (||grad D(x_hat)|| - 1)^2
                     (x_hat: random points between a real and a fake fragment)
    generator loss = -E D(G(z)),

then the generator once. Every ``valid_every`` steps the critic's estimate of the Wasserstein
distance, E D(real) - E D(fake), is measured on the validation pieces (their first fragments)
against a fixed batch of noise: a running gauge, not a likelihood, and nothing is chosen by it.
The weights kept (``model.pt``) are the generator's last.

Files in the output folder: ``config.json``, ``model.pt`` (the generator), ``checkpoint.pt``
(both networks, both optimisers, random states, step, log), ``log.csv`` / ``log.json`` (one row
per validation: step, critic_loss, generator_loss, gradient_penalty, valid_wasserstein, time_s).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .configs import from_dict
from .data.batches import as_rolls
from .errors import ConfigError, MusicgenError
from .files import atomic_torch_save, check_run_folder, prepare_run_folder, read_checkpoint, write_logs
from .models import registry
from .models.musegan import MuseGANCritic
from .train import rng_state, seed_everything, set_rng_state

LOG_COLUMNS = ["step", "critic_loss", "generator_loss", "gradient_penalty", "valid_wasserstein", "time_s"]


@dataclass
class GANTrainConfig:
    """Options of :func:`train_gan`.

    Notebook: 04e_musegan."""
    seed: int = 0
    batch_size: int = 32        # fragments per batch
    lr: float = 1e-3            # Adam, both networks (MuseGAN's)
    beta1: float = 0.5
    beta2: float = 0.9
    n_critic: int = 5           # critic updates per generator update
    gp_weight: float = 10.0
    transpose: int = 5          # augmentation: each batch shifted by k in [-transpose, transpose]
    max_steps: int = 2000       # generator updates
    valid_every: int = 100      # steps between validations and checkpoints
    max_minutes: float = 0.0    # stop (resumably) after this wall time (0: no limit)


def make_gan_train_config(values: dict | None = None) -> GANTrainConfig:
    """GANTrainConfig with ``values`` overriding the defaults; one-line errors for bad values.

    Notebook: 04e_musegan."""
    cfg = from_dict(GANTrainConfig, values, "training option")
    if cfg.batch_size < 1 or cfg.valid_every < 1 or cfg.n_critic < 1:
        raise ConfigError("training options batch_size, valid_every and n_critic must be at least 1")
    return cfg


@dataclass
class GANState:
    """Where a run stands: saved in ``checkpoint.pt`` and restored on resume."""
    step: int = 0
    history: list = field(default_factory=list)
    finished: str | None = None   # 'max_steps' | 'time_limit'
    time_s: float = 0.0
    losses: list = field(default_factory=list)  # (critic, generator, penalty) since the last row


@dataclass
class GANResult:
    step: int
    stopped: str
    history: list


def fragment_rolls(rolls, length: int) -> list:
    """The pieces (T, 88) long enough for one fragment of ``length`` steps."""
    return [r for r in rolls if len(r) >= length]


def _batch(gen, rolls, n: int, length: int, bar: int, shift: int) -> torch.Tensor:
    """n random windows (from numpy's global RNG) of `length` steps starting at a bar line, in
    the generator's rows, shifted by `shift` semitones: (n, length, 48)."""
    out = []
    for i in np.random.randint(0, len(rolls), n):
        r = rolls[i]
        a = np.random.randint(0, (len(r) - length) // bar + 1) * bar
        out.append(np.roll(r[a:a + length], shift, axis=1) if shift else r[a:a + length])
    return gen.from_keys(np.stack(out))


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E (||grad_x D(x_hat)|| - 1)^2 at random points x_hat between real and fake fragments.

    Notebook: 04e_musegan."""
    t = torch.rand(len(real), 1, 1, device=real.device)
    x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def train_gan(gen, train_data, valid_data, cfg: GANTrainConfig, out_dir, *, resume: bool = False,
              overwrite: bool = False, data_info: dict | None = None, progress: bool = True,
              callback=None) -> GANResult:
    """Train the generator ``gen`` (a registered adversarial model) and a fresh critic on
    fragments of ``train_data`` (pieces or (T, 88) sounding rolls at 16th notes); resume and
    overwrite as :func:`musicgen_lib.train.train`. ``callback(step)`` after every step (tests
    use it to kill a run). Returns a GANResult; ``gen`` is left with its last weights.

    Notebook: 04e_musegan."""
    out = Path(out_dir)
    check_run_folder(out, resume=resume, overwrite=overwrite)
    mc = gen.cfg
    length, bar = mc.bars * mc.steps_per_bar, mc.steps_per_bar
    train_rolls = fragment_rolls(as_rolls(train_data), length)
    valid_rolls = fragment_rolls(as_rolls(valid_data), length)
    if not train_rolls or not valid_rolls:
        raise MusicgenError(f"training needs pieces of at least {length} steps in train and in valid")
    model_info = registry.config_dict(gen)
    ckpt = out / "checkpoint.pt"
    resuming = resume and ckpt.exists()
    prepare_run_folder(out, resuming)
    seed_everything(cfg.seed)
    dev = next(gen.parameters()).device
    critic = MuseGANCritic(mc).to(dev)
    betas = (cfg.beta1, cfg.beta2)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=betas)
    st = GANState()
    if resuming:
        saved = read_checkpoint(ckpt, model_info)
        gen.load_state_dict(saved["model"])
        critic.load_state_dict(saved["critic"])
        opt_g.load_state_dict(saved["opt_g"])
        opt_d.load_state_dict(saved["opt_d"])
        st = GANState(**saved["state"])
        set_rng_state(saved["rng"])
        if st.finished == "time_limit" or (st.finished == "max_steps" and st.step < cfg.max_steps):
            st.finished = None
    registry.save_config(out / "config.json", gen, train=dataclasses.asdict(cfg), data=data_info or {})
    # validation: the first fragment of every validation piece, against fixed noise
    valid_real = gen.from_keys(np.stack([r[:length] for r in valid_rolls])).to(dev)
    valid_noise = gen.noise(len(valid_real), torch.Generator().manual_seed(cfg.seed + 12345), dev)

    def checkpoint():
        atomic_torch_save({"model": gen.state_dict(), "critic": critic.state_dict(),
                           "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                           "rng": rng_state(), "state": dataclasses.asdict(st),
                           "model_info": model_info, "train_config": dataclasses.asdict(cfg)}, ckpt)
        atomic_torch_save(gen.state_dict(), out / "model.pt")
        write_logs(out, st.history, LOG_COLUMNS)

    @torch.no_grad()
    def validate():
        gen.eval(), critic.eval()
        w = float(critic(valid_real).mean() - critic(gen(*valid_noise)).mean())
        gen.train(), critic.train()
        c, g, p = np.mean(st.losses, axis=0) if st.losses else (np.nan,) * 3
        st.history.append({"step": st.step, "critic_loss": float(c), "generator_loss": float(g),
                           "gradient_penalty": float(p), "valid_wasserstein": w,
                           "time_s": round(st.time_s, 1)})
        st.losses = []
        return w

    bar_ = None
    if progress:
        from tqdm.auto import tqdm
        bar_ = tqdm(total=cfg.max_steps, initial=st.step, desc="train musegan", unit="step",
                    dynamic_ncols=True)
    gen.train(), critic.train()
    t0, time0 = time.monotonic(), st.time_s
    while st.finished is None:
        if st.step >= cfg.max_steps:
            st.finished = "max_steps"
            break
        for _ in range(cfg.n_critic):
            shift = int(np.random.randint(-cfg.transpose, cfg.transpose + 1)) if cfg.transpose else 0
            real = _batch(gen, train_rolls, cfg.batch_size, length, bar, shift).to(dev)
            with torch.no_grad():
                fake = gen(*gen.noise(cfg.batch_size, device=dev))
            penalty = gradient_penalty(critic, real, fake)
            loss_d = critic(fake).mean() - critic(real).mean() + cfg.gp_weight * penalty
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        loss_g = -critic(gen(*gen.noise(cfg.batch_size, device=dev))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        st.losses.append((loss_d.item(), loss_g.item(), penalty.item()))
        st.step += 1
        st.time_s = time0 + time.monotonic() - t0
        if bar_ is not None:
            bar_.update(1)
        if st.step % cfg.valid_every == 0:
            w = validate()
            if bar_ is not None:
                bar_.set_postfix(wasserstein=f"{w:.3f}")
            if cfg.max_minutes and st.time_s > 60 * cfg.max_minutes:
                st.finished = "time_limit"
            checkpoint()
        if callback is not None:
            callback(st.step)
    if bar_ is not None:
        bar_.close()
    if not st.history or st.history[-1]["step"] != st.step:
        validate()
    checkpoint()
    gen.eval()
    return GANResult(st.step, st.finished, st.history)


__all__ = ["GANTrainConfig", "make_gan_train_config", "train_gan", "gradient_penalty", "fragment_rolls"]
