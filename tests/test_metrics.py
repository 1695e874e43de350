"""attnlab.metrics: VOC and COCO mAP, checked against pycocotools and against hand-derived values."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from attnlab.metrics import DetectionMetrics, box_iou, evaluate_detections, voc_ap
from attnlab.metrics.bench import main as bench_main
from attnlab.metrics.bench import pycocotools_stats, synthetic_detections

KEYS = ["map", "map50_coco", "map75", "map_small", "map_medium", "map_large",
        "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"]


def _crowded_image(rng: np.random.Generator, n: int, label: int) -> tuple[dict, dict]:
    """One image with ``n`` detections of one class (more than COCO's 100) around 5 boxes."""
    gt = np.array([[10, 10, 60, 50], [100, 100, 300, 260], [5, 200, 30, 230], [400, 50, 520, 300], [200, 300, 260, 330]], float)
    src = rng.integers(0, len(gt), n)
    boxes = gt[src] + rng.normal(0, 6, (n, 4))
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    pred = {"boxes": boxes, "scores": rng.random(n), "labels": np.full(n, label)}
    return pred, {"boxes": gt, "labels": np.full(len(gt), label)}


@pytest.mark.parametrize("seed", range(20))
def test_equals_pycocotools(seed: int) -> None:
    pytest.importorskip("pycocotools")
    num_classes = 3 + seed % 4
    preds, targets = synthetic_detections(12 + 2 * seed, num_classes, seed)
    if seed % 3 == 0:  # exercise maxDets=100 per image and class
        p, t = _crowded_image(np.random.default_rng(seed), 130, label=seed % num_classes)
        preds.insert(seed % 5, p)
        targets.insert(seed % 5, t)
    ours = evaluate_detections(preds, targets, num_classes)
    ref, ev = pycocotools_stats(preds, targets, num_classes)
    ref_stats = dict(zip(KEYS, ref))
    for key in KEYS:
        expected = ref_stats[key]
        if expected == -1:
            assert math.isnan(ours[key]), key
        else:
            assert ours[key] == pytest.approx(expected, abs=1e-4), key
    np.testing.assert_allclose(ours["coco_stats"], ref, atol=1e-4)
    # per-class AP@[.5:.95], area all, maxDets 100
    precision = ev.eval["precision"][:, :, :, 0, -1]
    for k, row in enumerate(ours["per_class"]):
        p = precision[:, :, k]
        if (p > -1).any():
            assert row["ap"] == pytest.approx(p.mean(), abs=1e-4)
            assert row["ap50_coco"] == pytest.approx(p[0].mean(), abs=1e-4)
        else:
            assert math.isnan(row["ap"])


def test_hand_derived_voc_example() -> None:
    """One class, two images, three boxes. Detections by score: hit g0, miss, hit g2, duplicate
    of g0. Cumulative TP 1,1,2,2 and FP 0,1,1,2: recall 1/3,1/3,2/3,2/3, precision 1,1/2,2/3,1/2.
    All-point: 1/3 * 1 + 1/3 * 2/3 = 5/9. 11-point: recall >= 0..0.3 gives 1 (4 points),
    >= 0.4..0.6 gives 2/3 (3 points), the rest 0: (4 + 2) / 11 = 6/11."""
    m = DetectionMetrics(1)
    g0, g1, g2 = [0, 0, 10, 10], [50, 50, 70, 80], [20, 20, 40, 40]
    m.update([[0, 0, 10, 10], [100, 100, 120, 120], [0, 1, 10, 10]], [0.9, 0.8, 0.6], [0, 0, 0], [g0, g1], [0, 0])
    m.update([[21, 20, 40, 40]], [0.7], [0], [g2], [0])
    r = m.compute()
    assert r["map50"] == pytest.approx(5 / 9, abs=1e-12)
    assert r["map50_voc11"] == pytest.approx(6 / 11, abs=1e-12)
    assert r["per_class"][0]["n_gt"] == 3 and r["per_class"][0]["n_det"] == 4
    # the same numbers from the curve itself
    rec, prec = np.array([1, 1, 2, 2]) / 3, np.array([1, 1 / 2, 2 / 3, 1 / 2])
    assert voc_ap(rec, prec) == pytest.approx(5 / 9)
    assert voc_ap(rec, prec, eleven_point=True) == pytest.approx(6 / 11)


def test_difficult_boxes_are_ignored() -> None:
    """A difficult box and a detection on it change nothing; missing it costs nothing."""
    preds, targets = synthetic_detections(15, 3, seed=5)
    base = evaluate_detections(preds, targets, 3)
    p, t = dict(preds[0]), dict(targets[0])
    box = np.array([[300.0, 300.0, 400.0, 380.0]])
    t["boxes"] = np.concatenate([t["boxes"], box, box + 5])
    t["labels"] = np.concatenate([t["labels"], [1, 2]])
    t["difficult"] = np.r_[np.zeros(len(targets[0]["labels"]), bool), True, True]
    p["boxes"] = np.concatenate([p["boxes"], box + 1])  # found one of the two difficult boxes
    p["scores"] = np.concatenate([p["scores"], [0.99]])
    p["labels"] = np.concatenate([p["labels"], [1]])
    with_difficult = evaluate_detections([p, *preds[1:]], [t, *targets[1:]], 3)
    for key in ("map50_voc11", "map50", "map", "map75"):
        assert with_difficult[key] == pytest.approx(base[key], abs=1e-12), key


def test_no_detections_and_missing_classes() -> None:
    m = DetectionMetrics(3, class_names=["a", "b", "c"])
    m.update(np.zeros((0, 4)), [], [], [[0, 0, 10, 10], [5, 5, 50, 50]], [0, 1])
    m.update([], [], [], [], [])  # an image with nothing at all
    r = m.compute()
    for key in ("map50_voc11", "map50", "map", "map50_coco", "map75", "mar_100"):
        assert r[key] == 0.0, key
    c = r["per_class"][2]
    assert c["name"] == "c" and c["n_gt"] == 0 and math.isnan(c["ap50"]) and math.isnan(c["ap"])
    # detections of a class without ground truth do not enter the mean
    m.update([[0, 0, 10, 10]], [0.5], [2], [], [])
    assert m.compute()["map50"] == 0.0
    empty = DetectionMetrics(2).compute()
    assert math.isnan(empty["map50"]) and math.isnan(empty["map"])


def test_all_correct_is_one() -> None:
    preds, targets = synthetic_detections(10, 4, seed=1)
    perfect = [{"boxes": t["boxes"], "scores": np.linspace(1, 0.5, len(t["labels"])), "labels": t["labels"]} for t in targets]
    r = evaluate_detections(perfect, targets, 4)
    for key in ("map50_voc11", "map50", "map", "map50_coco", "map75", "map_small", "map_medium", "map_large", "mar_100"):
        assert r[key] == pytest.approx(1.0), key


def test_inputs_torch_and_validation() -> None:
    torch = pytest.importorskip("torch")
    m = DetectionMetrics(2)
    m.update(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0.9]), torch.tensor([1]), torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([1]))
    assert m.compute()["map50"] == 1.0
    with pytest.raises(ValueError, match="pred_labels"):
        m.update([[0, 0, 1, 1]], [0.5], [2], [], [])
    with pytest.raises(ValueError, match="shape"):
        m.update([[0, 0, 1]], [0.5], [0], [], [])
    with pytest.raises(ValueError, match="pred_scores"):
        m.update([[0, 0, 1, 1]], [0.5, 0.2], [0], [], [])


def test_box_iou_conventions() -> None:
    a = np.array([[0.0, 0, 10, 10]])
    b = np.array([[5.0, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0]])
    np.testing.assert_allclose(box_iou(a, b, offset=1), [[66 / 176, 0]])  # VOC devkit pixels


def test_bench_quick(tmp_path) -> None:
    pytest.importorskip("pycocotools")
    out = tmp_path / "map.json"
    assert bench_main(["--quick", "--images", "60", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["images"] == 60
    assert payload["max_abs_diff_vs_pycocotools"] < 1e-4
    assert set(payload["timing"]) == {"attnlab", "pycocotools"}


def test_package_does_not_import_pycocotools() -> None:
    code = "import sys, attnlab.metrics, attnlab.metrics.bench; assert 'pycocotools' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _devkit_voc_ap(preds, targets, k, use_07, ovthresh=0.5):
    """A direct port of the PASCAL VOC devkit's voc_eval loop (continuous coordinates, no +1)."""
    recs = {i: {"bbox": t["boxes"][t["labels"] == k], "difficult": t["difficult"][t["labels"] == k],
                "det": [False] * int((t["labels"] == k).sum())} for i, t in enumerate(targets)}
    npos = sum(int((~r["difficult"]).sum()) for r in recs.values())
    image_ids, confidence, BB = [], [], []
    for i, p in enumerate(preds):
        for b, s, lab in zip(p["boxes"], p["scores"], p["labels"]):
            if lab == k:
                image_ids.append(i), confidence.append(s), BB.append(b)
    order = np.argsort(-np.array(confidence), kind="stable")
    tp, fp = np.zeros(len(order)), np.zeros(len(order))
    for d, j in enumerate(order):
        R, bb, ovmax = recs[image_ids[j]], BB[j], -np.inf
        BBGT = R["bbox"]
        if BBGT.size > 0:
            ixmin, iymin = np.maximum(BBGT[:, 0], bb[0]), np.maximum(BBGT[:, 1], bb[1])
            ixmax, iymax = np.minimum(BBGT[:, 2], bb[2]), np.minimum(BBGT[:, 3], bb[3])
            inters = np.maximum(ixmax - ixmin, 0.0) * np.maximum(iymax - iymin, 0.0)
            uni = (bb[2] - bb[0]) * (bb[3] - bb[1]) + (BBGT[:, 2] - BBGT[:, 0]) * (BBGT[:, 3] - BBGT[:, 1]) - inters
            overlaps = inters / uni
            ovmax, jmax = np.max(overlaps), np.argmax(overlaps)
        if ovmax > ovthresh:
            if not R["difficult"][jmax]:
                if not R["det"][jmax]:
                    tp[d], R["det"][jmax] = 1.0, True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if use_07:
        return sum((np.max(prec[rec >= t]) if np.sum(rec >= t) else 0) / 11.0 for t in np.arange(0.0, 1.1, 0.1))
    mrec, mpre = np.concatenate(([0.0], rec, [1.0])), np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


@pytest.mark.parametrize("seed", range(5))
def test_voc_equals_devkit_loop(seed: int) -> None:
    preds, targets = synthetic_detections(30, 4, seed + 100)
    rng = np.random.default_rng(seed)
    for t in targets:
        t["difficult"] = rng.random(len(t["labels"])) < 0.2
    ours = evaluate_detections(preds, targets, 4)
    for k, row in enumerate(ours["per_class"]):
        if row["n_gt"] == 0:
            assert math.isnan(row["ap50"])
            continue
        assert row["ap50"] == pytest.approx(_devkit_voc_ap(preds, targets, k, use_07=False), abs=1e-12)
        assert row["ap50_voc11"] == pytest.approx(_devkit_voc_ap(preds, targets, k, use_07=True), abs=1e-12)
