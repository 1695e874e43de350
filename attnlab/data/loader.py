"""Batching detection samples: :func:`detection_collate` and :func:`make_loader`.

Target format of a batch (chosen once for the whole package): ``targets`` is a float32 tensor
``(M, 6)`` with rows ``[batch_index, class, x1, y1, x2, y2]`` in pixels of the (letterboxed /
augmented) input image, ``M`` the number of boxes in the whole batch (0 is fine). One tensor,
not a list, so target assignment in the loss is vectorised and moves to the GPU in one copy.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["detection_collate", "make_loader", "EpochLoader", "seed_worker", "auto_num_workers", "split_targets"]


def detection_collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(image (3, H, W), boxes (N, 5) [x1, y1, x2, y2, class])`` samples.

    Returns:
        ``(images (B, 3, H, W), targets (M, 6) [batch_index, class, x1, y1, x2, y2])``.

    Raises:
        ValueError: images of different sizes (letterbox or augment to one size first).
    """
    if len(batch) == 0:
        raise ValueError("detection_collate: empty batch")
    images = [b[0] for b in batch]
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) != 1:
        raise ValueError(
            f"detection_collate: images in a batch must have one size, got {sorted(shapes)}; "
            "letterbox or augment them to a fixed size first"
        )
    rows = []
    for i, (_, boxes) in enumerate(batch):
        boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 5)
        idx = torch.full((boxes.shape[0], 1), float(i))
        rows.append(torch.cat([idx, boxes[:, 4:5], boxes[:, :4]], dim=1))
    return torch.stack(images), torch.cat(rows, dim=0)


def split_targets(targets: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Inverse of the collate's target layout: a list of ``(N_i, 5)`` ``[x1, y1, x2, y2, class]``."""
    out = []
    for i in range(batch_size):
        t = targets[targets[:, 0] == i]
        out.append(torch.cat([t[:, 2:6], t[:, 1:2]], dim=1))
    return out


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed numpy and ``random`` in each worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def auto_num_workers(device: str | torch.device | None = None) -> int:
    """How many loader workers are safe and useful here.

    0 (load in the main process) on CPU-only machines and notebooks without CUDA (workers compete
    with training for the same few cores, and forked workers in notebooks are fragile), on
    Windows/macOS (spawned workers must re-import the notebook's code), and when fewer than 4
    cores exist. Otherwise ``min(8, cores // 2)``. ``$ATTNLAB_NUM_WORKERS`` (an int), when set,
    is the answer instead (e.g. to test multi-process loading on a small CPU).
    """
    forced = os.environ.get("ATTNLAB_NUM_WORKERS", "").strip()
    if forced:
        if not forced.isdigit():
            raise ValueError(f"auto_num_workers: $ATTNLAB_NUM_WORKERS must be an int >= 0, got {forced!r}")
        return int(forced)
    cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not cuda or sys.platform in ("win32", "darwin") or cores < 4:
        return 0
    return int(min(8, cores // 2))


class EpochLoader(DataLoader):
    """A DataLoader that tells its dataset the epoch (``dataset.set_epoch(e)``) at each ``iter``.

    Datasets that draw their augmentation from ``(seed, epoch, index)`` (as
    :class:`~attnlab.data.ShapesDetection` and :class:`~attnlab.data.VOCDetection` do) then get
    new augmentation every epoch, reproducibly, with or without workers.

    By default the epoch counts the passes (0, 1, 2 ...). A trainer that knows its epoch calls
    :meth:`set_epoch` before each pass (as :class:`~attnlab.train.Trainer` does), so that a run
    resumed at epoch ``e`` draws epoch ``e``'s augmentation rather than epoch 0's.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The augmentation epoch of the next pass (later passes count on from it)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"EpochLoader.set_epoch: epoch must be an int >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        self.epoch += 1
        return super().__iter__()


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int | str = "auto",
    *,
    drop_last: bool = False,
    pin_memory: bool | None = None,
    collate_fn: Any = detection_collate,
) -> EpochLoader:
    """A DataLoader with settings that work in notebooks and reproduce from ``seed``.

    Args:
        dataset: yields ``(image, boxes)`` (see :func:`detection_collate`).
        batch_size: images per batch.
        shuffle: reshuffle every epoch (order drawn from a ``torch.Generator`` seeded with ``seed``).
        seed: seeds the shuffling generator and, through it, the workers.
        num_workers: an int, or ``"auto"`` for :func:`auto_num_workers`.
        drop_last: drop the last incomplete batch.
        pin_memory: default: when CUDA is available.
        collate_fn: default :func:`detection_collate`.
    """
    if num_workers == "auto":
        num_workers = auto_num_workers()
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"make_loader: num_workers must be an int >= 0 or 'auto', got {num_workers!r}")
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return EpochLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate_fn,
        generator=generator,
        worker_init_fn=seed_worker if num_workers > 0 else None,
        drop_last=drop_last,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
