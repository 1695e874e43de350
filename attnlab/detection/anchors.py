"""Anchor defaults of YOLOv4-tiny (the reference values) and small helpers.

The anchors are box sizes ``(width, height)`` in *pixels of a 416 x 416 input*. The reference
project keeps them in pixels whatever the input size (an object of 80 pixels is 80 pixels at any
input size); :func:`scale_anchors` rescales them when you want them to follow the input size
instead (e.g. anchors fitted at 416 reused for 160 x 160 synthetic images).

``ANCHORS_MASK[i]`` lists the anchors used by output ``i``: the stride-32 head (13 x 13 at 416)
uses anchors 3, 4, 5 and the stride-16 head (26 x 26) anchors 1, 2, 3. Anchor 0 is unused and
anchor 3 is shared: this is the reference's (and darknet's yolov4-tiny.cfg's) choice, kept so that
its checkpoints decode correctly. k-means anchors for a dataset live in :mod:`attnlab.data.anchors`.
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = [
    "YOLO_ANCHORS",
    "ANCHORS_MASK",
    "ANCHORS_SIZE",
    "STRIDES",
    "default_anchors",
    "scale_anchors",
    "anchors_for_output",
    "validate_anchors",
]

#: input size the default anchors are expressed at
ANCHORS_SIZE = 416

#: (6, 2) anchor widths and heights in pixels at a 416 input, smallest first
YOLO_ANCHORS = torch.tensor(
    [[10.0, 14.0], [23.0, 27.0], [37.0, 58.0], [81.0, 82.0], [135.0, 169.0], [344.0, 319.0]]
)

#: anchors used by each output, in output order (stride 32 first, then stride 16)
ANCHORS_MASK: tuple[tuple[int, ...], ...] = ((3, 4, 5), (1, 2, 3))

#: downsampling factor of each output, in output order
STRIDES: tuple[int, ...] = (32, 16)


def default_anchors() -> torch.Tensor:
    """A fresh copy of :data:`YOLO_ANCHORS` (safe to modify)."""
    return YOLO_ANCHORS.clone()


def validate_anchors(
    anchors: torch.Tensor | Sequence[Sequence[float]] | Sequence[float],
    anchors_mask: Sequence[Sequence[int]],
) -> tuple[torch.Tensor, tuple[tuple[int, ...], ...]]:
    """Check and normalise anchors and mask.

    Args:
        anchors: ``(A, 2)`` widths and heights, or a flat list ``[w0, h0, w1, h1, ...]`` as in the
            reference's ``yolo_anchors.txt``.
        anchors_mask: one list of anchor indices per output (two outputs for YOLOv4-tiny).

    Returns:
        ``(anchors as a float (A, 2) tensor, mask as a tuple of tuples)``.

    Raises:
        ValueError: wrong shape, non-positive sizes, indices out of range, or outputs with
            different anchor counts.
    """
    a = torch.as_tensor(anchors, dtype=torch.float32).detach().clone()
    if a.ndim == 1:
        if a.numel() % 2:
            raise ValueError(f"anchors: a flat list needs an even number of values, got {a.numel()}")
        a = a.reshape(-1, 2)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
        raise ValueError(f"anchors must have shape (A, 2) (width, height), got {tuple(a.shape)}")
    if not torch.all(a > 0):
        raise ValueError("anchors: every width and height must be positive")
    mask = tuple(tuple(int(i) for i in m) for m in anchors_mask)
    if len(mask) == 0 or any(len(m) == 0 for m in mask):
        raise ValueError(f"anchors_mask must list at least one anchor per output, got {anchors_mask}")
    if len({len(m) for m in mask}) != 1:
        raise ValueError(f"anchors_mask: every output must use the same number of anchors, got {anchors_mask}")
    bad = [i for m in mask for i in m if not 0 <= i < a.shape[0]]
    if bad:
        raise ValueError(f"anchors_mask refers to anchors {bad}, but only {a.shape[0]} anchors are given")
    return a, mask


def scale_anchors(
    anchors: torch.Tensor | Sequence[Sequence[float]],
    to_size: int | tuple[int, int],
    from_size: int | tuple[int, int] = ANCHORS_SIZE,
) -> torch.Tensor:
    """Rescale pixel anchors from one input size to another.

    ``to_size`` and ``from_size`` are an int (square) or ``(height, width)``; widths scale with the
    width ratio and heights with the height ratio.
    """
    a = torch.as_tensor(anchors, dtype=torch.float32).reshape(-1, 2)
    th, tw = (to_size, to_size) if isinstance(to_size, int) else to_size
    fh, fw = (from_size, from_size) if isinstance(from_size, int) else from_size
    if min(th, tw, fh, fw) <= 0:
        raise ValueError(f"scale_anchors: sizes must be positive, got to={to_size}, from={from_size}")
    return a * torch.tensor([tw / fw, th / fh], dtype=a.dtype)


def anchors_for_output(
    anchors: torch.Tensor, anchors_mask: Sequence[Sequence[int]], index: int
) -> torch.Tensor:
    """The ``(len(mask[index]), 2)`` pixel anchors used by output ``index``."""
    a = torch.as_tensor(anchors, dtype=torch.float32).reshape(-1, 2)
    return a[list(anchors_mask[index])]
