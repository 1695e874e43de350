"""Issue #16: property-based tests (hypothesis) over the public API.

Each property feeds generated input, good and bad, to one public function and accepts exactly two
outcomes: a correct result (checked against what the function promises), or an error raised by
attnlab itself (its innermost frame in the attnlab package, a ValueError/TypeError/OSError naming
the argument). An error from deep inside torch or numpy, or a wrong answer, fails the test.

Every outcome is counted in :data:`COUNTS`; the last test checks that at least 300 cases ran and
prints the tally (``pytest -s tests/test_properties.py``). The one error knowingly left to torch
is CBAM on an empty feature map (H or W = 0): ``adaptive_max_pool2d`` refuses it, and the CBAM
module is outside this change; it is counted as ``left_to_torch``.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attnlab
from attnlab.attention import build
from attnlab.data.voc import VOCDataError, parse_annotation
from attnlab.detection.boxes import box_iou, clip_boxes, nms
from attnlab.detection.predictor import Predictor
from attnlab.metrics import DetectionMetrics
from attnlab.models import YoloV4Tiny
from attnlab.train.checkpoint import load_checkpoint, save_checkpoint

COUNTS: Counter = Counter()
PACKAGE = str(Path(attnlab.__file__).parent)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _outcome(kind: str, call, *, left_to_torch: bool = False):
    """Run ``call()``; return its result, or None after an attnlab error. Counts the outcome."""
    COUNTS["cases"] += 1
    try:
        result = call()
    except (ValueError, TypeError, OSError, VOCDataError) as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        if left_to_torch and not frame.filename.startswith(PACKAGE):
            COUNTS["left_to_torch"] += 1
            COUNTS[f"left_to_torch:{kind}"] += 1
            return None
        assert frame.filename.startswith(PACKAGE), (
            f"{kind}: {type(exc).__name__} raised outside attnlab ({frame.filename}:{frame.lineno}): {exc}"
        )
        COUNTS["attnlab_errors"] += 1
        COUNTS[f"attnlab_errors:{kind}"] += 1
        return None
    except RuntimeError as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        if left_to_torch:
            COUNTS["left_to_torch"] += 1
            COUNTS[f"left_to_torch:{kind}"] += 1
            return None
        raise AssertionError(f"{kind}: torch error {exc} at {frame.filename}:{frame.lineno}") from exc
    COUNTS["results"] += 1
    return result


floats = st.one_of(st.floats(-50, 150, allow_nan=False), st.sampled_from([math.nan, math.inf, -math.inf]))

# ---------------------------------------------------------------------------------------------
# attention blocks
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(name=st.sampled_from(["se", "cbam", "eca", "ca", "simam"]), b=st.integers(0, 2), c=st.integers(1, 20),
       c_in=st.integers(1, 20), h=st.integers(0, 5), w=st.integers(0, 5), train=st.booleans())
def test_attention_blocks(name, b, c, c_in, h, w, train):
    block = build(name, c).train(train)
    x = torch.randn(b, c_in, h, w)
    empty_map = h == 0 or w == 0
    out = _outcome(f"attention:{name}", lambda: block(x))
    if out is None:   # wrong channels, or an empty map for the blocks that pool over it (refused by name)
        assert c_in != c or (name in ("cbam", "ca") and empty_map)
        return
    assert c_in == c and out.shape == x.shape and torch.isfinite(out).all()


# ---------------------------------------------------------------------------------------------
# boxes and NMS
# ---------------------------------------------------------------------------------------------


@st.composite
def box_sets(draw, max_n=8):
    n = draw(st.integers(0, max_n))
    rows = []
    for _ in range(n):
        x1, y1 = draw(st.floats(0, 90)), draw(st.floats(0, 90))
        w, h = draw(st.floats(-5, 40)), draw(st.floats(-5, 40))  # negative: an inverted box
        rows.append([x1, y1, x1 + w, y1 + h])
    boxes = torch.tensor(rows, dtype=torch.float32).reshape(n, 4)
    if n and draw(st.booleans()) and draw(st.booleans()):
        boxes[draw(st.integers(0, n - 1)), draw(st.integers(0, 3))] = draw(st.sampled_from([math.nan, math.inf]))
    return boxes


@SETTINGS
@given(boxes=box_sets(), data=st.data(),
       thr=st.one_of(st.floats(0, 1), st.sampled_from([-1.0, 5.0, math.nan, 1.5])))
def test_nms(boxes, data, thr):
    n = len(boxes)
    scores = torch.tensor(data.draw(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), min_size=n, max_size=n)),
                          dtype=torch.float32).reshape(n)
    keep = _outcome("nms", lambda: nms(boxes, scores, thr))
    valid = (0 <= thr <= 1 and not torch.isnan(scores).any() and torch.isfinite(boxes).all()
             and bool(((boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])).all()))
    assert (keep is not None) == bool(valid)
    if keep is None:
        return
    kept_scores = scores[keep]
    assert torch.all(kept_scores[:-1] >= kept_scores[1:])
    iou = box_iou(boxes, boxes)
    kept = set(keep.tolist())
    for i in kept:  # no kept pair overlaps more than the threshold
        for j in kept:
            assert i == j or iou[i, j] <= thr
    for j in set(range(n)) - kept:  # every dropped box overlaps a kept box that ranks before it
        assert any(iou[i, j] > thr and (scores[i] > scores[j] or (scores[i] == scores[j] and i < j)) for i in kept)


@SETTINGS
@given(boxes=box_sets(), h=st.one_of(st.floats(-10, 200), st.just(math.nan)), w=st.floats(-10, 200))
def test_clip_boxes(boxes, h, w):
    out = _outcome("clip_boxes", lambda: clip_boxes(boxes, (h, w)))
    assert (out is None) == (not (h >= 0 and w >= 0))
    if out is not None:
        finite = torch.isfinite(boxes).all(1)
        b = out[finite]
        assert (b[:, 0::2] >= 0).all() and (b[:, 0::2] <= w).all() and (b[:, 1::2] >= 0).all() and (b[:, 1::2] <= h).all()


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(gt=box_sets(5), pred=box_sets(6), data=st.data())
def test_detection_metrics(gt, pred, data):
    k = 3
    label = st.one_of(st.integers(0, k - 1), st.sampled_from([0.7, -1, k]))
    gl = data.draw(st.lists(label, min_size=len(gt), max_size=len(gt)))
    pl = data.draw(st.lists(label, min_size=len(pred), max_size=len(pred)))
    ps = data.draw(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), min_size=len(pred), max_size=len(pred)))
    m = DetectionMetrics(k)
    ok = _outcome("metrics.update", lambda: m.update(pred, ps, pl, gt, gl) or True)
    bad_boxes = any(not torch.isfinite(b).all() or b[2] < b[0] or b[3] < b[1] for b in (*gt, *pred))
    bad_labels = any(v not in range(k) for v in (*gl, *pl))
    assert (ok is None) == (bad_boxes or bad_labels or any(math.isnan(s) for s in ps))
    if ok is None:
        return
    result = m.compute()
    for key in ("map50", "map50_voc11", "map"):
        v = result[key]
        assert math.isnan(v) == (not any(v in range(k) for v in gl)) or key == "map"
        assert math.isnan(v) or 0.0 <= v <= 1.0
    # the ground truth itself, as predictions with any finite scores, scores VOC mAP 1
    positive = [i for i, b in enumerate(gt) if (b[2] - b[0]) * (b[3] - b[1]) > 0]
    if positive:
        m2 = DetectionMetrics(k)
        m2.update(gt[positive], [0.5] * len(positive), [gl[i] for i in positive], gt[positive],
                  [gl[i] for i in positive])
        assert m2.compute()["map50"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# predictor
# ---------------------------------------------------------------------------------------------

_MODEL = None


def _model():
    global _MODEL
    if _MODEL is None:
        torch.manual_seed(0)
        _MODEL = YoloV4Tiny(2, input_size=32).eval()
    return _MODEL


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(h=st.one_of(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2)), w=st.integers(1, 40),
       channels=st.sampled_from([3, 3, 3, None, 1, 4, 5]), dtype=st.sampled_from(["uint8", "uint8", "float32", "int32", "bool"]),
       scale=st.sampled_from([1.0, 1.0, 1.0, 2.0, math.nan]),
       conf=st.one_of(st.floats(0, 1), st.floats(0, 0.1), st.sampled_from([-0.1, math.nan])),
       max_det=st.one_of(st.integers(1, 5), st.integers(1, 5), st.integers(-2, 0)))
def test_predictor(h, w, channels, dtype, scale, conf, max_det):
    shape = (h, w) if channels is None else (h, w, channels)
    rng = np.random.default_rng(h * 41 + w)
    image = (rng.random(shape) * scale).astype(dtype) if dtype.startswith("float") else (rng.random(shape) * 255).astype(dtype)

    def run():
        predictor = Predictor(_model(), conf_threshold=conf, max_detections=max_det)
        return predictor(image)

    result = _outcome("predictor", run)
    if result is None:
        return
    assert 1 <= max_det and 0 <= conf <= 1 and h >= 1 and w >= 1
    assert len(result) <= max_det and result.image_size == (h, w)
    if len(result):
        b = result.boxes
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 1] >= 0).all() and (b[:, 3] <= h).all()
        assert (result.scores >= conf).all()


# ---------------------------------------------------------------------------------------------
# VOC parser
# ---------------------------------------------------------------------------------------------

numbers_text = st.one_of(st.integers(1, 120).map(str), st.integers(1, 120).map(str), st.integers(-20, 300).map(str),
                         st.sampled_from(["inf", "nan", "-inf", "abc", "", "1e3", "12.5"]))

valid_coords = st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(41, 100), st.integers(41, 100)).map(
    lambda t: [str(v) for v in t])


@SETTINGS
@given(width=st.one_of(st.just("100"), numbers_text), height=st.one_of(st.just("100"), numbers_text),
       coords=st.one_of(valid_coords, valid_coords, st.lists(numbers_text, min_size=4, max_size=4)),
       difficult=st.sampled_from(["0", "1", "0", "1", "yes", "no", "true", "2", "maybe", ""]),
       name=st.sampled_from(["cat", "dog", "bird"]))
def test_voc_parser(tmp_path_factory, width, height, coords, difficult, name):
    folder = tmp_path_factory.mktemp("voc", numbered=True)
    xml = (f"<annotation><filename>a.jpg</filename><size><width>{width}</width><height>{height}</height></size>"
           f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>"
           + "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), coords))
           + "</bndbox></object></annotation>")
    path = folder / "a.xml"
    path.write_text(xml)

    ann = _outcome("voc", lambda: parse_annotation(path, ["cat", "dog"]))
    if ann is None:
        return
    assert len(ann.boxes) == 1 and np.isfinite(ann.boxes).all() and ann.width >= 0 and ann.height >= 0
    x1, y1, x2, y2, cls = ann.boxes[0]
    assert x2 > x1 and y2 > y1 and cls == ["cat", "dog"].index(name)
    if ann.width > 0 and ann.height > 0:
        assert x1 >= 0 and y1 >= 0 and x2 <= ann.width and y2 <= ann.height
    assert bool(ann.difficult[0]) == (difficult in ("1", "yes", "true"))


# ---------------------------------------------------------------------------------------------
# checkpoint loading
# ---------------------------------------------------------------------------------------------


class _Code:
    def __reduce__(self):
        return (os.getcwd, ())


@SETTINGS
@given(kind=st.sampled_from(["bytes", "truncated", "object", "code", "good", "flipped"]), data=st.data())
def test_checkpoint_loading(tmp_path_factory, kind, data):
    folder = tmp_path_factory.mktemp("ckpt", numbered=True)
    path = folder / "c.pt"
    good = {"epoch": 1, "model": {"w": torch.arange(6.0)}}
    if kind == "bytes":
        path.write_bytes(data.draw(st.binary(max_size=64)))
    elif kind in ("truncated", "flipped"):
        save_checkpoint(good, path)
        blob = bytearray(path.read_bytes())
        if kind == "truncated":
            blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
        else:
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] ^= 0xFF
        path.write_bytes(bytes(blob))
    elif kind == "object":
        torch.save(data.draw(st.sampled_from([[1, 2], "text", 3, (torch.ones(1),), None])), path)
    elif kind == "code":
        torch.save({"x": _Code()}, path)
    else:
        save_checkpoint(good, path)
    loaded = _outcome("checkpoint", lambda: load_checkpoint(path))
    if loaded is None:
        assert kind != "good"
        return
    assert isinstance(loaded, dict)
    if kind == "good":
        assert torch.equal(loaded["model"]["w"], good["model"]["w"])


def test_zz_counts():
    """At least 300 generated cases; the tally is printed (``-s``) for the issue's closing note."""
    print("\nproperty cases:", dict(sorted(COUNTS.items())))
    if COUNTS["cases"] == 0:
        pytest.skip("run the whole file to count")
    assert COUNTS["cases"] >= 300
    assert COUNTS["results"] > 0 and COUNTS["attnlab_errors"] > 0
