"""Boxes: formats, the IoU family (pairwise and aligned), NMS against brute force, decoding."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from attnlab.detection.boxes import (
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    box_iou_aligned,
    clip_boxes,
    complete_box_iou,
    complete_box_iou_aligned,
    distance_box_iou,
    distance_box_iou_aligned,
    generalized_box_iou,
    generalized_box_iou_aligned,
    iou,
    nms,
)


def random_boxes(n: int, seed: int, size: float = 100.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 3 + 1
    return torch.cat([xy, xy + wh], 1)


# ----------------------------------------------------------------------------- brute force
def brute_metrics(a, b):
    """IoU, GIoU, DIoU, CIoU of two boxes from the textbook formulas, in plain Python floats."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    area_a, area_b = (ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1)
    union = area_a + area_b - inter
    iou_ = inter / union
    cw, ch = max(ax2, bx2) - min(ax1, bx1), max(ay2, by2) - min(ay1, by1)
    giou = iou_ - (cw * ch - union) / (cw * ch)
    rho2 = ((ax1 + ax2) / 2 - (bx1 + bx2) / 2) ** 2 + ((ay1 + ay2) / 2 - (by1 + by2) / 2) ** 2
    diou = iou_ - rho2 / (cw**2 + ch**2)
    v = 4 / math.pi**2 * (math.atan((bx2 - bx1) / (by2 - by1)) - math.atan((ax2 - ax1) / (ay2 - ay1))) ** 2
    alpha = v / (1 - iou_ + v) if v > 0 else 0.0
    ciou = diou - alpha * v
    return iou_, giou, diou, ciou


def brute_nms(boxes, scores, labels, thr):
    """Greedy NMS, one box at a time, per class; ties broken by index."""
    order = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            if int(labels[j]) != int(labels[i]):
                continue
            if brute_metrics(boxes[j].tolist(), boxes[i].tolist())[0] > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


# ----------------------------------------------------------------------------- formats
def test_format_round_trips_and_values():
    b = torch.tensor([[10.0, 20.0, 50.0, 80.0]])
    assert box_convert(b, "xyxy", "xywh").tolist() == [[10, 20, 40, 60]]
    assert box_convert(b, "xyxy", "cxcywh").tolist() == [[30, 50, 40, 60]]
    boxes = random_boxes(50, 0)
    for fmt in ("xywh", "cxcywh"):
        back = box_convert(box_convert(boxes, "xyxy", fmt), fmt, "xyxy")
        torch.testing.assert_close(back, boxes)
    torch.testing.assert_close(
        box_convert(box_convert(boxes, "xyxy", "xywh"), "xywh", "cxcywh"), box_convert(boxes, "xyxy", "cxcywh")
    )
    assert box_convert(boxes.reshape(5, 10, 4), "xyxy", "cxcywh").shape == (5, 10, 4)
    assert box_area(b).item() == 2400
    assert clip_boxes(torch.tensor([[-5.0, 3.0, 120.0, 90.0]]), (80, 100)).tolist() == [[0, 3, 100, 80]]
    with pytest.raises(ValueError, match="unknown format"):
        box_convert(b, "xyxy", "yxyx")
    with pytest.raises(ValueError, match="4 values"):
        box_area(torch.zeros(3, 5))


# ----------------------------------------------------------------------------- IoU family
def test_iou_family_equals_brute_force():
    a, b = random_boxes(12, 1), random_boxes(9, 2)
    mats = [box_iou(a, b), generalized_box_iou(a, b), distance_box_iou(a, b), complete_box_iou(a, b)]
    for i in range(len(a)):
        for j in range(len(b)):
            want = brute_metrics(a[i].tolist(), b[j].tolist())
            for m, w in zip(mats, want):
                assert m[i, j].item() == pytest.approx(w, abs=1e-5)


def test_aligned_is_the_diagonal_and_ranges():
    a, b = random_boxes(30, 3), random_boxes(30, 4)
    pairs = [
        (box_iou, box_iou_aligned),
        (generalized_box_iou, generalized_box_iou_aligned),
        (distance_box_iou, distance_box_iou_aligned),
        (complete_box_iou, complete_box_iou_aligned),
    ]
    for full, aligned in pairs:
        torch.testing.assert_close(aligned(a, b), full(a, b).diagonal())
    assert torch.all((box_iou(a, b) >= 0) & (box_iou(a, b) <= 1))
    assert torch.all(generalized_box_iou(a, b) >= -1) and torch.all(distance_box_iou(a, b) >= -1)
    # identical boxes: every variant is 1; disjoint boxes: IoU 0, GIoU negative
    torch.testing.assert_close(complete_box_iou_aligned(a, a), torch.ones(30), atol=1e-5, rtol=0)
    far = torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[2.0, 0, 3, 1]])
    assert box_iou(*far).item() == 0 and generalized_box_iou(*far).item() == pytest.approx(-1 / 3, abs=1e-6)
    # formats are honoured
    cx = box_convert(a, "xyxy", "cxcywh"), box_convert(b, "xyxy", "cxcywh")
    torch.testing.assert_close(iou(*cx, "diou", fmt="cxcywh"), distance_box_iou(a, b))
    with pytest.raises(ValueError, match="equal shape"):
        box_iou_aligned(a, b[:5])
    with pytest.raises(ValueError, match="kind"):
        iou(a, b, "xiou")


def test_ciou_gradient_is_finite():
    a = random_boxes(8, 5).requires_grad_(True)
    b = random_boxes(8, 6)
    (1 - complete_box_iou_aligned(a, b)).sum().backward()
    assert torch.isfinite(a.grad).all()


# ----------------------------------------------------------------------------- NMS
@pytest.mark.parametrize("seed", range(8))
def test_nms_equals_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 120, (1,), generator=g))
    boxes = random_boxes(n, 100 + seed, size=60.0)
    scores = torch.rand(n, generator=g)
    if seed % 2:  # ties in score
        scores = (scores * 5).round() / 5
    labels = torch.randint(0, 3, (n,), generator=g)
    for thr in (0.3, 0.5, 0.7):
        assert nms(boxes, scores, thr).tolist() == brute_nms(boxes, scores, torch.zeros(n), thr)
        assert batched_nms(boxes, scores, labels, thr).tolist() == brute_nms(boxes, scores, labels, thr)
        # the chunked path (groups processed separately) gives the same answer
        assert batched_nms(boxes, scores, labels, thr, chunk=8).tolist() == brute_nms(boxes, scores, labels, thr)


def test_nms_edge_cases():
    empty = torch.zeros(0, 4)
    assert nms(empty, torch.zeros(0), 0.5).tolist() == []
    one = torch.tensor([[0.0, 0, 10, 10]])
    assert nms(one, torch.tensor([0.3]), 0.5).tolist() == [0]
    dup = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10], [20.0, 20, 30, 30]])
    assert nms(dup, torch.tensor([0.5, 0.9, 0.1]), 0.5).tolist() == [1, 2]
    assert batched_nms(dup, torch.tensor([0.5, 0.9, 0.1]), torch.tensor([0, 1, 0]), 0.5).tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match="scores and idxs"):
        nms(dup, torch.zeros(2), 0.5)


def test_importing_boxes_does_not_import_the_model():
    code = (
        "import sys, attnlab.detection.boxes, attnlab.detection\n"
        "from attnlab.detection import nms\n"
        "assert 'attnlab.models.yolo' not in sys.modules, 'model imported'\n"
        "assert 'attnlab.detection.predictor' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- decoding
def reference_decode(outputs, anchors, mask, num_classes, input_size):
    """The reference's decode_box, written with explicit loops over cells and anchors."""
    rows = []
    for out, m in zip(outputs, mask):
        b, _, h, w = out.shape
        p = out.reshape(b, len(m), 5 + num_classes, h, w)
        for a_i, a in enumerate(m):
            for y in range(h):
                for x in range(w):
                    t = p[0, a_i, :, y, x]
                    cx = (torch.sigmoid(t[0]) + x) * input_size / w
                    cy = (torch.sigmoid(t[1]) + y) * input_size / h
                    bw = torch.exp(t[2]) * anchors[a][0]
                    bh = torch.exp(t[3]) * anchors[a][1]
                    rows.append(torch.cat([torch.stack([cx, cy, bw, bh]), torch.sigmoid(t[4:])]))
    return torch.stack(rows)[None]


def test_decode_outputs_matches_loops_and_postprocess():
    from attnlab.detection.anchors import ANCHORS_MASK, YOLO_ANCHORS
    from attnlab.detection.decode import decode, decode_outputs

    k = 2
    g = torch.Generator().manual_seed(0)
    outputs = [torch.randn(1, 3 * (5 + k), 2, 2, generator=g), torch.randn(1, 3 * (5 + k), 4, 4, generator=g)]
    got = decode_outputs(outputs, k, 64, YOLO_ANCHORS, ANCHORS_MASK)
    want = reference_decode(outputs, YOLO_ANCHORS.tolist(), ANCHORS_MASK, k, 64)
    assert got.shape == (1, 3 * 4 + 3 * 16, 5 + k)
    torch.testing.assert_close(got, want)

    dets = decode(outputs, k, 64, conf_threshold=0.2, nms_iou=0.4, clip=False)[0]
    conf = want[0, :, 4] * want[0, :, 5:].max(-1).values
    assert torch.all(dets.scores >= 0.2) and torch.all(dets.scores[:-1] >= dets.scores[1:])
    torch.testing.assert_close(dets.scores, conf[dets.candidates])
    cxcywh = want[0, dets.candidates, :4]
    torch.testing.assert_close(dets.boxes, box_convert(cxcywh, "cxcywh", "xyxy"))
    # NMS per class: brute force on the thresholded candidates
    cand = torch.nonzero(conf >= 0.2).flatten()
    labels = want[0, cand, 5:].argmax(-1)
    keep = brute_nms(box_convert(want[0, cand, :4], "cxcywh", "xyxy"), conf[cand], labels, 0.4)
    assert dets.candidates.tolist() == cand[keep].tolist()
    with pytest.raises(ValueError, match="num_classes"):
        decode_outputs(outputs, 3, 64)


def test_anchor_helpers():
    from attnlab.detection.anchors import ANCHORS_MASK, YOLO_ANCHORS, anchors_for_output, scale_anchors

    assert YOLO_ANCHORS.shape == (6, 2) and ANCHORS_MASK == ((3, 4, 5), (1, 2, 3))
    assert anchors_for_output(YOLO_ANCHORS, ANCHORS_MASK, 1).tolist() == [[23, 27], [37, 58], [81, 82]]
    torch.testing.assert_close(scale_anchors(YOLO_ANCHORS, 208), YOLO_ANCHORS / 2)
    assert scale_anchors(YOLO_ANCHORS, (416, 832))[0].tolist() == [20, 14]


def test_package_decode_is_the_function_even_after_the_submodule_is_imported():
    import attnlab.detection.predictor  # noqa: F401  (imports the decode submodule)
    from attnlab.detection import decode

    assert callable(decode) and decode.__name__ == "decode"
