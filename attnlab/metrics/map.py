"""Detection mean average precision (mAP), in the PASCAL VOC and the COCO conventions.

Three numbers are in common use and they differ, so this module computes all of them from the
same detections:

``map50_voc11``
    PASCAL VOC 2007: IoU > 0.5, precision read at 11 recall points (0, 0.1, ..., 1).
``map50``
    PASCAL VOC 2010+: IoU > 0.5, area under the whole interpolated precision-recall curve.
``map`` (and ``map50_coco``, ``map75``, ``map_small`` ...)
    COCO: mean over IoU thresholds 0.50:0.05:0.95 of a 101-point interpolated AP, at most 100
    detections per image and class, with area ranges small < 32**2 <= medium < 96**2 <= large.
    On the same detections these equal ``pycocotools`` (iscrowd=0) to floating-point rounding.

Boxes are ``(x1, y1, x2, y2)`` in pixels, continuous coordinates: a box's area is
``(x2 - x1) * (y2 - y1)``, as pycocotools computes it from ``(x, y, w, h)``. The original VOC
devkit counted integer pixels (``x2 - x1 + 1``); pass ``voc_pixel_offset=1`` to get its numbers.

How the two conventions match detections to ground truth (per image and class):

- VOC: all detections of a class, highest score first; each takes the ground-truth box it overlaps
  most. IoU > 0.5 and that box not yet taken: true positive. Taken already: false positive (a
  duplicate). IoU <= 0.5: false positive. A box marked *difficult* neither helps nor hurts.
- COCO: per IoU threshold, each detection takes the best-overlapping box *not yet taken* with
  IoU >= threshold, preferring boxes that count over ignored ones (difficult, or outside the area
  range). Unmatched detections outside the area range are ignored too.

Usage::

    >>> m = DetectionMetrics(num_classes=2, class_names=["cat", "dog"])
    >>> m.update(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels)   # doctest: +SKIP
    >>> m.compute()["map50"]                                                  # doctest: +SKIP

The work is vectorised with numpy: VOC matching needs no loop at all (a detection's box does not
depend on earlier ones), COCO matching loops over the detection *rank* (at most 100 steps) with all
images, classes, area ranges and IoU thresholds processed together.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

# The exact expressions pycocotools uses, so that thresholds are bitwise the same.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
COCO_AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0**2, 1e5**2),
    "small": (0.0**2, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
COCO_MAX_DETS = (1, 10, 100)
# The 12 numbers COCOeval.summarize() prints, in its order: (key, area, maxDets, IoU index or None)
COCO_STATS = (
    ("map", "all", 100, None),
    ("map50_coco", "all", 100, 0),
    ("map75", "all", 100, 5),
    ("map_small", "small", 100, None),
    ("map_medium", "medium", 100, None),
    ("map_large", "large", 100, None),
    ("mar_1", "all", 1, None),
    ("mar_10", "all", 10, None),
    ("mar_100", "all", 100, None),
    ("mar_small", "small", 100, None),
    ("mar_medium", "medium", 100, None),
    ("mar_large", "large", 100, None),
)

__all__ = [
    "DetectionMetrics",
    "evaluate_detections",
    "box_iou",
    "voc_ap",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "COCO_AREA_RANGES",
    "COCO_MAX_DETS",
    "COCO_STATS",
]


# --------------------------------------------------------------------------------------------
# plain functions
# --------------------------------------------------------------------------------------------


def _to_numpy(x: Any, dtype: Any, ndim: int, name: str) -> np.ndarray:
    """Tensor, array or nested list -> numpy array of ``dtype``; an empty input becomes shape 0.

    Refuses what a cast would change silently: boxes and scores must be finite numbers, labels
    whole numbers (``0.7`` is not class 0), flags booleans or 0/1.
    """
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        raw = np.asarray(x if x is not None else [])
        if raw.dtype == object or raw.dtype.kind in "USc":
            raise TypeError
        values = raw.astype(np.float64) if raw.size else raw
    except (TypeError, ValueError):
        raise ValueError(f"update: {name} must be numbers (a tensor, an array or a list), got {type(x).__name__}") from None
    if raw.size == 0:
        return np.zeros((0, 4) if ndim == 2 else (0,), dtype=dtype)
    if ndim == 2 and (raw.ndim != 2 or raw.shape[1] != 4):
        raise ValueError(f"update: {name} must be (N, 4) xyxy boxes, got shape {raw.shape}")
    if ndim == 1 and raw.ndim != 1:
        raise ValueError(f"update: {name} must be a 1-D array, got shape {raw.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        rows = int(bad.any(1).sum()) if ndim == 2 else int(bad.sum())
        raise ValueError(f"update: {name} must be finite, got {rows} entr{'y' if rows == 1 else 'ies'} with NaN or inf")
    if np.dtype(dtype) == np.int64 and np.any(values != np.round(values)):
        odd = values[values != np.round(values)][0]
        raise ValueError(f"update: {name} must be whole numbers (class indices), got {odd:g}")
    if np.dtype(dtype) == np.bool_ and not np.isin(values, (0.0, 1.0)).all():
        odd = values[~np.isin(values, (0.0, 1.0))][0]
        raise ValueError(f"update: {name} must be booleans or 0/1, got {odd:g}")
    if ndim == 2:
        inverted = (values[:, 2] < values[:, 0]) | (values[:, 3] < values[:, 1])
        if inverted.any():
            i = int(np.flatnonzero(inverted)[0])
            raise ValueError(
                f"update: {name} must be xyxy with x1 <= x2 and y1 <= y2, got {int(inverted.sum())} inverted "
                f"box(es), e.g. row {i}: {values[i].tolist()}"
            )
    return values.astype(dtype)


def box_iou(a: np.ndarray, b: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xyxy -> (N, M) float64.

    ``offset=1`` counts integer pixels as the VOC devkit does (a box from 0 to 9 is 10 wide).
    Broadcasts over leading dimensions: ``a`` (..., N, 4) and ``b`` (..., M, 4) -> (..., N, M).
    """
    a = np.asarray(a, dtype=np.float64)[..., :, None, :]
    b = np.asarray(b, dtype=np.float64)[..., None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + offset, 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + offset, 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + offset) * (a[..., 3] - a[..., 1] + offset)
    area_b = (b[..., 2] - b[..., 0] + offset) * (b[..., 3] - b[..., 1] + offset)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def voc_ap(recall: np.ndarray, precision: np.ndarray, eleven_point: bool = False) -> float:
    """Average precision from a precision-recall curve, as the PASCAL VOC devkit computes it.

    Args:
        recall: cumulative recall after each detection (highest score first), non-decreasing.
        precision: cumulative precision after each detection.
        eleven_point: VOC2007's rule, the mean of the best precision at recall >= 0, 0.1, ..., 1;
            otherwise (VOC2010+) the exact area under the curve whose precision at each recall is
            the best precision at that recall or higher.
    """
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.asarray(precision, dtype=np.float64)
    if eleven_point:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):  # the devkit's own thresholds (0.30000000000000004 ...)
            above = rec >= t
            ap += (prec[above].max() if above.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # the precision envelope
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values in a sorted 1-D array."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return starts, np.diff(np.append(starts, len(keys)))


def _padded_index(start: np.ndarray, count: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start[i] + 0..width-1`` and a mask of the first ``count[i]`` entries of each row."""
    offsets = np.arange(width)
    valid = offsets[None, :] < count[:, None]
    return np.where(valid, start[:, None] + offsets[None, :], 0), valid


# --------------------------------------------------------------------------------------------
# COCO matching and accumulation
# --------------------------------------------------------------------------------------------


def _coco_match(
    det_boxes: np.ndarray,
    gt_boxes: np.ndarray,
    gt_ignore: np.ndarray,
    d_start: np.ndarray,
    d_count: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    thresholds: np.ndarray,
    budget: int = 1 << 21,
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.evaluateImg's greedy matching for many (image, class) groups at once.

    Detections of group ``i`` are ``det_boxes[d_start[i] : d_start[i] + d_count[i]]``, highest
    score first; its ground truth likewise with ``g_*``, and ``gt_ignore`` (A, n_gt) says which
    boxes are ignored under each of A area ranges. Returns ``matched`` and ``matched_ignored``,
    both (A, T, n_det) bool: the detection took a box at that area range and IoU threshold, and
    the box it took is an ignored one.
    """
    n_area, n_thr, n_det = gt_ignore.shape[0], len(thresholds), len(det_boxes)
    matched = np.zeros((n_area, n_thr, n_det), dtype=bool)
    matched_ig = np.zeros((n_area, n_thr, n_det), dtype=bool)
    thr = np.minimum(thresholds, 1 - 1e-10)[None, None, :, None]  # as pycocotools: min(t, 1-1e-10)
    # groups with ground truth, by number of boxes; within that, most detections first so that the
    # groups still active at detection rank d are a prefix
    todo = np.flatnonzero((g_count > 0) & (d_count > 0))
    todo = todo[np.lexsort((-d_count[todo], g_count[todo]))]
    i = 0
    while i < len(todo):
        # grow the chunk while its padded work stays within the budget
        j, dmax = i + 1, d_count[todo[i]]
        while j < len(todo):
            dmax_next = max(dmax, d_count[todo[j]])
            if (j + 1 - i) * g_count[todo[j]] * dmax_next * n_area * n_thr > budget:
                break
            j, dmax = j + 1, dmax_next
        chunk = todo[i:j]
        i = j
        n, gm, dm = len(chunk), int(g_count[chunk].max()), int(d_count[chunk].max())
        chunk = chunk[np.argsort(-d_count[chunk], kind="stable")]
        dcount = d_count[chunk]
        di, dvalid = _padded_index(d_start[chunk], dcount, dm)
        gi, gvalid = _padded_index(g_start[chunk], g_count[chunk], gm)
        ious = box_iou(det_boxes[di], gt_boxes[gi])  # (n, dm, gm)
        ious = np.where(gvalid[:, None, :], ious, -1.0)  # padding never matches
        ign = np.moveaxis(gt_ignore[:, gi], 0, 1)[:, :, None, :]  # (n, A, 1, gm)
        taken = np.zeros((n, n_area, n_thr, gm), dtype=bool)
        out_m = np.zeros((n, n_area, n_thr, dm), dtype=bool)
        out_ig = np.zeros((n, n_area, n_thr, dm), dtype=bool)
        rev = np.arange(gm - 1, -1, -1)
        for d in range(dm):
            k = int(np.count_nonzero(dcount > d))  # groups that still have a detection of rank d
            cur = ious[:k, d, None, None, :]  # (k, 1, 1, gm)
            ok = (cur >= thr) & ~taken[:k]
            ok_real, ok_ign = ok & ~ign[:k], ok & ign[:k]
            # the best IoU among candidates; ties go to the last box, as in the reference loop
            best_real = gm - 1 - np.argmax(np.where(ok_real, cur, -1.0)[..., rev], axis=-1)
            best_ign = gm - 1 - np.argmax(np.where(ok_ign, cur, -1.0)[..., rev], axis=-1)
            has_real, has_ign = ok_real.any(-1), ok_ign.any(-1)
            hit = has_real | has_ign
            box = np.where(has_real, best_real, best_ign)
            out_m[:k, :, :, d] = hit
            out_ig[:k, :, :, d] = ~has_real & has_ign
            g_idx, a_idx, t_idx = np.nonzero(hit)
            taken[g_idx, a_idx, t_idx, box[g_idx, a_idx, t_idx]] = True
        flat = di[dvalid]
        matched[:, :, flat] = np.moveaxis(out_m, 0, 2)[..., dvalid]
        matched_ig[:, :, flat] = np.moveaxis(out_ig, 0, 2)[..., dvalid]
    return matched, matched_ig


def _coco_curve(tp: np.ndarray, fp: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate for one class: (T, R) interpolated precision and (T,) recall."""
    n_thr, nd = tp.shape
    tp_sum = np.cumsum(tp, axis=1).astype(float)
    fp_sum = np.cumsum(fp, axis=1).astype(float)
    rc = tp_sum / n_pos
    pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    recall = rc[:, -1] if nd else np.zeros(n_thr)
    q = np.zeros((n_thr, len(COCO_RECALL_THRESHOLDS)))
    if nd:
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        for t in range(n_thr):
            inds = np.searchsorted(rc[t], COCO_RECALL_THRESHOLDS, side="left")
            inside = inds < nd
            q[t, inside] = pr[t, inds[inside]]
    return q, recall


# --------------------------------------------------------------------------------------------
# the accumulator
# --------------------------------------------------------------------------------------------


class DetectionMetrics:
    """Collects detections and ground truth image by image, then computes VOC and COCO mAP.

    Args:
        num_classes: labels are ``0 .. num_classes - 1``.
        class_names: names for the per-class table (default ``"0"``, ``"1"``, ...).
        voc_iou: IoU a VOC match must exceed (0.5), in [0, 1).
        voc_pixel_offset: 0 for continuous coordinates (default, as COCO); 1 to count integer
            pixels as the original VOC devkit does.

    :meth:`update` refuses NaN or infinite boxes and scores, inverted boxes (``x2 < x1``),
    labels that are not whole numbers in ``[0, num_classes)`` and flags other than 0/1: a NaN
    score has no rank, and a cast would silently turn ``0.7`` into class 0.

    ``compute()`` returns a dict with ``map50_voc11``, ``map50``, ``map``, ``map50_coco``,
    ``map75``, ``map_small``, ``map_medium``, ``map_large``, ``mar_1``, ``mar_10``, ``mar_100``,
    ``mar_small``, ``mar_medium``, ``mar_large`` (floats in [0, 1], NaN when no class has ground
    truth), ``coco_stats`` (the 12 numbers in pycocotools' order, -1 where undefined),
    ``per_class`` (a list of dicts: ``class_id``, ``name``, ``n_gt``, ``n_det``, ``ap50_voc11``,
    ``ap50``, ``ap``, ``ap50_coco``, ``ap75``; NaN for a class without ground truth) and counts.
    Means are taken over classes that have ground truth; a class with ground truth and no
    detections has AP 0.

    Ground truth marked *difficult* is ignored in both conventions (COCO's way of ignoring: a
    detection that matches it counts neither way). All boxes are treated as iscrowd=0.
    """

    def __init__(
        self,
        num_classes: int,
        class_names: Sequence[str] | None = None,
        *,
        voc_iou: float = 0.5,
        voc_pixel_offset: float = 0.0,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"DetectionMetrics: num_classes must be an int >= 1, got {num_classes!r}")
        if not isinstance(voc_iou, (int, float, np.floating, np.integer)) or isinstance(voc_iou, bool) or not 0.0 <= voc_iou < 1.0:
            raise ValueError(f"DetectionMetrics: voc_iou must be a number in [0, 1), got {voc_iou!r}")
        if voc_pixel_offset not in (0, 1):
            raise ValueError(f"DetectionMetrics: voc_pixel_offset must be 0 or 1, got {voc_pixel_offset!r}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f"DetectionMetrics: {len(class_names)} class_names for num_classes={num_classes}"
            )
        self.num_classes = int(num_classes)
        self.class_names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
        self.voc_iou = float(voc_iou)
        self.voc_pixel_offset = float(voc_pixel_offset)
        self.reset()

    def reset(self) -> None:
        """Forget everything added so far."""
        self._dets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._gts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @property
    def num_images(self) -> int:
        return len(self._gts)

    def update(
        self,
        pred_boxes: Any,
        pred_scores: Any,
        pred_labels: Any,
        gt_boxes: Any,
        gt_labels: Any,
        gt_difficult: Any = None,
    ) -> None:
        """Add one image: its detections (N, 4) xyxy, (N,) scores, (N,) labels and its ground
        truth (M, 4) xyxy, (M,) labels, optional (M,) difficult flags. Tensors, arrays or lists."""
        pb = _to_numpy(pred_boxes, np.float64, 2, "pred_boxes")
        ps = _to_numpy(pred_scores, np.float64, 1, "pred_scores")
        pl = _to_numpy(pred_labels, np.int64, 1, "pred_labels")
        gb = _to_numpy(gt_boxes, np.float64, 2, "gt_boxes")
        gl = _to_numpy(gt_labels, np.int64, 1, "gt_labels")
        gd = _to_numpy(gt_difficult, bool, 1, "gt_difficult") if gt_difficult is not None else np.zeros(len(gl), bool)
        if not (len(pb) == len(ps) == len(pl)):
            raise ValueError(f"update: {len(pb)} pred_boxes, {len(ps)} pred_scores, {len(pl)} pred_labels")
        if not (len(gb) == len(gl) == len(gd)):
            raise ValueError(f"update: {len(gb)} gt_boxes, {len(gl)} gt_labels, {len(gd)} gt_difficult")
        for name, labels in (("pred_labels", pl), ("gt_labels", gl)):
            if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ValueError(f"update: {name} must lie in [0, {self.num_classes}), got {labels.min()}..{labels.max()}")
        self._dets.append((pb, ps, pl))
        self._gts.append((gb, gl, gd))

    # ----------------------------------------------------------------------------------------

    def _arrays(self) -> dict[str, np.ndarray]:
        """Everything as flat arrays, detections sorted by (image, class, score desc)."""
        n_img = len(self._gts)
        nd = np.array([len(d[1]) for d in self._dets], dtype=np.int64)
        ng = np.array([len(g[1]) for g in self._gts], dtype=np.int64)
        cat = lambda parts, shape: np.concatenate(parts) if parts else np.zeros(shape)  # noqa: E731
        d_img = np.repeat(np.arange(n_img), nd)
        d_box = cat([d[0] for d in self._dets], (0, 4)).astype(np.float64)
        d_score = cat([d[1] for d in self._dets], (0,)).astype(np.float64)
        d_label = cat([d[2] for d in self._dets], (0,)).astype(np.int64)
        g_img = np.repeat(np.arange(n_img), ng)
        g_box = cat([g[0] for g in self._gts], (0, 4)).astype(np.float64)
        g_label = cat([g[1] for g in self._gts], (0,)).astype(np.int64)
        g_diff = cat([g[2] for g in self._gts], (0,)).astype(bool)
        # np.lexsort is stable: equal scores keep the order they were given in (as pycocotools)
        o = np.lexsort((-d_score, d_label, d_img))
        g = np.lexsort((g_label, g_img))
        return dict(
            d_img=d_img[o], d_box=d_box[o], d_score=d_score[o], d_label=d_label[o],
            g_img=g_img[g], g_box=g_box[g], g_label=g_label[g], g_diff=g_diff[g],
        )

    def _voc(self, a: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-class VOC AP at IoU > voc_iou: (11-point, all-point), NaN without ground truth."""
        K = self.num_classes
        ap11, ap = np.full(K, np.nan), np.full(K, np.nan)
        for k in range(K):
            gsel = np.flatnonzero(a["g_label"] == k)
            n_pos = int(np.count_nonzero(~a["g_diff"][gsel]))
            if n_pos == 0:
                continue
            dsel = np.flatnonzero(a["d_label"] == k)
            dsel = dsel[np.argsort(-a["d_score"][dsel], kind="stable")]
            if dsel.size == 0:
                ap11[k] = ap[k] = 0.0
                continue
            # ground truth of class k padded per image: (n_img, width, 4)
            g_img = a["g_img"][gsel]
            starts, counts = _runs(g_img)
            row = np.full(self.num_images, -1)
            row[g_img[starts]] = np.arange(len(starts))
            gi, gvalid = _padded_index(starts, counts, int(counts.max()))
            d_row = row[a["d_img"][dsel]]
            has_gt = d_row >= 0
            ious = np.full((len(dsel), gi.shape[1]), -1.0)
            r = d_row[has_gt]
            ious[has_gt] = np.where(
                gvalid[r],
                box_iou(a["d_box"][dsel][has_gt][:, None, :], a["g_box"][gsel][gi[r]], self.voc_pixel_offset)[:, 0, :],
                -1.0,
            )
            best = np.argmax(ious, axis=1)  # first of equal maxima, as the devkit
            ov = ious[np.arange(len(dsel)), best]
            gt_index = gi[np.maximum(d_row, 0), best]  # into gsel
            hit = ov > self.voc_iou
            difficult = hit & a["g_diff"][gsel][gt_index]
            # among hits on countable boxes, the first (highest score) detection of each box is
            # the true positive; later ones are duplicates
            cand = np.flatnonzero(hit & ~difficult)
            _, first = np.unique(gt_index[cand], return_index=True)
            tp = np.zeros(len(dsel))
            tp[cand[first]] = 1.0
            fp = (~difficult).astype(np.float64) - tp
            tp, fp = np.cumsum(tp), np.cumsum(fp)
            rec = tp / n_pos
            prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
            ap11[k] = voc_ap(rec, prec, eleven_point=True)
            ap[k] = voc_ap(rec, prec, eleven_point=False)
        return ap11, ap

    def _coco(self, a: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """COCOeval's precision (T, R, K, A, M) and recall (T, K, A, M); -1 where undefined."""
        K, areas = self.num_classes, list(COCO_AREA_RANGES.values())
        T, R, A, M = len(COCO_IOU_THRESHOLDS), len(COCO_RECALL_THRESHOLDS), len(areas), len(COCO_MAX_DETS)
        max_det = COCO_MAX_DETS[-1]
        # detection groups (image, class), ranks within them, and the first max_det of each
        d_key = a["d_img"] * K + a["d_label"]
        starts, counts = _runs(d_key)
        rank = np.arange(len(d_key)) - np.repeat(starts, counts)
        keep = rank < max_det
        d_key, d_box, d_score, d_label, rank = (x[keep] for x in (d_key, a["d_box"], a["d_score"], a["d_label"], rank))
        starts, counts = _runs(d_key)
        g_key = a["g_img"] * K + a["g_label"]
        g_lo = np.searchsorted(g_key, d_key[starts], side="left")
        g_hi = np.searchsorted(g_key, d_key[starts], side="right")

        lo = np.array([r[0] for r in areas])[:, None]
        hi = np.array([r[1] for r in areas])[:, None]
        g_area = (a["g_box"][:, 2] - a["g_box"][:, 0]) * (a["g_box"][:, 3] - a["g_box"][:, 1])
        d_area = (d_box[:, 2] - d_box[:, 0]) * (d_box[:, 3] - d_box[:, 1])
        g_ignore = a["g_diff"][None, :] | (g_area[None, :] < lo) | (g_area[None, :] > hi)  # (A, n_gt)
        d_outside = (d_area[None, :] < lo) | (d_area[None, :] > hi)  # (A, n_det)

        matched, matched_ig = _coco_match(d_box, a["g_box"], g_ignore, starts, counts, g_lo, g_hi - g_lo, COCO_IOU_THRESHOLDS)
        ignored = matched_ig | (~matched & d_outside[:, None, :])  # (A, T, n_det)
        tps = matched & ~ignored
        fps = ~matched & ~ignored

        precision = -np.ones((T, R, K, A, M))
        recall = -np.ones((T, K, A, M))
        d_by_class = np.argsort(d_label, kind="stable")  # keeps image order within a class
        d_class_start = np.searchsorted(d_label[d_by_class], np.arange(K + 1))
        for k in range(K):
            idx = d_by_class[d_class_start[k]:d_class_start[k + 1]]
            g_k = a["g_label"] == k
            for ai in range(A):
                n_pos = int(np.count_nonzero(g_k & ~g_ignore[ai]))
                if n_pos == 0:
                    continue
                for mi, m in enumerate(COCO_MAX_DETS):
                    sel = idx[rank[idx] < m]
                    order = sel[np.argsort(-d_score[sel], kind="mergesort")]
                    q, rc = _coco_curve(tps[ai][:, order], fps[ai][:, order], n_pos)
                    precision[:, :, k, ai, mi] = q
                    recall[:, k, ai, mi] = rc
        return precision, recall

    def compute(self) -> dict[str, Any]:
        """All the metrics for the images added so far (see the class docstring)."""
        a = self._arrays()
        ap11, ap50 = self._voc(a)
        precision, recall = self._coco(a)
        area_names = list(COCO_AREA_RANGES)

        def mean_valid(x: np.ndarray) -> float:
            v = x[x > -1]
            return float(v.mean()) if v.size else -1.0

        stats: dict[str, float] = {}
        for key, area, max_det, t in COCO_STATS:
            ai, mi = area_names.index(area), COCO_MAX_DETS.index(max_det)
            if key.startswith("map"):
                p = precision[:, :, :, ai, mi]
                stats[key] = mean_valid(p if t is None else p[t])
            else:
                stats[key] = mean_valid(recall[:, :, ai, mi])

        def per_class_coco(p: np.ndarray) -> np.ndarray:  # (T?, R, K) -> (K,), NaN where -1
            p = p.reshape(-1, p.shape[-1])
            return np.where((p > -1).all(0), p.mean(0), np.nan)

        ap_coco = per_class_coco(precision[:, :, :, 0, -1])
        ap50_coco = per_class_coco(precision[0, :, :, 0, -1])
        ap75_coco = per_class_coco(precision[5, :, :, 0, -1])
        n_gt = np.bincount(a["g_label"][~a["g_diff"]], minlength=self.num_classes)
        n_det = np.bincount(a["d_label"], minlength=self.num_classes)
        per_class = [
            {
                "class_id": k,
                "name": self.class_names[k],
                "n_gt": int(n_gt[k]),
                "n_det": int(n_det[k]),
                "ap50_voc11": float(ap11[k]),
                "ap50": float(ap50[k]),
                "ap": float(ap_coco[k]),
                "ap50_coco": float(ap50_coco[k]),
                "ap75": float(ap75_coco[k]),
            }
            for k in range(self.num_classes)
        ]
        nanmean = lambda x: float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")  # noqa: E731
        result: dict[str, Any] = {
            "map50_voc11": nanmean(ap11),
            "map50": nanmean(ap50),
        }
        result.update({k: (v if v > -1 else float("nan")) for k, v in stats.items()})
        result["coco_stats"] = [stats[key] for key, *_ in COCO_STATS]
        result["per_class"] = per_class
        result["num_images"] = self.num_images
        result["num_detections"] = int(len(a["d_label"]))
        result["num_ground_truth"] = int(len(a["g_label"]))
        return result


def evaluate_detections(
    predictions: Iterable[Mapping[str, Any]],
    targets: Iterable[Mapping[str, Any]],
    num_classes: int,
    class_names: Sequence[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One-call mAP: ``predictions`` yields dicts with ``boxes``, ``scores``, ``labels``;
    ``targets`` yields dicts with ``boxes``, ``labels`` and optionally ``difficult``, one per
    image in the same order. Keyword arguments go to :class:`DetectionMetrics`."""
    predictions, targets = list(predictions), list(targets)
    if len(predictions) != len(targets):
        raise ValueError(f"evaluate_detections: {len(predictions)} predictions for {len(targets)} targets")
    metrics = DetectionMetrics(num_classes, class_names, **kwargs)
    for i, (p, t) in enumerate(zip(predictions, targets)):
        for name, item, keys in (("predictions", p, ("boxes", "scores", "labels")), ("targets", t, ("boxes", "labels"))):
            if not isinstance(item, Mapping):
                raise ValueError(f"evaluate_detections: {name}[{i}] must be a dict with keys {list(keys)}, "
                                 f"got {type(item).__name__}")
            missing = [k for k in keys if k not in item]
            if missing:
                raise ValueError(f"evaluate_detections: {name}[{i}] has no {missing} (expected keys {list(keys)}), "
                                 f"got keys {sorted(map(str, item))}")
        try:
            metrics.update(p["boxes"], p["scores"], p["labels"], t["boxes"], t["labels"], t.get("difficult"))
        except ValueError as exc:
            raise ValueError(f"evaluate_detections: image {i}: {exc}") from None
    return metrics.compute()
