"""Data-parallel training with PyTorch's own engine (torch.distributed + DistributedDataParallel).

    torchrun --nproc_per_node=2 -m musicgen_lib train --model rnn-nade --dataset jsb --path P --out runs/x

torchrun starts N processes and tells each its place through environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); :func:`init_from_env` joins them into one
process group (backend gloo on the CPU, nccl on CUDA, one GPU per process: LOCAL_RANK's).
The training engine (musicgen_lib.train) then asks :func:`is_distributed` and, if so:

* every rank builds the same global batch of ``batch_size`` pieces (same shuffled order, same
  crops, same transposition: the shared random stream advances identically on every rank) and
  keeps its share (:func:`shard`), so the run's trajectory is that of a single process;
* each rank's loss, a mean over its real time steps, is weighted by its share of the global
  batch's steps times the world size (:func:`loss_weight`); DDP averages the gradients over the
  ranks, so the gradient is the single-process gradient of the mean over the whole batch;
* the model's own random numbers (CD sampling, dropout) come from a private stream per (step,
  rank) (:func:`private_rng`), so the shared stream stays the same on all ranks and a resume
  (every rank loads rank 0's checkpoint) is exact;
* only rank 0 validates and writes files; the values every rank must agree on (the validation
  NLL, the elapsed time) are sent from rank 0 (:func:`from_rank0`), so early stopping and lr decay
  decide the same everywhere.

Without torchrun (WORLD_SIZE unset or 1) nothing here does anything and the engine runs exactly
as a single process always did.
"""
from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist
from torch import nn


def env_world_size() -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(device: str = "cpu") -> torch.device:
    """The device of this process: the CPU, or for 'cuda' the GPU numbered LOCAL_RANK (0 alone)."""
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            from .errors import MusicgenError
            raise MusicgenError("--device cuda: no CUDA GPU is available to torch")
        if device == "cuda":
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device(device)


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group described by torchrun's environment variables, if there is one
    (WORLD_SIZE > 1) and it is not joined yet: backend nccl for CUDA, gloo for the CPU.
    Returns whether this call joined it (then :func:`cleanup` leaves it at the end)."""
    if env_world_size() <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    dev = local_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return True


def cleanup() -> None:
    """Leave the process group (if any): call once training is over."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """True when a process group of more than one process is joined."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process' rank (0 alone)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes training together (1 alone)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0, the only one that validates, writes files and shows progress bars."""
    return rank() == 0


def _comm_device() -> torch.device:
    """Where collective tensors live: the current GPU for nccl, the CPU otherwise."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def shard(items: list) -> list:
    """This rank's share of a global batch: items rank, rank + W, rank + 2W, ... (W: world size).
    Empty for a rank beyond the batch's length (a batch shorter than the world)."""
    return list(items[rank()::world_size()])


def loss_weight(mine: int, total: int) -> float:
    """Factor of a rank's mean loss over its `mine` real steps (of `total` in the global batch):
    after DDP averages the gradients over W ranks, sum_r (mine_r / total) * grad_r remains, the
    gradient of the mean over all steps of the global batch."""
    return mine * world_size() / total


def all_reduce_sum(value: float) -> float:
    """The sum over all ranks of a float (in float64)."""
    if not is_distributed():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return float(t.item())


def from_rank0(value):
    """Rank 0's value of a float or bool, on every rank (the value itself when alone)."""
    if not is_distributed():
        return value
    t = torch.tensor([float(value)], dtype=torch.float64, device=_comm_device())
    dist.broadcast(t, 0)
    return type(value)(t.item()) if isinstance(value, bool) else float(t.item())


def barrier() -> None:
    """Wait for every rank (nothing when alone)."""
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def private_rng(seed: int, step: int):
    """A random stream of its own for (seed, step, rank), leaving the shared stream untouched."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(((seed * 1_000_003 + step) * 4099 + rank()) % 2 ** 63)
        yield


class _TrainingLoss(nn.Module):
    """The model's training loss as a forward(), which DistributedDataParallel wraps."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, mask):
        return self.model.training_loss(x, mask)[0]


def wrap(model: nn.Module) -> nn.Module:
    """DistributedDataParallel around the model's training loss: call it as loss = ddp(x, mask).
    Building it sends rank 0's weights to every rank; backward() averages the gradients."""
    from torch.nn.parallel import DistributedDataParallel

    dev = next(model.parameters()).device
    return DistributedDataParallel(_TrainingLoss(model),
                                   device_ids=[dev] if dev.type == "cuda" else None)
