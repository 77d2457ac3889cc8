"""One training engine for every model of the book: Adam, gradient clipping, seeded shuffling,
validation every N steps with early stopping on the validation NLL, a CSV/JSON log, atomic
checkpoints and exact resume.

Explained in notebooks/03_rnn_rbm.ipynb (training curve) and used by every later notebook.

Files written to the output folder:
    config.json     model name + model config + train config + data (rebuild with registry)
    model.pt        state_dict of the best model on validation (what evaluation loads)
    checkpoint.pt   everything needed to continue: model, optimiser, RNG states, step, epoch,
                    position in the epoch, early-stopping state, log
    log.csv, log.json  one row per validation: step, epoch, train_loss, valid_nll, lr, time_s
Every file is written to a temporary file in the same folder and moved into place with
os.replace, so a run killed at any moment (even SIGKILL) leaves the previous checkpoint intact
(the next run in the folder deletes the temporary file a killed write leaves behind);
resuming from it replays the same batches with the same random numbers and ends with the same
weights as a run that was never interrupted.

Under torchrun (several processes) the same loop trains with DistributedDataParallel, each rank
taking its share of every global batch; see musicgen_lib/distributed.py.
"""
from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import distributed as dist
from .checkpoints import init_from, read_log
from .configs import from_dict
from .data.batches import as_rolls, batches, pad_batch, transpose_batch
from .errors import ConfigError, MusicgenError
from .files import (atomic_torch_save, check_run_folder, prepare_run_folder, read_checkpoint,
                    write_logs)
from .models import registry


@dataclass
class TrainConfig:
    seed: int = 0
    batch_size: int = 16        # whole pieces per batch (padded, masked)
    lr: float = 1e-3            # Adam
    weight_decay: float = 0.0
    grad_clip: float = 1.0      # max global gradient norm (0: off)
    max_steps: int = 5000
    max_len: int = 0            # crop pieces to a random window of this many steps (0: whole)
    crop_align: int = 1         # windows start at multiples of this (a bar, so time inputs keep the metre)
    transpose: int = 0          # augmentation: shift each batch by k in [-transpose, transpose]
    valid_every: int = 200      # steps between validations and checkpoints (make max_steps a multiple)
    patience: int = 10          # stop after this many validations without improvement
    lr_patience: int = 0        # halve (lr_decay) the lr after this many such validations (0: off)
    lr_decay: float = 0.5
    min_lr: float = 1e-5
    max_minutes: float = 0.0    # stop (resumably) after this wall time (0: no limit)
    bf16: bool = False          # forward pass under bfloat16 autocast: the LSTMs' matmuls in bf16
    #                             (fast on CPUs with avx512_bf16/AMX and on GPUs); weights,
    #                             optimizer, the voices' head and validation stay fp32
    init: str = ""              # start from the weights of this trained run's folder (model.pt):
    #                             fine-tuning; the optimizer starts afresh


def make_train_config(values: dict | None = None) -> TrainConfig:
    """TrainConfig with `values` overriding the defaults; one-line errors for bad values
    (:func:`musicgen_lib.configs.from_dict`).

    Notebook: 03_rnn_rbm."""
    cfg = from_dict(TrainConfig, values, "training option")
    if cfg.batch_size < 1 or cfg.valid_every < 1:
        raise ConfigError("training options batch_size and valid_every must be at least 1")
    return cfg


# ---------------------------------------------------------------- data

def epoch_order(n: int, seed: int, epoch: int) -> list:
    """The shuffled piece order of an epoch: a function of (seed, epoch) only, so resume is exact."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


@torch.no_grad()
def mean_nll(model, rolls: list, batch_size: int = 32, **opts) -> tuple[float, float, int]:
    """Length-weighted mean NLL per step over all steps of `rolls`: (mean, variance-of-mean of the
    estimator (0 if exact), number of steps). The training engine validates with it
    (``validation=True``: the model's cheap setting).

    Notebook: 03_rnn_rbm."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    total, var, steps = 0.0, 0.0, 0
    for x, mask in batches(rolls, batch_size):
        x, mask = x.to(dev), mask.to(dev)
        lp, lv = model.log_prob(x, mask, **opts)
        total -= float(lp.sum(dtype=torch.float64))
        var += float(lv.sum(dtype=torch.float64))
        steps += int(mask.sum())
    model.train(was)
    return total / steps, var / steps if model.shared_partition else var / steps ** 2, steps


# ---------------------------------------------------------------- files

def rng_state() -> dict:
    """The state of every random generator a run draws from (torch, numpy, python)."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(s: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python alike, as every run starts."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


# ---------------------------------------------------------------- the loop

@dataclass
class TrainState:
    """Where a run stands: saved in ``checkpoint.pt`` (as a dict) and restored on resume."""
    step: int = 0                 # optimiser steps taken
    epoch: int = 0
    pos: int = 0                  # pieces of this epoch's order already used
    best_valid: float = math.inf  # best validation NLL so far, and its step
    best_step: int = 0
    bad: int = 0                  # validations without improvement (early stopping)
    lr_bad: int = 0               # ... since the learning rate last changed
    history: list = field(default_factory=list)  # one dict per validation (the log's rows)
    finished: str | None = None   # why the run stopped: see TrainResult.stopped
    time_s: float = 0.0           # wall time of the run so far, over all its sessions
    losses: list = field(default_factory=list)  # training losses since the last validation

    @classmethod
    def from_dict(cls, d: dict) -> "TrainState":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainResult:
    step: int
    best_valid: float
    best_step: int
    stopped: str         # 'max_steps' | 'early_stopping' | 'time_limit'
    history: list


def train(model, train_data, valid_data, cfg: TrainConfig, out_dir, *, resume: bool = False,
          overwrite: bool = False, data_info: dict | None = None, progress: bool = True,
          callback=None) -> TrainResult:
    """Train `model` on `train_data` (pieces or (T, 88) arrays, or a lazy sequence of rolls with
    an ``epoch_order(seed, epoch)`` method, such as data.shards.ShardedRolls, which is streamed
    instead of loaded), validating on `valid_data` (held in memory).

    resume=True continues from out_dir/checkpoint.pt (exactly: same batches, same random
    numbers), or starts afresh if there is none; it is an error if the checkpoint's model
    config differs. Without resume, a folder that already holds a checkpoint is an error
    unless overwrite=True. The caller seeds torch before building the model. `callback(step, loss)`
    is called after every optimiser step (tests use it to kill a run). Returns a TrainResult;
    the model is left with the best validation weights. Batches go to the model's device.
    In a torch.distributed process group (torchrun) every rank calls train() alike and trains
    its share of each global batch with DistributedDataParallel; only rank 0 writes files.

    Notebook: 03_rnn_rbm.
    """
    out = Path(out_dir)
    ddp, main = dist.is_distributed(), dist.is_main()
    dev = next(model.parameters()).device
    check_run_folder(out, resume=resume, overwrite=overwrite)
    # a lazy sequence with its own epoch_order (data/shards.ShardedRolls) is streamed, not loaded
    streamed = hasattr(train_data, "epoch_order")
    train_rolls = train_data if streamed else as_rolls(train_data)
    valid_rolls = as_rolls(valid_data)
    if not train_rolls or not valid_rolls:
        raise MusicgenError("training needs at least one non-empty piece in train and in valid")
    model_info = registry.config_dict(model)
    ckpt = out / "checkpoint.pt"
    resuming = resume and ckpt.exists()
    if getattr(model, "needs_init", "") and not cfg.init and not resuming:  # before any file is made
        raise MusicgenError(f"{registry.name_of(model)}: {model.needs_init}")  # (an RNN-DBN's top alone)
    if main:  # only now, with everything checked, is the folder made
        prepare_run_folder(out, resuming)

    seed_everything(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    st = TrainState()
    if resuming:
        saved = read_checkpoint(ckpt, model_info)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        st = TrainState.from_dict(saved["state"])
        set_rng_state(saved["rng"])
        if st.finished == "max_steps" and st.step < cfg.max_steps:
            st.finished = None  # asked for more steps than the run had
        if st.finished == "time_limit":
            st.finished = None
    elif cfg.init:  # a fresh run that starts from trained weights
        init_from(model, cfg.init)
    if main:
        registry.save_config(out / "config.json", model, train=dataclasses.asdict(cfg),
                             data=data_info or {})

    def checkpoint():
        if not main:
            return
        atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "rng": rng_state(), "state": dataclasses.asdict(st), "model_info": model_info,
                           "train_config": dataclasses.asdict(cfg)}, ckpt)
        write_logs(out, st.history)

    def validate(train_loss):
        with torch.random.fork_rng():  # validation never disturbs the training random stream
            torch.manual_seed(cfg.seed + 12345)
            v = mean_nll(model, valid_rolls, validation=True)[0] if main else 0.0
        v = dist.from_rank0(v)  # every rank decides alike
        lr = opt.param_groups[0]["lr"]
        st.history.append({"step": st.step, "epoch": st.epoch, "train_loss": train_loss,
                              "valid_nll": v, "lr": lr, "time_s": round(st.time_s, 1)})
        if v < st.best_valid - 1e-4:
            st.best_valid, st.best_step, st.bad, st.lr_bad = v, st.step, 0, 0
            if main:
                atomic_torch_save(model.state_dict(), out / "model.pt")
        else:
            st.bad += 1
            st.lr_bad += 1
            if cfg.lr_patience and st.lr_bad >= cfg.lr_patience and lr > cfg.min_lr:
                for g in opt.param_groups:
                    g["lr"] = max(cfg.min_lr, lr * cfg.lr_decay)
                st.lr_bad = 0
        return v

    bar = None
    if progress and main:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.max_steps, initial=st.step, desc=f"train {model_info['model']}",
                   unit="step", dynamic_ncols=True)
    model.train()
    ddp_loss = dist.wrap(model) if ddp else None  # after a resume: every rank has loaded it
    t0, time0 = time.monotonic(), st.time_s
    while st.finished is None:
        if st.step >= cfg.max_steps:
            st.finished = "max_steps"
            break
        order = (train_rolls.epoch_order(cfg.seed, st.epoch) if streamed
                 else epoch_order(len(train_rolls), cfg.seed, st.epoch))
        idx = order[st.pos:st.pos + cfg.batch_size]
        rolls = [train_rolls[i] for i in idx]
        if cfg.max_len:
            rolls = [_crop(r, cfg.max_len, cfg.crop_align) for r in rolls]
        if ddp:  # this rank's share of the global batch, weighted by its share of the steps
            mine = dist.shard(rolls)
            weight = dist.loss_weight(sum(map(len, mine)), sum(map(len, rolls)))
            rolls = mine or rolls[:1]  # a rank without pieces still joins backward, weight 0
        x, mask = pad_batch(rolls)
        if cfg.transpose:
            k = int(torch.randint(-cfg.transpose, cfg.transpose + 1, ()))
            # a model of tokens (events, notes) knows where its pitches are; rolls shift keys
            x = model.transpose(x, k) if hasattr(model, "transpose") else transpose_batch(x, k)
        x, mask = x.to(dev), mask.to(dev)
        opt.zero_grad(set_to_none=True)
        if ddp:
            with dist.private_rng(cfg.seed, st.step):
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    loss = ddp_loss(x, mask) * weight
                loss.backward()
            loss = torch.tensor(dist.all_reduce_sum(loss.item()) / dist.world_size(), dtype=torch.float64)
        else:
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                loss, _ = model.training_loss(x, mask)
            loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        st.losses.append(loss.item())
        st.step += 1
        st.pos += cfg.batch_size
        if st.pos >= len(train_rolls):
            st.epoch, st.pos = st.epoch + 1, 0
        st.time_s = time0 + time.monotonic() - t0
        if bar is not None:
            bar.update(1)
        if st.step % cfg.valid_every == 0:  # validation only on multiples: resume stays exact
            st.time_s = dist.from_rank0(st.time_s)
            v = validate(float(np.mean(st.losses)))
            st.losses = []
            if bar is not None:
                bar.set_postfix(valid=f"{v:.3f}", best=f"{st.best_valid:.3f}")
            if st.bad >= cfg.patience:
                st.finished = "early_stopping"
            elif cfg.max_minutes and st.time_s > 60 * cfg.max_minutes:
                st.finished = "time_limit"
            checkpoint()
        if callback is not None:
            callback(st.step, loss.item())
    if bar is not None:
        bar.close()
    if dist.from_rank0(not (out / "model.pt").exists()):  # a run shorter than valid_every: validate once
        validate(float(np.mean(st.losses)) if st.losses else float("nan"))
    checkpoint()
    dist.barrier()  # rank 0 has written model.pt
    model.load_state_dict(torch.load(out / "model.pt", map_location="cpu", weights_only=True))
    model.eval()
    return TrainResult(st.step, st.best_valid, st.best_step, st.finished, st.history)


def _crop(r: np.ndarray, n: int, align: int = 1) -> np.ndarray:
    """A random window of n steps starting at a multiple of `align` (the whole piece if
    shorter); uses numpy's global RNG."""
    if len(r) <= n:
        return r
    a = np.random.randint(0, (len(r) - n) // align + 1) * align
    return r[a:a + n]


# ---------------------------------------------------------------- live runs

@dataclass
class LiveRun:
    """A short training run in front of the reader (:func:`train_live`)."""
    model: torch.nn.Module   # the best weights on validation, in eval mode
    result: TrainResult      # what train() returned
    log: dict                # the run's log.csv, as read_log gives it
    config: dict             # {'model': name, 'config': model options, 'train': training options}
    seconds: float           # the run's wall time (varies from machine to machine: not for print)


def train_live(run, train_data, valid_data, *, progress: bool = True, **train_options) -> LiveRun:
    """Train a fresh model with the configuration of the trained run in folder ``run`` (its
    ``config.json``: model and training options) with the shared engine, ``train_options``
    overriding the training options (a short run: ``max_steps``, ``valid_every``, ...).

    As ``musicgen train --config run/config.json`` does, torch is seeded with the run's seed
    before the model is built, so a run with the same options repeats the first steps of the
    committed run exactly (same batches, same random numbers, same losses). Time limits are off
    (``max_minutes=0`` unless given), so that the run does not depend on the machine's speed.
    The run writes its checkpoint into a temporary folder, deleted when it ends: nothing lands
    in the repository; its log is read back first. The caller's random state (torch, numpy,
    random) is restored afterwards, so that a live run changes nothing the caller draws next.
    ``progress``: the engine's tqdm bar (a widget in a notebook).

    Notebook: 03_rnn_rbm, 04_independent_vs_dependent, 08_training_and_samples."""
    import tempfile

    spec = registry.load_config(Path(run) / "config.json")
    cfg = make_train_config({**spec.get("train", {}), "max_minutes": 0.0, **train_options})
    caller = rng_state()
    try:
        torch.manual_seed(cfg.seed)  # the initial weights, as musicgen train
        model = registry.model_from_config(spec)
        with tempfile.TemporaryDirectory(prefix="musicgen-live-") as out:
            t0 = time.monotonic()
            result = train(model, train_data, valid_data, cfg, out, data_info=spec.get("data"),
                           progress=progress)
            seconds = time.monotonic() - t0
            log = read_log(out)
    finally:
        set_rng_state(caller)
    return LiveRun(model, result, log, {**registry.config_dict(model), "train": dataclasses.asdict(cfg)},
                   seconds)
