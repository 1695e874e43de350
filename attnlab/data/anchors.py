"""Anchor boxes by k-means clustering of box sizes with the ``1 - IoU`` distance (YOLOv2 onwards).

Boxes are compared by width and height only, as if they shared a corner:
``IoU(box, anchor) = min(w, aw) * min(h, ah) / (w * h + aw * ah - min(w, aw) * min(h, ah))``.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

__all__ = ["wh_iou", "kmeans_anchors", "dataset_wh", "AnchorResult"]


def wh_iou(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 2)`` sizes against ``(K, 2)`` anchor sizes, corners aligned: ``(N, K)``."""
    wh = np.asarray(wh, np.float64)[:, None, :]
    anchors = np.asarray(anchors, np.float64)[None, :, :]
    inter = np.minimum(wh[..., 0], anchors[..., 0]) * np.minimum(wh[..., 1], anchors[..., 1])
    union = wh[..., 0] * wh[..., 1] + anchors[..., 0] * anchors[..., 1] - inter
    return inter / np.maximum(union, 1e-12)


class AnchorResult(tuple):
    """``(anchors (K, 2) sorted by area, mean_iou)``; also ``.anchors``, ``.mean_iou``, ``.iterations``."""

    def __new__(cls, anchors: np.ndarray, mean_iou: float, iterations: int):
        self = super().__new__(cls, (anchors, mean_iou))
        self.anchors, self.mean_iou, self.iterations = anchors, mean_iou, iterations
        return self


def kmeans_anchors(
    wh: np.ndarray | torch.Tensor,
    k: int = 6,
    *,
    seed: int = 0,
    max_iter: int = 300,
    restarts: int = 3,
) -> AnchorResult:
    """Cluster box sizes into ``k`` anchors with k-means under the ``1 - IoU`` distance.

    Initialisation is k-means++ (with the same distance); each cluster's centre is the *median*
    size of its members (as in the reference project's ``kmeans_for_anchors.py``). The best of
    ``restarts`` runs (highest mean best IoU) is returned. Deterministic for a ``seed``.

    Args:
        wh: ``(N, 2)`` widths and heights (pixels or fractions: anchors come out in the same unit).
        k: number of anchors (6 for YOLOv4-tiny).

    Returns:
        :class:`AnchorResult` ``(anchors, mean_iou)``: anchors ``(k, 2)`` float64 sorted by area,
        and the mean over boxes of the best IoU with any anchor.

    Raises:
        ValueError: fewer than ``k`` distinct non-degenerate sizes.
    """
    wh = np.asarray(wh.cpu() if isinstance(wh, torch.Tensor) else wh, np.float64).reshape(-1, 2)
    wh = wh[(wh[:, 0] > 0) & (wh[:, 1] > 0)]
    if len(np.unique(wh, axis=0)) < k:
        raise ValueError(f"kmeans_anchors: need at least k={k} distinct box sizes, got {len(np.unique(wh, axis=0))}")
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(max(1, restarts)):
        centres = wh[[rng.integers(len(wh))]]
        while len(centres) < k:  # k-means++ with d = 1 - IoU
            d = 1.0 - wh_iou(wh, centres).max(axis=1)
            p = d**2
            if p.sum() <= 0:
                p = np.ones_like(p)
            centres = np.vstack([centres, wh[rng.choice(len(wh), p=p / p.sum())]])
        assign = None
        it = 0
        for it in range(1, max_iter + 1):
            new = wh_iou(wh, centres).argmax(axis=1)
            if assign is not None and (new == assign).all():
                break
            assign = new
            for j in range(k):
                members = wh[assign == j]
                if len(members):
                    centres[j] = np.median(members, axis=0)
                else:  # empty cluster: move it to the worst-covered box
                    centres[j] = wh[wh_iou(wh, centres).max(axis=1).argmin()]
        mean_iou = float(wh_iou(wh, centres).max(axis=1).mean())
        if best is None or mean_iou > best[1]:
            best = (centres.copy(), mean_iou, it)
    centres, mean_iou, it = best
    order = np.argsort(centres[:, 0] * centres[:, 1], kind="stable")
    return AnchorResult(centres[order], mean_iou, it)


def dataset_wh(dataset: Iterable, *, scale_to: int | None = None) -> np.ndarray:
    """Widths and heights ``(N, 2)`` of every box in a dataset.

    Uses ``dataset.raw(i)`` when available (no image decoding for VOC beyond the annotations,
    no augmentation); otherwise iterates items ``(image, boxes)``. With ``scale_to``, sizes are
    scaled as a letterbox to ``scale_to`` x ``scale_to`` would scale them.
    """
    out = []
    annotations = getattr(dataset, "annotations", None)
    if annotations is not None:  # VOCDetection: sizes from the XML, images not decoded
        for a in annotations:
            b = np.asarray(a.boxes, np.float64).reshape(-1, 5)
            wh = b[:, 2:4] - b[:, 0:2]
            if scale_to and a.width and a.height:
                wh = wh * scale_to / max(a.width, a.height)
            out.append(wh)
    else:
        items = (dataset.raw(i) for i in range(len(dataset))) if hasattr(dataset, "raw") else iter(dataset)
        for image, boxes in items:
            b = np.asarray(boxes.cpu() if isinstance(boxes, torch.Tensor) else boxes, np.float64).reshape(-1, 5)
            wh = b[:, 2:4] - b[:, 0:2]
            if scale_to:
                h, w = (image.shape[1:] if isinstance(image, torch.Tensor) else image.shape[:2])
                wh = wh * scale_to / max(h, w)
            out.append(wh)
    return np.concatenate(out, axis=0) if out else np.zeros((0, 2))
