"""YoloLoss against a slow loop-based reference, plus behaviour checks."""

from __future__ import annotations

import math

import pytest
import torch

from attnlab.detection.loss import YoloLoss, shape_iou

K = 4
SIZE = 64  # grids 2x2 (stride 32) and 4x4 (stride 16)
ANCHORS = torch.tensor([[6.0, 7.0], [10.0, 14.0], [18.0, 12.0], [22.0, 30.0], [40.0, 34.0], [60.0, 55.0]])


# ----------------------------------------------------------------------------- the reference
def _bce(x: float, y: float) -> float:
    return max(x, 0.0) - x * y + math.log1p(math.exp(-abs(x)))


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _iou_xyxy(a, b, eps=1e-7):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / (union + eps)


def _ciou_cxcywh(p, g, eps=1e-7):
    a = (p[0] - p[2] / 2, p[1] - p[3] / 2, p[0] + p[2] / 2, p[1] + p[3] / 2)
    b = (g[0] - g[2] / 2, g[1] - g[3] / 2, g[0] + g[2] / 2, g[1] + g[3] / 2)
    i = _iou_xyxy(a, b, eps)
    cw = max(a[2], b[2]) - min(a[0], b[0])
    ch = max(a[3], b[3]) - min(a[1], b[1])
    rho2 = (p[0] - g[0]) ** 2 + (p[1] - g[1]) ** 2
    v = 4 / math.pi**2 * (math.atan(g[2] / (g[3] + eps)) - math.atan(p[2] / (p[3] + eps))) ** 2
    alpha = v / (1 - i + v + eps)
    return i - rho2 / (cw**2 + ch**2 + eps) - alpha * v


def reference_loss(outputs, targets, anchors, mask, size, k, *, eps=0.0, ignore=0.5, balance=(0.4, 1.0),
                   anchor_threshold=None):
    """The loss written the slow way: Python loops over images, targets and cells."""
    box_ratio, obj_ratio, cls_ratio = 0.05, 5 * size * size / 416**2, k / 80
    used = sorted({i for m in mask for i in m})
    totals = {"box": 0.0, "obj": 0.0, "cls": 0.0}
    rows = [[float(v) for v in r] for r in targets.tolist() if r[4] > r[2] and r[5] > r[3]]
    for level, out in enumerate(outputs):
        bsz, _, h, w = out.shape
        na = len(mask[level])
        p = out.detach().double().reshape(bsz, na, 5 + k, h, w).permute(0, 1, 3, 4, 2).tolist()
        stride = size / w
        # assignment: best used anchor by shape IoU; later targets overwrite earlier ones
        positives = {}
        for t, (b, c, x1, y1, x2, y2) in enumerate(rows):
            bw, bh = x2 - x1, y2 - y1
            ious = []
            for ai in range(len(anchors)):
                aw, ah = float(anchors[ai][0]), float(anchors[ai][1])
                inter = min(bw, aw) * min(bh, ah)
                ious.append(inter / (bw * bh + aw * ah - inter))
            best = max(used, key=lambda ai: (ious[ai], -ai))
            for kk, ai in enumerate(mask[level]):
                if ai == best or (anchor_threshold is not None and ious[ai] > anchor_threshold):
                    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
                    gx, gy = min(int(cx // stride), w - 1), min(int(cy // stride), h - 1)
                    positives[(int(b), kk, gy, gx)] = (c, (cx, cy, bw, bh))
        box_sum = cls_sum = obj_sum = 0.0
        n_obj = 0
        for b in range(bsz):
            gts = [r[2:] for r in rows if int(r[0]) == b]
            for kk in range(na):
                aw, ah = float(anchors[mask[level][kk]][0]), float(anchors[mask[level][kk]][1])
                for j in range(h):
                    for i in range(w):
                        v = p[b][kk][j][i]
                        pb = ((_sig(v[0]) + i) * stride, (_sig(v[1]) + j) * stride,
                              math.exp(min(v[2], 10.0)) * aw, math.exp(min(v[3], 10.0)) * ah)
                        key = (b, kk, j, i)
                        if key in positives:
                            c, g = positives[key]
                            box_sum += 1 - _ciou_cxcywh(pb, g)
                            for q in range(k):
                                y = (1.0 if q == int(c) else 0.0) * (1 - eps) + eps / k
                                cls_sum += _bce(v[5 + q], y) / k
                            obj_sum += _bce(v[4], 1.0)
                            n_obj += 1
                            continue
                        pxyxy = (pb[0] - pb[2] / 2, pb[1] - pb[3] / 2, pb[0] + pb[2] / 2, pb[1] + pb[3] / 2)
                        best_iou = max([_iou_xyxy(pxyxy, g) for g in gts], default=0.0)
                        if best_iou > ignore:
                            continue
                        obj_sum += _bce(v[4], 0.0)
                        n_obj += 1
        npos = len(positives)
        if npos:
            totals["box"] += box_sum / npos * box_ratio
            totals["cls"] += cls_sum / npos * cls_ratio
        totals["obj"] += obj_sum / n_obj * balance[level] * obj_ratio
    return sum(totals.values()), totals


def random_batch(seed: int, bsz: int = 3, n_targets: int = 7, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    outputs = [torch.randn(bsz, 3 * (5 + K), s, s, generator=g) * scale for s in (SIZE // 32, SIZE // 16)]
    b = torch.randint(0, bsz, (n_targets,), generator=g).float()
    c = torch.randint(0, K, (n_targets,), generator=g).float()
    wh = torch.rand(n_targets, 2, generator=g) * 50 + 4
    xy = torch.rand(n_targets, 2, generator=g) * (SIZE - wh)
    targets = torch.cat([b[:, None], c[:, None], xy, xy + wh], 1)
    return outputs, targets


# ----------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mask", [((3, 4, 5), (1, 2, 3)), ((3, 4, 5), (0, 1, 2))])
def test_matches_loop_reference(seed, mask):
    outputs, targets = random_batch(seed, scale=1.0 + seed / 2)
    eps = 0.1 * (seed % 3)
    loss = YoloLoss(K, ANCHORS, mask, SIZE, label_smoothing=eps)
    total, parts = loss(outputs, targets)
    ref_total, ref_parts = reference_loss(outputs, targets, ANCHORS, mask, SIZE, K, eps=eps)
    assert total.item() == pytest.approx(ref_total, abs=1e-5, rel=1e-5)
    for name in ("box", "obj", "cls"):
        assert parts[name].item() == pytest.approx(ref_parts[name], abs=1e-5, rel=1e-5), name
    assert total.item() == pytest.approx(sum(p.item() for p in parts.values()), rel=1e-6)


def test_matches_reference_with_shared_cells_and_ignore():
    # two boxes in one cell with the same best anchor (the later wins), a box on the image edge,
    # a degenerate box (dropped) and outputs that make some predictions overlap ground truth
    outputs, _ = random_batch(11, bsz=2, scale=0.5)
    targets = torch.tensor([
        [0, 1, 4, 4, 20, 24], [0, 2, 6, 5, 22, 23], [1, 3, 40, 40, 64, 64],
        [1, 0, 10, 10, 10, 30], [1, 2, 0, 0, 63, 60],
    ], dtype=torch.float32)
    loss = YoloLoss(K, ANCHORS, ((3, 4, 5), (1, 2, 3)), SIZE, ignore_threshold=0.05)
    total, parts = loss(outputs, targets)
    ref_total, ref_parts = reference_loss(outputs, targets, ANCHORS, ((3, 4, 5), (1, 2, 3)), SIZE, K, ignore=0.05)
    assert total.item() == pytest.approx(ref_total, abs=1e-5, rel=1e-5)
    assert parts["cls"].item() == pytest.approx(ref_parts["cls"], abs=1e-5, rel=1e-5)


def test_matches_reference_with_anchor_threshold():
    outputs, targets = random_batch(5)
    loss = YoloLoss(K, ANCHORS, ((3, 4, 5), (0, 1, 2)), SIZE, anchor_threshold=0.2)
    ref_total, _ = reference_loss(outputs, targets, ANCHORS, ((3, 4, 5), (0, 1, 2)), SIZE, K, anchor_threshold=0.2)
    assert loss(outputs, targets)[0].item() == pytest.approx(ref_total, abs=1e-5, rel=1e-5)


def test_label_smoothing_changes_the_class_loss():
    outputs, targets = random_batch(1)
    values = [YoloLoss(K, ANCHORS, None, SIZE, label_smoothing=e)(outputs, targets)[1]["cls"].item() for e in (0.0, 0.1, 0.3)]
    assert len(set(values)) == 3
    # with confident correct predictions, smoothing must raise the class loss
    loss = YoloLoss(K, ANCHORS, None, SIZE)
    perfect = perfect_outputs(loss, targets, 3)
    a = YoloLoss(K, ANCHORS, None, SIZE, label_smoothing=0.0)(perfect, targets)[1]["cls"].item()
    b = YoloLoss(K, ANCHORS, None, SIZE, label_smoothing=0.2)(perfect, targets)[1]["cls"].item()
    assert b > a


def perfect_outputs(loss: YoloLoss, targets: torch.Tensor, bsz: int) -> list[torch.Tensor]:
    """Logits that predict every assigned box exactly, with confident objectness and class."""
    outs = []
    t = loss._valid(targets)
    for level, s in enumerate((SIZE // 32, SIZE // 16)):
        p = torch.full((bsz, 3, s, s, 5 + K), -12.0)
        p[..., 0:4] = 0.0
        pos = loss.assign(level, t, (s, s))
        stride = SIZE / s
        anc = ANCHORS[list(loss.anchors_mask[level])][pos.anchor]
        frac_x = (pos.boxes[:, 0] / stride - pos.gx).clamp(1e-4, 1 - 1e-4)
        frac_y = (pos.boxes[:, 1] / stride - pos.gy).clamp(1e-4, 1 - 1e-4)
        p[pos.batch, pos.anchor, pos.gy, pos.gx, 0] = torch.logit(frac_x)
        p[pos.batch, pos.anchor, pos.gy, pos.gx, 1] = torch.logit(frac_y)
        p[pos.batch, pos.anchor, pos.gy, pos.gx, 2] = torch.log(pos.boxes[:, 2] / anc[:, 0])
        p[pos.batch, pos.anchor, pos.gy, pos.gx, 3] = torch.log(pos.boxes[:, 3] / anc[:, 1])
        p[pos.batch, pos.anchor, pos.gy, pos.gx, 4] = 12.0
        p[pos.batch, pos.anchor, pos.gy, pos.gx, 5 + pos.classes] = 12.0
        outs.append(p.permute(0, 1, 4, 2, 3).reshape(bsz, 3 * (5 + K), s, s))
    return outs


def test_perfect_predictions_beat_random_ones():
    outputs, targets = random_batch(2)
    loss = YoloLoss(K, ANCHORS, None, SIZE)
    perfect = perfect_outputs(loss, targets, 3)
    lp, parts = loss(perfect, targets)
    lr, _ = loss(outputs, targets)
    assert lp.item() < 0.05 * lr.item()
    assert parts["box"].item() < 1e-4


def test_gradient_flows_to_every_output():
    outputs, targets = random_batch(3)
    outputs = [o.requires_grad_() for o in outputs]
    total, _ = YoloLoss(K, ANCHORS, None, SIZE)(outputs, targets)
    total.backward()
    for o in outputs:
        assert torch.isfinite(o.grad).all()
        g = o.grad.reshape(o.shape[0], 3, 5 + K, *o.shape[-2:])
        assert g[:, :, 4].abs().sum() > 0  # objectness everywhere
    g = torch.cat([o.grad.reshape(o.shape[0], 3, 5 + K, -1) for o in outputs], -1)
    assert g[:, :, :4].abs().sum() > 0 and g[:, :, 5:].abs().sum() > 0  # boxes and classes at positives


def test_gradient_through_a_model():
    from attnlab.models import YoloV4Tiny

    torch.manual_seed(0)
    model = YoloV4Tiny(K, anchors=ANCHORS, input_size=SIZE)
    _, targets = random_batch(4, bsz=2)
    total, _ = YoloLoss(K, model.anchors, model.anchors_mask, SIZE)(model(torch.rand(2, 3, SIZE, SIZE)), targets)
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_empty_targets():
    outputs, _ = random_batch(4)
    outputs = [o.requires_grad_() for o in outputs]
    loss = YoloLoss(K, ANCHORS, None, SIZE)
    total, parts = loss(outputs, torch.zeros(0, 6))
    assert torch.isfinite(total) and parts["box"].item() == 0 and parts["cls"].item() == 0 and parts["obj"].item() > 0
    total.backward()
    assert all(torch.isfinite(o.grad).all() for o in outputs)
    ref_total, _ = reference_loss(outputs, torch.zeros(0, 6), ANCHORS, ((3, 4, 5), (1, 2, 3)), SIZE, K)
    assert total.item() == pytest.approx(ref_total, rel=1e-5)


def test_assignment_is_vectorised_per_level():
    loss = YoloLoss(K, ANCHORS, ((3, 4, 5), (1, 2, 3)), SIZE)
    # a box whose best anchor is the shared anchor 3 is a positive on both levels
    t = torch.tensor([[0, 1, 10, 10, 32, 40]], dtype=torch.float32)
    assert shape_iou(t[:, 4:6] - t[:, 2:4], ANCHORS).argmax().item() == 3
    assert len(loss.assign(0, t, (2, 2))) == 1 and len(loss.assign(1, t, (4, 4))) == 1
    # the smallest box prefers the unused anchor 0: it falls back to anchor 1 on level 1
    t = torch.tensor([[0, 1, 0, 0, 6, 7]], dtype=torch.float32)
    pos = loss.assign(1, t, (4, 4))
    assert len(loss.assign(0, t, (2, 2))) == 0 and pos.anchor.tolist() == [0]


def test_wrong_channel_count_is_explained():
    with pytest.raises(ValueError, match="num_classes"):
        YoloLoss(K + 1, ANCHORS, None, SIZE)(random_batch(0)[0], torch.zeros(0, 6))
