"""From the two head tensors of YOLOv4-tiny to boxes, scores and labels.

For output ``i`` of shape ``(B, A*(5+K), H, W)`` with stride ``s`` (input size / H) and anchors
``(w_a, h_a)`` in pixels, each cell ``(x, y)`` and anchor ``a`` predicts ``(t_x, t_y, t_w, t_h,
t_o, t_1..t_K)`` and, as in the reference implementation::

    cx = (sigmoid(t_x) + x) * s        cy = (sigmoid(t_y) + y) * s
    w  = exp(t_w) * w_a                h  = exp(t_h) * h_a
    objectness = sigmoid(t_o)          class probabilities = sigmoid(t_k)   (independent, not softmax)
    confidence = objectness * max_k class probability,  label = argmax_k

Boxes come out in pixels of the *network input* (the letterboxed image); the predictor maps them
back to the original image. Everything is vectorised over batch, anchors and cells; NMS runs per
image and is class-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from attnlab.detection.anchors import ANCHORS_MASK, YOLO_ANCHORS, validate_anchors
from attnlab.detection.boxes import batched_nms, box_convert, clip_boxes

__all__ = ["Detections", "decode_outputs", "postprocess", "decode", "make_grid"]


@dataclass
class Detections:
    """Detections of one image.

    Attributes:
        boxes: ``(N, 4)`` ``xyxy`` boxes in pixels (of the network input unless mapped back).
        scores: ``(N,)`` confidence ``objectness * class probability``.
        labels: ``(N,)`` ``int64`` class indices.
        objectness: ``(N,)`` objectness alone.
        class_scores: ``(N,)`` the winning class probability alone.
        candidates: ``(N,)`` index of each detection in the flattened candidate list of
            :func:`decode_outputs` (output 0 cells first, then output 1), for tracing a detection
            back to its cell and anchor (Grad-CAM uses it).
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    objectness: torch.Tensor = field(default=None)  # type: ignore[assignment]
    class_scores: torch.Tensor = field(default=None)  # type: ignore[assignment]
    candidates: torch.Tensor = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.scores)
        for name in ("objectness", "class_scores"):
            if getattr(self, name) is None:
                setattr(self, name, torch.full((n,), float("nan"), device=self.scores.device))
        if self.candidates is None:
            self.candidates = torch.full((n,), -1, dtype=torch.int64, device=self.scores.device)

    def __len__(self) -> int:
        return len(self.scores)

    def to(self, device: torch.device | str) -> "Detections":
        return Detections(*(getattr(self, f).to(device) for f in ("boxes", "scores", "labels", "objectness", "class_scores", "candidates")))


def make_grid(h: int, w: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(grid_x, grid_y)`` of shape ``(h, w)`` with the column and row index of every cell."""
    ys = torch.arange(h, device=device, dtype=dtype)
    xs = torch.arange(w, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return gx, gy


def decode_outputs(
    outputs: Sequence[torch.Tensor],
    num_classes: int,
    input_size: int | tuple[int, int],
    anchors: torch.Tensor | Sequence[Sequence[float]] = YOLO_ANCHORS,
    anchors_mask: Sequence[Sequence[int]] = ANCHORS_MASK,
) -> torch.Tensor:
    """Decode raw head outputs into one candidate per cell and anchor.

    Args:
        outputs: the model's outputs, ``(B, A*(5+K), H_i, W_i)`` each.
        num_classes: ``K``.
        input_size: the network input size, int or ``(height, width)`` (gives the strides).
        anchors: ``(6, 2)`` anchor sizes in pixels.
        anchors_mask: anchors used by each output.

    Returns:
        ``(B, N, 5 + K)``: ``cx, cy, w, h`` in input pixels, objectness and the ``K`` class
        probabilities (sigmoids), with ``N = sum_i A * H_i * W_i`` ordered output by output, then
        anchor, row, column (as the reference flattens them).
    """
    anchors_t, mask = validate_anchors(anchors, anchors_mask)
    if len(outputs) != len(mask):
        raise ValueError(f"decode_outputs: got {len(outputs)} outputs but anchors_mask has {len(mask)} entries")
    in_h, in_w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    attrs = 5 + num_classes
    decoded = []
    for out, m in zip(outputs, mask):
        if out.ndim != 4 or out.shape[1] != len(m) * attrs:
            raise ValueError(
                f"decode_outputs: expected (B, {len(m)}*(5+{num_classes})={len(m) * attrs}, H, W), got "
                f"{tuple(out.shape)}; does num_classes match the model?"
            )
        b, _, h, w = out.shape
        stride_x, stride_y = in_w / w, in_h / h
        p = out.reshape(b, len(m), attrs, h, w).permute(0, 1, 3, 4, 2).float()
        gx, gy = make_grid(h, w, device=out.device)
        anc = anchors_t[list(m)].to(out.device)  # (A, 2) in pixels
        cx = (torch.sigmoid(p[..., 0]) + gx) * stride_x
        cy = (torch.sigmoid(p[..., 1]) + gy) * stride_y
        bw = torch.exp(p[..., 2]) * anc[:, 0].reshape(1, -1, 1, 1)
        bh = torch.exp(p[..., 3]) * anc[:, 1].reshape(1, -1, 1, 1)
        rest = torch.sigmoid(p[..., 4:])
        d = torch.cat([torch.stack([cx, cy, bw, bh], -1), rest], -1)
        decoded.append(d.reshape(b, -1, attrs))
    return torch.cat(decoded, 1)


def postprocess(
    decoded: torch.Tensor,
    conf_threshold: float = 0.5,
    nms_iou: float = 0.3,
    *,
    max_detections: int = 300,
    max_candidates: int = 10000,
    clip_size: tuple[int, int] | None = None,
) -> list[Detections]:
    """Confidence filter and class-aware NMS, per image.

    Args:
        decoded: ``(B, N, 5 + K)`` from :func:`decode_outputs`.
        conf_threshold: keep candidates with ``objectness * best class probability >=`` this.
        nms_iou: IoU above which a lower-scored box of the same class is suppressed.
        max_detections: at most this many detections per image (highest scores).
        max_candidates: at most this many candidates per image go into NMS (highest scores).
        clip_size: ``(height, width)`` to clip boxes to (e.g. the input size), or ``None``.

    Returns:
        one :class:`Detections` per image, boxes ``xyxy`` in the same pixels as ``decoded``.
    """
    if decoded.ndim != 3 or decoded.shape[-1] < 6:
        raise ValueError(f"postprocess: expected (B, N, 5 + K), got {tuple(decoded.shape)}")
    results = []
    obj_all = decoded[..., 4]
    cls_all, lab_all = decoded[..., 5:].max(-1)
    conf_all = obj_all * cls_all
    for i in range(decoded.shape[0]):
        cand = torch.nonzero(conf_all[i] >= conf_threshold).flatten()
        if len(cand) > max_candidates:
            cand = cand[torch.topk(conf_all[i, cand], max_candidates).indices]
        boxes = box_convert(decoded[i, cand, :4], "cxcywh", "xyxy")
        if clip_size is not None:
            boxes = clip_boxes(boxes, clip_size)
        scores, labels = conf_all[i, cand], lab_all[i, cand]
        keep = batched_nms(boxes, scores, labels, nms_iou)[:max_detections]
        results.append(
            Detections(
                boxes=boxes[keep],
                scores=scores[keep],
                labels=labels[keep],
                objectness=obj_all[i, cand[keep]],
                class_scores=cls_all[i, cand[keep]],
                candidates=cand[keep],
            )
        )
    return results


def decode(
    outputs: Sequence[torch.Tensor],
    num_classes: int,
    input_size: int | tuple[int, int],
    anchors: torch.Tensor | Sequence[Sequence[float]] = YOLO_ANCHORS,
    anchors_mask: Sequence[Sequence[int]] = ANCHORS_MASK,
    *,
    conf_threshold: float = 0.5,
    nms_iou: float = 0.3,
    max_detections: int = 300,
    clip: bool = True,
) -> list[Detections]:
    """:func:`decode_outputs` then :func:`postprocess`: raw outputs to per-image detections.

    The defaults ``conf_threshold=0.5`` and ``nms_iou=0.3`` are the reference's.
    """
    decoded = decode_outputs(outputs, num_classes, input_size, anchors, anchors_mask)
    in_hw = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    return postprocess(
        decoded, conf_threshold, nms_iou, max_detections=max_detections, clip_size=in_hw if clip else None
    )
