"""The YOLOv4(-tiny) loss, with target assignment vectorised over the whole batch.

For each output level ``l`` (stride 32 first, then stride 16), with grid ``H x W`` and the
anchors ``anchors[anchors_mask[l]]``:

1. **Assignment.** Every ground-truth box is matched to the anchor whose *shape* fits it best
   (IoU of the two boxes put on a common corner), among all anchors that some level uses. It
   becomes a *positive* of level ``l`` if that anchor is in ``anchors_mask[l]``, in the grid cell
   that contains its centre. (With the reference mask ``[[3, 4, 5], [1, 2, 3]]`` the shared
   anchor 3 makes a box a positive on both levels; anchor 0 is never used.) When two boxes land
   in the same cell and anchor, the later one in the batch wins, as in the reference loop.
   ``anchor_threshold`` optionally adds darknet's extra positives: any anchor of the level whose
   shape IoU with the box exceeds it.
2. **Box loss** ``1 - CIoU(predicted box, ground truth)`` averaged over the positives
   (:func:`attnlab.detection.boxes.iou` with ``kind="ciou"``), the predicted box decoded exactly as
   :mod:`attnlab.detection.decode` does.
3. **Objectness loss** binary cross-entropy of the objectness logit against 1 (positives) or 0
   (the rest), averaged over positives and *negatives*; a non-positive prediction whose decoded
   box overlaps some ground truth of its image by IoU > ``ignore_threshold`` is *ignored* (neither
   positive nor negative): it found an object, just not the one it was assigned.
4. **Class loss** binary cross-entropy of the ``K`` class logits of every positive (independent
   sigmoids, not a softmax) against the one-hot class smoothed by ``label_smoothing = eps``::

       target = onehot * (1 - eps) + eps / K          (the reference's smooth_labels)

The weights follow the reference project (bubbliiiing/yolov4-tiny-pytorch, ``YOLOLoss``)::

    total = sum_l [ box_l * box_ratio  +  obj_l * balance[l] * obj_ratio  +  cls_l * cls_ratio ]
    box_ratio = 0.05,  obj_ratio = 5 * (H_in * W_in) / 416**2,  cls_ratio = K / 80,
    balance = (0.4, 1.0) for the 13x13 and 26x26 levels

Differences from the reference, on purpose: the cross-entropies are computed from logits
(``binary_cross_entropy_with_logits``, the same value as the reference's clipped BCE of the
sigmoid except for logits beyond about +-16); label smoothing is actually applied (the
reference defines it but its current loss never calls it); the ``t_w, t_h`` logits are clamped at
``max_wh_logit`` before ``exp`` so that a wild early prediction cannot overflow to ``inf``.

Usage with :class:`attnlab.train.Trainer` (``loss_fn(output, targets) -> (total, parts)``)::

    loss_fn = YoloLoss(num_classes=6, anchors=model.anchors, anchors_mask=model.anchors_mask,
                       input_size=160)
    total, parts = loss_fn(model(images), targets)      # targets (M, 6): [b, cls, x1, y1, x2, y2]
    parts                                               # {"box": ..., "obj": ..., "cls": ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from attnlab.detection.anchors import ANCHORS_MASK, ANCHORS_SIZE, YOLO_ANCHORS, validate_anchors
from attnlab.detection.boxes import iou

__all__ = ["YoloLoss", "LevelTargets", "shape_iou"]


def shape_iou(wh: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """IoU of ``(M, 2)`` box sizes with ``(A, 2)`` anchor sizes, boxes on a common corner: ``(M, A)``."""
    inter = torch.minimum(wh[:, None, 0], anchors[None, :, 0]) * torch.minimum(wh[:, None, 1], anchors[None, :, 1])
    union = wh[:, None, 0] * wh[:, None, 1] + anchors[None, :, 0] * anchors[None, :, 1] - inter
    return inter / union.clamp(min=1e-12)


@dataclass
class LevelTargets:
    """The positives of one output level, one row per (ground truth, anchor) pair kept.

    Attributes:
        batch, anchor, gy, gx: ``(P,)`` int64 image index, anchor index *within the level*
            (0..A-1), grid row and grid column of each positive.
        target: ``(P,)`` int64 row of the ground truth in the batch's ``targets``.
        boxes: ``(P, 4)`` ground-truth ``cxcywh`` boxes in input pixels.
        classes: ``(P,)`` int64 class of each positive.
    """

    batch: torch.Tensor
    anchor: torch.Tensor
    gy: torch.Tensor
    gx: torch.Tensor
    target: torch.Tensor
    boxes: torch.Tensor
    classes: torch.Tensor

    def __len__(self) -> int:
        return len(self.batch)


class YoloLoss(nn.Module):
    """YOLOv4-tiny loss: CIoU box + objectness BCE (with ignore) + class BCE (with smoothing).

    Args:
        num_classes: ``K``.
        anchors: ``(A, 2)`` anchor sizes in input pixels (default: the reference's six at 416).
        anchors_mask: anchor indices per output level (default ``[[3, 4, 5], [1, 2, 3]]``).
        input_size: network input side or ``(height, width)``: gives each level's stride
            (input size / grid size) and the default ``obj_ratio``.
        label_smoothing: ``eps`` in ``onehot * (1 - eps) + eps / K`` for the class targets.
        ignore_threshold: predictions overlapping a ground truth by more than this IoU are not
            punished as background.
        balance: objectness weight of each level (reference: 0.4 for 13x13, 1.0 for 26x26).
        box_ratio, obj_ratio, cls_ratio: weights of the three terms; ``None`` gives the
            reference's ``0.05``, ``5 * H * W / 416**2`` and ``K / 80``.
        anchor_threshold: ``None`` (reference: one anchor per box) or a shape IoU above which
            further anchors of a level also take the box as a positive (darknet uses 0.213).
        max_wh_logit: ``t_w, t_h`` are clamped to at most this before ``exp`` (``None``: no clamp).

    ``forward(outputs, targets)`` takes the model's outputs (a list or tuple, one
    ``(B, A*(5+K), H_l, W_l)`` tensor per level) and ``targets (M, 6)`` rows
    ``[batch_index, class, x1, y1, x2, y2]`` in input pixels, and returns
    ``(total, {"box": ..., "obj": ..., "cls": ...})``: the scalar to minimise and its three
    weighted parts (detached), which add up to it.
    """

    def __init__(
        self,
        num_classes: int,
        anchors: torch.Tensor | Sequence[Sequence[float]] | None = None,
        anchors_mask: Sequence[Sequence[int]] | None = None,
        input_size: int | tuple[int, int] = ANCHORS_SIZE,
        *,
        label_smoothing: float = 0.0,
        ignore_threshold: float = 0.5,
        balance: Sequence[float] = (0.4, 1.0),
        box_ratio: float | None = None,
        obj_ratio: float | None = None,
        cls_ratio: float | None = None,
        anchor_threshold: float | None = None,
        max_wh_logit: float | None = 10.0,
    ):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"YoloLoss: num_classes must be a positive int, got {num_classes!r}")
        anchors_t, mask = validate_anchors(
            YOLO_ANCHORS if anchors is None else anchors, ANCHORS_MASK if anchors_mask is None else anchors_mask
        )
        if len(balance) < len(mask):
            raise ValueError(f"YoloLoss: balance needs one weight per level ({len(mask)}), got {list(balance)}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"YoloLoss: label_smoothing must be in [0, 1), got {label_smoothing}")
        h, w = (input_size, input_size) if isinstance(input_size, int) else (int(input_size[0]), int(input_size[1]))
        self.num_classes = num_classes
        self.register_buffer("anchors", anchors_t, persistent=False)
        self.anchors_mask = mask
        self.input_size = (h, w)
        self.label_smoothing = float(label_smoothing)
        self.ignore_threshold = float(ignore_threshold)
        self.balance = tuple(float(b) for b in balance)
        self.box_ratio = 0.05 if box_ratio is None else float(box_ratio)
        self.obj_ratio = 5.0 * (h * w) / ANCHORS_SIZE**2 if obj_ratio is None else float(obj_ratio)
        self.cls_ratio = num_classes / 80.0 if cls_ratio is None else float(cls_ratio)
        self.anchor_threshold = anchor_threshold
        self.max_wh_logit = max_wh_logit
        used = sorted({i for m in mask for i in m})
        self._used_anchors = torch.tensor(used, dtype=torch.int64)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, input_size={self.input_size}, "
            f"anchors_mask={[list(m) for m in self.anchors_mask]}, label_smoothing={self.label_smoothing}, "
            f"ignore_threshold={self.ignore_threshold}, balance={self.balance}, box_ratio={self.box_ratio}, "
            f"obj_ratio={self.obj_ratio:.4g}, cls_ratio={self.cls_ratio:.4g}"
        )

    # ------------------------------------------------------------------ targets
    @staticmethod
    def _valid(targets: torch.Tensor) -> torch.Tensor:
        """Targets as float ``(M, 6)`` with degenerate (zero-width or -height) boxes dropped."""
        t = torch.as_tensor(targets).reshape(-1, 6).float()
        keep = (t[:, 4] > t[:, 2]) & (t[:, 5] > t[:, 3])
        return t[keep]

    def best_anchors(self, targets: torch.Tensor) -> torch.Tensor:
        """``(M,)`` index (into ``anchors``) of the used anchor whose shape fits each box best."""
        wh = targets[:, 4:6] - targets[:, 2:4]
        anchors = self.anchors.to(targets.device)
        used = self._used_anchors.to(targets.device)
        ious = shape_iou(wh, anchors[used])
        return used[ious.argmax(1)]

    def assign(self, level: int, targets: torch.Tensor, grid: tuple[int, int]) -> LevelTargets:
        """The positives of output ``level`` (grid ``(H, W)``) for ``targets (M, 6)``; vectorised.

        ``targets`` must already be valid (see :meth:`_valid`).
        """
        h, w = grid
        device = targets.device
        mask = torch.tensor(self.anchors_mask[level], dtype=torch.int64, device=device)
        best = self.best_anchors(targets)  # (M,)
        match = best[:, None] == mask[None, :]  # (M, A_l)
        if self.anchor_threshold is not None and len(targets):
            wh = targets[:, 4:6] - targets[:, 2:4]
            match |= shape_iou(wh, self.anchors.to(device)[mask]) > self.anchor_threshold
        t_idx, k = match.nonzero(as_tuple=True)
        boxes = targets[t_idx]
        cx = (boxes[:, 2] + boxes[:, 4]) / 2
        cy = (boxes[:, 3] + boxes[:, 5]) / 2
        stride_x, stride_y = self.input_size[1] / w, self.input_size[0] / h
        gx = torch.floor(cx / stride_x).long().clamp_(0, w - 1)
        gy = torch.floor(cy / stride_y).long().clamp_(0, h - 1)
        b = boxes[:, 0].long()
        # one positive per (image, anchor, cell): the last ground truth in the batch wins
        if len(t_idx):
            key = ((b * len(mask) + k) * h + gy) * w + gx
            uniq, inverse = torch.unique(key, return_inverse=True)
            winner = torch.full((len(uniq),), -1, dtype=torch.int64, device=device)
            winner = winner.scatter_reduce(0, inverse, torch.arange(len(key), device=device), "amax")
            t_idx, k, gx, gy, b, boxes = t_idx[winner], k[winner], gx[winner], gy[winner], b[winner], boxes[winner]
            cx, cy = cx[winner], cy[winner]
        cxcywh = torch.stack([cx, cy, boxes[:, 4] - boxes[:, 2], boxes[:, 5] - boxes[:, 3]], -1)
        return LevelTargets(b, k, gy, gx, t_idx, cxcywh, boxes[:, 1].long())

    # ------------------------------------------------------------------ one level
    def decode_boxes(self, level: int, p: torch.Tensor) -> torch.Tensor:
        """``(B, A, H, W, 4)`` ``cxcywh`` boxes in input pixels from ``p (B, A, H, W, 5+K)`` logits."""
        _, _, h, w, _ = p.shape
        stride_x, stride_y = self.input_size[1] / w, self.input_size[0] / h
        gy, gx = torch.meshgrid(
            torch.arange(h, device=p.device, dtype=p.dtype), torch.arange(w, device=p.device, dtype=p.dtype), indexing="ij"
        )
        anc = self.anchors.to(p.device, p.dtype)[list(self.anchors_mask[level])]  # (A, 2)
        twh = p[..., 2:4]
        if self.max_wh_logit is not None:
            twh = twh.clamp(max=self.max_wh_logit)
        cx = (torch.sigmoid(p[..., 0]) + gx) * stride_x
        cy = (torch.sigmoid(p[..., 1]) + gy) * stride_y
        wh = torch.exp(twh) * anc[None, :, None, None, :]
        return torch.stack([cx, cy, wh[..., 0], wh[..., 1]], -1)

    def _max_iou(self, pred: torch.Tensor, targets: torch.Tensor, batch: int) -> torch.Tensor:
        """``(B, A, H, W)``: best IoU of each predicted box with the ground truth of its image."""
        shape = pred.shape[:-1]
        flat = pred.reshape(batch, -1, 4)  # (B, N, 4)
        if len(targets) == 0:
            return flat.new_zeros(shape)
        # pad each image's boxes into (B, T, 4) without a loop: rank of each row within its image
        b = targets[:, 0].long()
        order = torch.argsort(b, stable=True)
        b_sorted = b[order]
        counts = torch.bincount(b_sorted, minlength=batch)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.arange(len(b_sorted), device=b.device) - starts[b_sorted]
        t_max = int(counts.max())
        gt = flat.new_zeros(batch, t_max, 4)
        valid = torch.zeros(batch, t_max, dtype=torch.bool, device=flat.device)
        xyxy = targets[order, 2:6].to(flat.dtype)
        gt[b_sorted, rank] = xyxy
        valid[b_sorted, rank] = True
        n = flat.shape[1]
        a = torch.cat([flat[..., :2] - flat[..., 2:] / 2, flat[..., :2] + flat[..., 2:] / 2], -1)
        ious = iou(a[:, :, None, :].expand(batch, n, t_max, 4), gt[:, None, :, :].expand(batch, n, t_max, 4), "iou", aligned=True)
        ious = ious.masked_fill(~valid[:, None, :], -1.0)
        return ious.max(-1).values.reshape(shape)

    def level_loss(self, level: int, output: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unweighted ``(box, obj, cls)`` losses of one level (each a mean, see the module docstring)."""
        b_, c_, h, w = output.shape
        na = len(self.anchors_mask[level])
        attrs = 5 + self.num_classes
        if c_ != na * attrs:
            raise ValueError(
                f"YoloLoss: output {level} has {c_} channels, expected {na}*(5+{self.num_classes})={na * attrs}; "
                "does num_classes match the model?"
            )
        p = output.float().reshape(b_, na, attrs, h, w).permute(0, 1, 3, 4, 2)  # (B, A, H, W, 5+K)
        pred = self.decode_boxes(level, p)
        pos = self.assign(level, targets, (h, w))

        obj_target = torch.zeros(p.shape[:-1], device=p.device, dtype=p.dtype)
        obj_target[pos.batch, pos.anchor, pos.gy, pos.gx] = 1.0
        with torch.no_grad():
            ignore = self._max_iou(pred.detach(), targets, b_) > self.ignore_threshold
        counted = (obj_target > 0) | ~ignore
        obj = F.binary_cross_entropy_with_logits(p[..., 4], obj_target, reduction="none")[counted].mean()

        if len(pos) == 0:
            zero = p.sum() * 0.0 + 0.0  # keeps the graph (and DDP) happy; + 0.0 turns -0.0 into 0.0
            return zero, obj, zero
        p_pos = p[pos.batch, pos.anchor, pos.gy, pos.gx]  # (P, 5+K)
        box_pred = pred[pos.batch, pos.anchor, pos.gy, pos.gx]  # (P, 4)
        ciou = iou(box_pred, pos.boxes.to(box_pred.dtype), "ciou", aligned=True, fmt="cxcywh")
        box = (1.0 - ciou).mean()
        eps = self.label_smoothing
        cls_target = F.one_hot(pos.classes, self.num_classes).to(p.dtype) * (1.0 - eps) + eps / self.num_classes
        cls = F.binary_cross_entropy_with_logits(p_pos[:, 5:], cls_target)
        return box, obj, cls

    # ------------------------------------------------------------------ all levels
    def forward(self, outputs: Sequence[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if isinstance(outputs, torch.Tensor):
            outputs = [outputs]
        if len(outputs) != len(self.anchors_mask):
            raise ValueError(f"YoloLoss: got {len(outputs)} outputs but anchors_mask has {len(self.anchors_mask)} levels")
        targets = self._valid(targets.to(outputs[0].device))
        box = obj = cls = None
        for level, out in enumerate(outputs):
            lb, lo, lc = self.level_loss(level, out, targets)
            lb, lo, lc = lb * self.box_ratio, lo * self.balance[level] * self.obj_ratio, lc * self.cls_ratio
            box, obj, cls = (lb, lo, lc) if box is None else (box + lb, obj + lo, cls + lc)
        total = box + obj + cls
        return total, {"box": box.detach(), "obj": obj.detach(), "cls": cls.detach()}
