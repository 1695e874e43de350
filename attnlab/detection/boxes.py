"""Boxes in plain torch: format conversions, the IoU family and non-maximum suppression.

Formats (all in the last dimension, any leading shape):

- ``"xyxy"``   ``(x1, y1, x2, y2)`` corners
- ``"xywh"``   ``(x1, y1, w, h)`` top-left corner and size (COCO)
- ``"cxcywh"`` ``(cx, cy, w, h)`` centre and size (YOLO)

The IoU family comes in two shapes: *pairwise* (``box_iou(a, b)`` is an ``(N, M)`` matrix) and
*aligned* (``box_iou_aligned(a, b)`` compares ``a[i]`` with ``b[i]``, as a loss needs).

- IoU  = |A n B| / |A u B|
- GIoU = IoU - |C \\ (A u B)| / |C|, C the smallest box enclosing both (Rezatofighi et al. 2019)
- DIoU = IoU - rho^2 / c^2, rho the distance of the centres, c the diagonal of C (Zheng et al. 2020)
- CIoU = DIoU - alpha v, v = 4/pi^2 (atan(w_b/h_b) - atan(w_a/h_a))^2, alpha = v / (1 - IoU + v)

No torchvision: everything is vectorised torch and runs on any device.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

__all__ = [
    "BOX_FORMATS",
    "box_convert",
    "box_area",
    "clip_boxes",
    "box_iou",
    "generalized_box_iou",
    "distance_box_iou",
    "complete_box_iou",
    "box_iou_aligned",
    "generalized_box_iou_aligned",
    "distance_box_iou_aligned",
    "complete_box_iou_aligned",
    "iou",
    "nms",
    "batched_nms",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
_EPS = 1e-7


def _check_boxes(boxes: torch.Tensor, name: str = "boxes") -> torch.Tensor:
    if not isinstance(boxes, torch.Tensor):
        boxes = torch.as_tensor(boxes, dtype=torch.float32)
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"{name} must have 4 values in the last dimension, got shape {tuple(boxes.shape)}")
    if not boxes.is_floating_point():
        boxes = boxes.float()
    return boxes


def box_convert(boxes: torch.Tensor, in_fmt: str, out_fmt: str) -> torch.Tensor:
    """Convert boxes between ``"xyxy"``, ``"xywh"`` and ``"cxcywh"`` (returns a new tensor)."""
    for f in (in_fmt, out_fmt):
        if f not in BOX_FORMATS:
            raise ValueError(f"box_convert: unknown format {f!r}; expected one of {BOX_FORMATS}")
    boxes = _check_boxes(boxes)
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x1, y1, x2, y2 = a, b, c, d
    if out_fmt == "xyxy":
        return torch.stack([x1, y1, x2, y2], -1)
    if out_fmt == "xywh":
        return torch.stack([x1, y1, x2 - x1, y2 - y1], -1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``xyxy`` boxes (0 for degenerate boxes)."""
    boxes = _check_boxes(boxes)
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def clip_boxes(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Clip ``xyxy`` boxes to an image of ``size = (height, width)`` (returns a new tensor).

    Raises:
        ValueError: ``size`` is not two finite numbers >= 0.
    """
    boxes = _check_boxes(boxes)
    try:
        h, w = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"clip_boxes: size must be (height, width), got {size!r}") from None
    if not (math.isfinite(h) and math.isfinite(w) and h >= 0 and w >= 0):
        raise ValueError(f"clip_boxes: size must be (height, width) with both finite and >= 0, got {tuple(size)!r}")
    x = boxes[..., 0::2].clamp(0, w)
    y = boxes[..., 1::2].clamp(0, h)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


# ----------------------------------------------------------------------------- the IoU family
def _iou_terms(a: torch.Tensor, b: torch.Tensor, kind: str, eps: float) -> torch.Tensor:
    """IoU variant of broadcastable ``xyxy`` boxes ``a`` and ``b`` (shape (..., 4))."""
    if kind not in ("iou", "giou", "diou", "ciou"):
        raise ValueError(f"iou: kind must be 'iou', 'giou', 'diou' or 'ciou', got {kind!r}")
    ax1, ay1, ax2, ay2 = a.unbind(-1)
    bx1, by1, bx2, by2 = b.unbind(-1)
    aw, ah = (ax2 - ax1).clamp(min=0), (ay2 - ay1).clamp(min=0)
    bw, bh = (bx2 - bx1).clamp(min=0), (by2 - by1).clamp(min=0)
    iw = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0)
    ih = (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0)
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    iou_ = inter / (union + eps)
    if kind == "iou":
        return iou_
    cw = torch.maximum(ax2, bx2) - torch.minimum(ax1, bx1)
    ch = torch.maximum(ay2, by2) - torch.minimum(ay1, by1)
    if kind == "giou":
        c_area = cw * ch
        return iou_ - (c_area - union) / (c_area + eps)
    c2 = cw**2 + ch**2 + eps
    rho2 = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4
    if kind == "diou":
        return iou_ - rho2 / c2
    v = (4 / math.pi**2) * (torch.atan(bw / (bh + eps)) - torch.atan(aw / (ah + eps))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou_ + v + eps)
    return iou_ - (rho2 / c2 + alpha * v)


def iou(boxes1: torch.Tensor, boxes2: torch.Tensor, kind: str = "iou", *, aligned: bool = False, fmt: str = "xyxy", eps: float = _EPS) -> torch.Tensor:
    """IoU, GIoU, DIoU or CIoU of two sets of boxes.

    Args:
        boxes1: ``(N, 4)`` boxes (or ``(..., N, 4)`` when aligned).
        boxes2: ``(M, 4)`` boxes; with ``aligned=True`` the same shape as ``boxes1``.
        kind: ``"iou"``, ``"giou"``, ``"diou"`` or ``"ciou"``.
        aligned: ``False`` for the ``(N, M)`` matrix of all pairs, ``True`` for ``boxes1[i]`` vs
            ``boxes2[i]`` (shape ``(N,)``).
        fmt: format of both inputs (converted to ``xyxy`` first).
        eps: added to denominators so that degenerate boxes give finite values.

    In CIoU the trade-off weight ``alpha`` is treated as a constant for the gradient, as the
    DIoU/CIoU authors' PyTorch code does (``torch.no_grad()`` around ``alpha`` in
    ``Zzh-tju/DIoU-SSD-pytorch``, ``utils/box/box_utils.py``). The YOLOv4-tiny reference project
    differentiates through ``alpha``; its box-loss gradients differ from these by a few percent,
    the loss values are the same.
    """
    a, b = _check_boxes(boxes1, "boxes1"), _check_boxes(boxes2, "boxes2")
    if fmt != "xyxy":
        a, b = box_convert(a, fmt, "xyxy"), box_convert(b, fmt, "xyxy")
    if aligned:
        if a.shape != b.shape:
            raise ValueError(f"aligned IoU needs boxes of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        return _iou_terms(a, b, kind, eps)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"pairwise IoU needs (N, 4) and (M, 4) boxes, got {tuple(a.shape)} and {tuple(b.shape)}")
    return _iou_terms(a[:, None, :], b[None, :, :], kind, eps)


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """``(N, M)`` IoU of ``xyxy`` boxes."""
    return iou(boxes1, boxes2, "iou")


def generalized_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """``(N, M)`` generalised IoU of ``xyxy`` boxes (in [-1, 1])."""
    return iou(boxes1, boxes2, "giou")


def distance_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """``(N, M)`` distance IoU of ``xyxy`` boxes (in [-1, 1])."""
    return iou(boxes1, boxes2, "diou")


def complete_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """``(N, M)`` complete IoU of ``xyxy`` boxes."""
    return iou(boxes1, boxes2, "ciou")


def box_iou_aligned(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """IoU of ``boxes1[i]`` and ``boxes2[i]`` (``xyxy``)."""
    return iou(boxes1, boxes2, "iou", aligned=True)


def generalized_box_iou_aligned(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """GIoU of ``boxes1[i]`` and ``boxes2[i]`` (``xyxy``)."""
    return iou(boxes1, boxes2, "giou", aligned=True)


def distance_box_iou_aligned(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """DIoU of ``boxes1[i]`` and ``boxes2[i]`` (``xyxy``)."""
    return iou(boxes1, boxes2, "diou", aligned=True)


def complete_box_iou_aligned(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """CIoU of ``boxes1[i]`` and ``boxes2[i]`` (``xyxy``)."""
    return iou(boxes1, boxes2, "ciou", aligned=True)


# ----------------------------------------------------------------------------- NMS
def _greedy_keep(suppress: torch.Tensor) -> torch.Tensor:
    """Exact greedy NMS from ``suppress[i, j]`` = "box i (earlier, higher score) suppresses j".

    ``suppress`` must be strictly upper triangular in score order. Greedy NMS keeps j iff no
    *kept* earlier box suppresses it; iterating ``keep = ~any_i(keep_i & suppress_ij)`` from
    "keep all" fixes at least one more box in score order per step, so it reaches the greedy
    answer (the unique fixed point) in at most N steps, usually very few. Every step is one
    vectorised matrix-vector product, which suits GPUs better than a Python loop over boxes.
    """
    n = suppress.shape[0]
    keep = torch.ones(n, dtype=torch.bool, device=suppress.device)
    s = suppress.to(torch.float32)
    for _ in range(n + 1):
        new = (keep.to(torch.float32) @ s) == 0
        if torch.equal(new, keep):
            break
        keep = new
    return keep


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression of ``xyxy`` boxes.

    A box is dropped when its IoU with a kept box of higher score is *greater than*
    ``iou_threshold`` (the torchvision convention). Ties in score keep the earlier index first.

    Returns:
        ``int64`` indices of the kept boxes, by decreasing score.

    Raises:
        ValueError: boxes not ``(N, 4)``, finite, with ``x1 <= x2`` and ``y1 <= y2``; scores not
            ``(N,)`` and free of NaN; ``iou_threshold`` not a number in [0, 1].
    """
    boxes = _check_boxes(boxes)
    return batched_nms(boxes, scores, torch.zeros(boxes.shape[0], dtype=torch.int64, device=boxes.device), iou_threshold)


def _check_nms_inputs(boxes: torch.Tensor, scores: Any, idxs: Any, iou_threshold: Any, chunk: Any) -> None:
    """Refuse what would make NMS silently wrong: NaN scores (they would sort first and suppress
    real boxes), non-finite or inverted boxes, thresholds outside [0, 1], non-integer groups."""
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, numbers.Real) or not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"nms: iou_threshold must be a number in [0, 1], got {iou_threshold!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"nms: chunk must be an int >= 1, got {chunk!r}")
    if boxes.ndim != 2:
        raise ValueError(f"nms: boxes must be (N, 4), got {tuple(boxes.shape)}")
    n = boxes.shape[0]
    for name, value in (("scores", scores), ("idxs", idxs)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"nms: {name} must be a torch.Tensor of shape ({n},), got {type(value).__name__}")
    if scores.shape != (n,) or idxs.shape != (n,):
        raise ValueError(
            f"nms: scores and idxs must be (N,) = ({n},), got {tuple(scores.shape)} and {tuple(idxs.shape)}"
        )
    if scores.is_complex() or scores.dtype == torch.bool:
        raise ValueError(f"nms: scores must be real numbers, got dtype {scores.dtype}")
    if idxs.is_floating_point() or idxs.is_complex():
        raise ValueError(f"nms: idxs must be integers (class or group ids), got dtype {idxs.dtype}")
    bad = int(torch.isnan(scores).sum()) if scores.is_floating_point() else 0
    if bad:
        raise ValueError(f"nms: scores must not be NaN, got {bad} NaN score(s) of {n}")
    bad = int((~torch.isfinite(boxes)).any(1).sum())
    if bad:
        raise ValueError(f"nms: boxes must be finite, got {bad} box(es) with NaN or inf of {n}")
    bad = int(((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).sum())
    if bad:
        raise ValueError(f"nms: boxes must be xyxy with x1 <= x2 and y1 <= y2, got {bad} inverted box(es) of {n}")


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float, *, chunk: int = 4096
) -> torch.Tensor:
    """Class-aware NMS: boxes only suppress boxes with the same ``idxs`` value (e.g. class).

    Args:
        boxes: ``(N, 4)`` ``xyxy`` boxes.
        scores: ``(N,)`` scores.
        idxs: ``(N,)`` integer group of each box (class label, or ``image * K + class``).
        iou_threshold: boxes overlapping a kept box of their group by more than this are dropped
            (a number in [0, 1]).
        chunk: groups are processed together while their total size is at most this (memory is
            quadratic in it); larger sets are split by group.

    Returns:
        ``int64`` indices of kept boxes, by decreasing score.
    """
    boxes = _check_boxes(boxes)
    _check_nms_inputs(boxes, scores, idxs, iou_threshold, chunk)
    n = boxes.shape[0]
    if n == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    if n > chunk:
        groups = torch.unique(idxs)
        if len(groups) > 1:
            kept = [torch.nonzero(idxs == g).flatten() for g in groups]
            kept = [sel[batched_nms(boxes[sel], scores[sel], idxs[sel], iou_threshold, chunk=max(chunk, len(sel)))] for sel in kept]
            keep = torch.sort(torch.cat(kept)).values  # ties in score: lower index first
            return keep[_stable_desc(scores[keep])]
    order = _stable_desc(scores)
    b, g = boxes[order], idxs[order]
    overlap = box_iou(b, b) > iou_threshold
    overlap &= g[:, None] == g[None, :]
    overlap = torch.triu(overlap, diagonal=1)
    keep = _greedy_keep(overlap)
    return order[keep]


def _stable_desc(scores: torch.Tensor) -> torch.Tensor:
    return torch.sort(scores, descending=True, stable=True).indices
