"""``python -m attnlab bench map``: our mAP against pycocotools on the same synthetic detections.

Generates ``--images`` images of random ground truth (all three COCO area ranges) and detections
(jittered copies of the ground truth, duplicates, wrong labels, random false positives), computes
mAP with :class:`attnlab.metrics.DetectionMetrics` and, when pycocotools is importable, with
COCOeval, timing both interleaved and recording the largest difference of the 12 COCO numbers.

    python -m attnlab bench map                 # 5,000 images, JSON to bench-results/map.json
    python -m attnlab bench map --quick         # 200 images, one repeat (tests)

pycocotools is a test dependency only: it is imported inside :func:`pycocotools_stats`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any

import numpy as np

from attnlab.bench import environment, format_table, summarize, time_interleaved, write_json
from attnlab.metrics.map import DetectionMetrics

Image = dict[str, np.ndarray]


def synthetic_detections(
    n_images: int, num_classes: int = 20, seed: int = 0, *, width: int = 640, height: int = 480
) -> tuple[list[Image], list[Image]]:
    """Random ground truth and plausible detections for ``n_images`` images.

    Returns ``(predictions, targets)``: lists of dicts with ``boxes`` (xyxy float64), ``scores``,
    ``labels`` / ``boxes``, ``labels``. Box sides run from 4 to 400 pixels, so small, medium and
    large objects all occur.
    """
    rng = np.random.default_rng(seed)

    def boxes(n: int) -> np.ndarray:
        side = np.exp(rng.uniform(np.log(4), np.log(400), size=(n, 2)))
        x1 = rng.uniform(0, width - side[:, 0])
        y1 = rng.uniform(0, height - side[:, 1])
        return np.stack([x1, y1, x1 + side[:, 0], y1 + side[:, 1]], axis=1)

    preds, targets = [], []
    for _ in range(n_images):
        n_gt = int(rng.integers(0, 9))
        gb, gl = boxes(n_gt), rng.integers(0, num_classes, n_gt)
        # detections: most gt boxes found (with jitter), some twice, some with a wrong label
        found = rng.random(n_gt) < 0.8
        twice = found & (rng.random(n_gt) < 0.2)
        src = np.concatenate([np.flatnonzero(found), np.flatnonzero(twice)])
        wh = np.tile(gb[src, 2:] - gb[src, :2], 2)  # (w, h, w, h) per box
        db = gb[src] + rng.normal(0, 0.12, size=(len(src), 4)) * wh
        db[:, 2:] = np.maximum(db[:, 2:], db[:, :2] + 1)
        dl = gl[src].copy()
        wrong = rng.random(len(src)) < 0.1
        dl[wrong] = rng.integers(0, num_classes, int(wrong.sum()))
        n_fp = int(rng.integers(0, 6))
        db = np.concatenate([db, boxes(n_fp)])
        dl = np.concatenate([dl, rng.integers(0, num_classes, n_fp)])
        ds = np.concatenate([rng.uniform(0.3, 1.0, len(src)), rng.uniform(0.0, 0.7, n_fp)])
        preds.append({"boxes": db, "scores": ds, "labels": dl})
        targets.append({"boxes": gb, "labels": gl})
    return preds, targets


def our_metrics(preds: list[Image], targets: list[Image], num_classes: int) -> dict[str, Any]:
    """mAP with attnlab.metrics."""
    m = DetectionMetrics(num_classes)
    for p, t in zip(preds, targets):
        m.update(p["boxes"], p["scores"], p["labels"], t["boxes"], t["labels"])
    return m.compute()


def coco_objects(preds: list[Image], targets: list[Image], num_classes: int) -> tuple[Any, Any]:
    """In-memory pycocotools ``COCO`` ground truth and results (image ids and category ids from 1,
    boxes as xywh, area = w * h, iscrowd = 0)."""
    from pycocotools.coco import COCO

    def xywh(b: np.ndarray) -> list[list[float]]:
        b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
        return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1).tolist()

    images, annotations, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i + 1, "width": 640, "height": 480})
        for box, label in zip(xywh(t["boxes"]), np.asarray(t["labels"]).tolist()):
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label) + 1,
                 "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
            )
        for box, score, label in zip(xywh(p["boxes"]), np.asarray(p["scores"]).tolist(), np.asarray(p["labels"]).tolist()):
            results.append({"image_id": i + 1, "category_id": int(label) + 1, "bbox": box, "score": float(score)})
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k + 1, "name": str(k)} for k in range(num_classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
    return gt, dt


def pycocotools_stats(preds: list[Image], targets: list[Image], num_classes: int) -> tuple[np.ndarray, Any]:
    """COCOeval's 12 summary numbers (the order of ``COCO_STATS``) and the COCOeval object."""
    from pycocotools.cocoeval import COCOeval

    gt, dt = coco_objects(preds, targets, num_classes)
    ev = COCOeval(gt, dt, "bbox")
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats), ev


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnlab bench map", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000, help="number of images (5000)")
    parser.add_argument("--classes", type=int, default=20, help="number of classes (20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="200 images, one repeat")
    parser.add_argument("--no-pycocotools", action="store_true", help="time only attnlab.metrics")
    parser.add_argument("--out", default="bench-results/map.json", help="JSON output path")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats = min(args.images, 200), 1

    preds, targets = synthetic_detections(args.images, args.classes, args.seed)
    candidates = {"attnlab": lambda: our_metrics(preds, targets, args.classes)}
    have_coco = False
    if not args.no_pycocotools:
        try:
            import pycocotools  # noqa: F401

            have_coco = True
            candidates["pycocotools"] = lambda: pycocotools_stats(preds, targets, args.classes)
        except ImportError:
            print("bench map: pycocotools is not installed; timing attnlab.metrics only")
    times = time_interleaved(candidates, repeats=args.repeats, warmup=0)
    ours = our_metrics(preds, targets, args.classes)
    payload: dict[str, Any] = {
        "benchmark": "map",
        "environment": environment("cpu"),
        "images": args.images,
        "classes": args.classes,
        "detections": ours["num_detections"],
        "ground_truth": ours["num_ground_truth"],
        "repeats": args.repeats,
        "metrics": {k: ours[k] for k in ("map50_voc11", "map50", "map", "map50_coco", "map75")},
        "timing": {name: summarize(t) for name, t in times.items()},
    }
    rows = [{"implementation": name, **summarize(t)} for name, t in times.items()]
    if have_coco:
        ref, _ = pycocotools_stats(preds, targets, args.classes)
        diff = float(np.max(np.abs(np.asarray(ours["coco_stats"]) - ref)))
        payload["pycocotools_stats"] = ref.tolist()
        payload["max_abs_diff_vs_pycocotools"] = diff
        payload["speedup_vs_pycocotools"] = float(np.median(times["pycocotools"]) / np.median(times["attnlab"]))
    out = write_json(args.out, payload)
    print(format_table(rows, ["implementation", "median_ms", "min_ms"]))
    for key in ("map50_voc11", "map50", "map"):
        print(f"{key:>12}: {ours[key]:.4f}")
    if have_coco:
        print(f"max |attnlab - pycocotools| over the 12 COCO numbers: {payload['max_abs_diff_vs_pycocotools']:.2e}")
        print(f"speed-up over pycocotools: {payload['speedup_vs_pycocotools']:.1f}x")
    print(f"wrote {out}")
    return 0

