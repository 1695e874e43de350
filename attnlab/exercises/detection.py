"""Checkers for the detector's core steps written by the learner (Chapter 6): decoding one head's
output, assigning a ground-truth box to its anchor and cell, and non-maximum suppression.

Each one runs the answer on inputs it makes, compares with the package's computation, and turns
a difference into the likely slip (a missing sigmoid, the grid offset forgotten, rows and columns
swapped, ``>=`` for ``>``, boxes suppressed by boxes that were themselves suppressed ...).
"""

from __future__ import annotations

from typing import Callable

import torch

from attnlab.detection import box_iou, nms
from attnlab.detection.anchors import ANCHORS_MASK, YOLO_ANCHORS
from attnlab.detection.loss import shape_iou
from attnlab.exercises.checks import CheckResult, _call, _fail, _shape_hint

__all__ = ["check_decode", "check_assignment", "check_nms"]


# --- decoding -------------------------------------------------------------------------------------
def _decode(raw: torch.Tensor, anchors: torch.Tensor, stride: float, *, sigmoid: bool = True, grid: bool = True,
            exp: bool = True, anchors_in_cells: bool = False) -> torch.Tensor:
    """One head, one image: ``raw (A*(5+K), H, W)`` -> ``(A, H, W, 4)`` cx, cy, w, h in pixels; the
    keyword arguments switch on the usual slips, for the hints."""
    a = anchors.shape[0]
    _, h, w = raw.shape
    p = raw.reshape(a, -1, h, w)
    gy, gx = torch.meshgrid(torch.arange(h, dtype=raw.dtype), torch.arange(w, dtype=raw.dtype), indexing="ij")
    off = torch.sigmoid(p[:, :2]) if sigmoid else p[:, :2]
    cx = (off[:, 0] + (gx if grid else 0)) * stride
    cy = (off[:, 1] + (gy if grid else 0)) * stride
    anc = anchors / stride if anchors_in_cells else anchors
    bw = (torch.exp(p[:, 2]) if exp else p[:, 2]) * anc[:, 0, None, None]
    bh = (torch.exp(p[:, 3]) if exp else p[:, 3]) * anc[:, 1, None, None]
    return torch.stack([cx, cy, bw, bh], -1)


def check_decode(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], num_classes: int = 3) -> CheckResult:
    """Chapter 6: ``fn(raw, anchors, stride)`` decodes one head of one image: ``raw`` is
    ``(A*(5+K), H, W)``, ``anchors`` ``(A, 2)`` in input pixels, ``stride`` the pixels per cell;
    it returns ``(A, H, W, 4)`` boxes ``cx, cy, w, h`` in input pixels,
    ``cx = (sigmoid(t_x) + column) * stride`` and ``w = anchor_w * exp(t_w)``."""
    name = "decode a head"
    g = torch.Generator().manual_seed(61)
    anchors = YOLO_ANCHORS[list(ANCHORS_MASK[1])].clone()
    stride = 16.0
    raw = torch.randn(3 * (5 + num_classes), 5, 7, generator=g)   # H != W: swapped axes show
    y, err = _call(name, fn, raw.clone(), anchors.clone(), stride)
    if err is not None:
        return err
    if hint := _shape_hint(y, (3, 5, 7, 4), "the boxes"):
        if isinstance(y, torch.Tensor) and tuple(y.shape) == (3, 7, 5, 4):
            hint += " Rows are the first grid axis (H = 5 here) and columns the second (W = 7)."
        return _fail(name, hint, "reshape raw to (A, 5 + K, H, W), then stack cx, cy, w, h in the last axis.")
    right = _decode(raw, anchors, stride)
    if torch.allclose(y, right, atol=1e-4, rtol=1e-5):
        return CheckResult(name, True)
    slips = [(dict(sigmoid=False), "the centre offsets t_x, t_y go through a sigmoid, so the centre stays inside its cell."),
             (dict(grid=False), "add the cell's column (for x) and row (for y) to the sigmoid before multiplying by the stride."),
             (dict(exp=False), "the sizes are anchor * exp(t_w) and anchor * exp(t_h): t_w and t_h are logarithms."),
             (dict(anchors_in_cells=True), "the anchors are already in input pixels: do not divide them by the stride.")]
    for kwargs, hint in slips:
        if torch.allclose(y, _decode(raw, anchors, stride, **kwargs), atol=1e-4, rtol=1e-5):
            return _fail(name, hint)
    if torch.allclose(y[..., 2:], right[..., 2:], atol=1e-4, rtol=1e-5):
        return _fail(name, "the sizes are right, the centres not: x pairs with the column index (the last grid "
                           "axis), y with the row index.")
    return _fail(name, "the boxes differ: cx = (sigmoid(t_x) + column) * stride, cy = (sigmoid(t_y) + row) * "
                       "stride, w = anchor_w * exp(t_w), h = anchor_h * exp(t_h); channels of one anchor are "
                       "consecutive (A, 5 + K).")


# --- target assignment -----------------------------------------------------------------------------
def _assign(box: torch.Tensor, anchors: torch.Tensor, mask, strides) -> list[tuple[int, int, int, int]]:
    best = int(shape_iou(box[None, 2:], anchors).argmax())
    out = []
    for level, (m, s) in enumerate(zip(mask, strides)):
        if best in m:
            out.append((level, list(m).index(best), int(box[1] // s), int(box[0] // s)))
    return out


def check_assignment(fn: Callable[[torch.Tensor, torch.Tensor, list, list], list]) -> CheckResult:
    """Chapter 6: ``fn(box, anchors, anchors_mask, strides)`` assigns one ground truth ``box``
    (``cx, cy, w, h`` in pixels) as the reference does: its best anchor by shape IoU (boxes on a
    common corner) among all ``anchors (6, 2)``; a positive on every output whose
    ``anchors_mask`` row holds that anchor, at cell ``(floor(cy / stride), floor(cx / stride))``.
    Returns a list of ``(level, anchor index within the level, row, column)``."""
    name = "assign a target"
    anchors = YOLO_ANCHORS.clone()
    mask = [list(m) for m in ANCHORS_MASK]
    strides = [32, 16]
    cases = [torch.tensor([100.0, 200.0, 30.0, 60.0]),    # a small box: best anchor on the fine head
             torch.tensor([250.0, 150.0, 300.0, 280.0]),  # a large one: the coarse head
             torch.tensor([47.9, 31.5, 25.0, 28.0]),       # just below a cell border: floor, not round
             torch.tensor([300.0, 50.0, 85.0, 80.0])]      # best anchor 3, in both masks: two positives
    for k, box in enumerate(cases, start=1):
        got, err = _call(name, fn, box.clone(), anchors.clone(), mask, strides)
        if err is not None:
            return err
        try:
            got = sorted(tuple(int(v) for v in row) for row in got)
        except (TypeError, ValueError):
            return _fail(name, "return a list of (level, anchor, row, column) tuples of ints.")
        expected = _assign(box, anchors, mask, strides)
        if got == expected:
            continue
        where = f"box {k} (cx, cy, w, h = {[round(v, 1) for v in box.tolist()]}):"
        if sorted((l, a, c, r) for l, a, r, c in got) == expected:
            return _fail(name, f"{where} row and column are swapped: the row comes from cy, the column from cx.")
        rounded = [(l, a, round(float(box[1]) / strides[l]), round(float(box[0]) / strides[l])) for l, a, _, _ in expected]
        if got == sorted(rounded):
            return _fail(name, f"{where} the cell is floor(c / stride) (the cell that contains the centre), not a rounding.")
        if len(got) == 1 and len(expected) == 2 and got[0] in expected:
            return _fail(name, f"{where} its best anchor is in both rows of anchors_mask, so it is a positive on "
                               "both outputs.")
        best = int(shape_iou(box[None, 2:], anchors).argmax())
        if any(a == best for _, a, _, _ in got):
            return _fail(name, f"{where} the anchor index is the position within the level's mask row "
                               f"({mask}), not the index into all anchors.")
        return _fail(name, f"{where} expected {expected}, got {got}; the best anchor is {best} "
                           "(largest IoU of the sizes, boxes aligned at a corner).")
    return CheckResult(name, True)


# --- non-maximum suppression ---------------------------------------------------------------------
def _not_greedy(boxes: torch.Tensor, scores: torch.Tensor, thr: float) -> torch.Tensor:
    """The slip: a box is dropped by *any* higher-scoring box, kept or not."""
    order = torch.argsort(scores, descending=True, stable=True)
    ious = box_iou(boxes[order], boxes[order])
    keep = [i for i in range(len(order)) if not (ious[:i, i] > thr).any()]
    return order[keep]


def check_nms(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Chapter 6: ``fn(boxes (N, 4) xyxy, scores (N,), iou_threshold)`` returns the indices of the
    kept boxes by decreasing score, greedy: walk the boxes from the best score down and drop each
    one whose IoU with an already *kept* box is greater than the threshold."""
    name = "non-maximum suppression"
    cases = [
        # a chain: 0 suppresses 1, 1 would suppress 2, but 1 is gone, so 2 stays
        (torch.tensor([[0.0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]]), torch.tensor([0.9, 0.8, 0.7]), 0.4),
        # IoU exactly 0.5 is not greater than 0.5: both stay; scores not in index order
        (torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [50, 50, 60, 60]]), torch.tensor([0.6, 0.9, 0.8]), 0.5),
    ]
    g = torch.Generator().manual_seed(63)
    xy = torch.rand(30, 2, generator=g) * 60
    cases.append((torch.cat([xy, xy + 10 + torch.rand(30, 2, generator=g) * 30], 1), torch.rand(30, generator=g), 0.45))
    for k, (boxes, scores, thr) in enumerate(cases, start=1):
        got, err = _call(name, fn, boxes.clone(), scores.clone(), thr)
        if err is not None:
            return err
        expected = nms(boxes, scores, thr)
        if not isinstance(got, torch.Tensor):
            got = torch.as_tensor(got)
        if got.dtype == torch.bool:
            return _fail(name, "return the indices of the kept boxes (e.g. torch.nonzero(keep).flatten(), ordered by "
                               "score), not a boolean mask.")
        got = got.flatten().long()
        if torch.equal(got, expected):
            continue
        where = f"case {k} ({len(boxes)} boxes, threshold {thr}):"
        if sorted(got.tolist()) == sorted(expected.tolist()):
            return _fail(name, f"{where} the right boxes, in the wrong order: return them by decreasing score.")
        if set(got.tolist()) == set(_not_greedy(boxes, scores, thr).tolist()):
            return _fail(name, f"{where} a box is dropped only by a box that was *kept*: a suppressed box "
                               "suppresses nothing (greedy NMS).")
        if k == 2 and len(got) < len(expected):
            return _fail(name, f"{where} boxes with IoU exactly at the threshold stay: drop only when IoU > threshold.")
        return _fail(name, f"{where} expected indices {expected.tolist()}, got {got.tolist()}.")
    return CheckResult(name, True)
