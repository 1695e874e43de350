"""Multi-GPU (or multi-process CPU) training with torch DDP, launched by ``torchrun``.

``torchrun --nproc_per_node=2 script.py`` starts one process per GPU and tells each who it is
through environment variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). The script calls :func:`init_distributed` once, builds its loader with
:func:`make_loader` (each process then sees its own 1/world_size share of every epoch) and hands
everything to :class:`attnlab.train.Trainer`, which wraps the model in
``DistributedDataParallel`` (gradients averaged across processes after every backward pass) and
lets only rank 0 draw the progress bar, run validation and write checkpoints.

Run without torchrun, :func:`init_distributed` returns a single-process :class:`DistInfo` and
nothing else changes, so the same script trains on a laptop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["DistInfo", "init_distributed", "dist_info", "is_main_process", "make_loader", "all_reduce_mean", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    """Who this process is: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """The current process group's view (single process if none is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), int(os.environ.get("LOCAL_RANK", dist.get_rank())), dist.get_world_size())
    return DistInfo()


def is_main_process() -> bool:
    return dist_info().is_main


def init_distributed(backend: str | None = None) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun describes in the environment; pick this process's device.

    Returns ``(info, device)``. Without ``WORLD_SIZE`` > 1 in the environment this is a single
    process: rank 0 of 1, on ``cuda`` if available, else ``cpu``. With CUDA the backend is NCCL
    and each process takes GPU ``LOCAL_RANK``; otherwise gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return DistInfo(), torch.device("cuda" if cuda else "cpu")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"), rank=rank, world_size=world)
    return DistInfo(rank, local_rank, world), device


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    **kwargs: Any,
) -> DataLoader:
    """A DataLoader that shards the data across processes when distributed.

    Distributed: a ``DistributedSampler`` (each process a disjoint 1/world_size share, reshuffled
    each epoch from ``seed`` and the epoch number; the trainer calls ``set_epoch``). Otherwise a
    plain shuffled loader whose own ``torch.Generator`` is seeded with ``seed`` (its state goes
    into checkpoints, so a resumed run sees the same order). ``batch_size`` is per process.
    """
    info = dist_info()
    if info.enabled:
        sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last, **kwargs)


def all_reduce_mean(values: dict[str, float], device: torch.device | str = "cpu") -> dict[str, float]:
    """Average a dict of numbers over all processes (identity when not distributed)."""
    info = dist_info()
    if not info.enabled or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= info.world_size
    return dict(zip(keys, t.tolist()))


def cleanup() -> None:
    """Leave the process group (call at the end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
