"""Synthetic shapes: contracts, determinism, speed."""

import hashlib
import time

import numpy as np
import pytest
import torch

from attnlab.data import CLASS_NAMES, ShapesClassification, ShapesDetection, make_classification
from attnlab.data.shapes import image_rng, make_detection_image


def _digest(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(np.ascontiguousarray(t.numpy() if isinstance(t, torch.Tensor) else t).tobytes())
    return h.hexdigest()


def test_classification_contract():
    ds = make_classification(50, 32, seed=0)
    assert isinstance(ds, ShapesClassification) and len(ds) == 50
    assert ds.images.shape == (50, 3, 32, 32) and ds.images.dtype == torch.float32
    assert float(ds.images.min()) >= 0.0 and float(ds.images.max()) <= 1.0
    assert ds.labels.shape == (50,) and ds.labels.dtype == torch.int64
    assert ds.class_names == CLASS_NAMES
    img, label = ds[3]
    assert img.shape == (3, 32, 32) and int(label) == int(ds.labels[3])
    images, labels = ds.tensors()
    assert images is ds.images and labels is ds.labels


def test_classification_is_deterministic_and_independent_of_n():
    a = make_classification(40, 24, seed=3)
    b = make_classification(40, 24, seed=3)
    assert _digest(a.images, a.labels) == _digest(b.images, b.labels)
    c = make_classification(10, 24, seed=3)  # image i does not depend on n
    assert torch.equal(c.images, a.images[:10]) and torch.equal(c.labels, a.labels[:10])
    d = make_classification(40, 24, seed=4)
    assert not torch.equal(d.images, a.images)


def test_classification_splits_differ():
    tr = make_classification(20, 32, seed=0, split="train")
    va = make_classification(20, 32, seed=0, split="val")
    te = make_classification(20, 32, seed=0, split="test")
    flat = lambda d: {_digest(x) for x in d.images}  # noqa: E731
    assert not (flat(tr) & flat(va)) and not (flat(tr) & flat(te)) and not (flat(va) & flat(te))


def test_classification_is_fast_and_balanced():
    start = time.perf_counter()
    ds = make_classification(2000, 32, seed=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"2,000 images took {elapsed:.2f} s"  # ~0.5 s on a laptop core
    counts = torch.bincount(ds.labels, minlength=len(CLASS_NAMES))
    assert counts.min() > 2000 / len(CLASS_NAMES) * 0.75


def test_colour_does_not_give_the_class_away():
    ds = make_classification(600, 32, seed=1, n_distractors=(0, 0), occluder_prob=0.0, texture=0.0)
    # the brightest colour in an image is the object's (the background is muted): mean per class
    means = torch.stack([ds.images[ds.labels == k].amax(dim=(2, 3)).mean(0) for k in range(len(CLASS_NAMES))])
    assert float((means - means.mean(0)).abs().max()) < 0.08


def test_classification_options_and_errors():
    ds = make_classification(30, 16, seed=0, classes=("circle", "square"))
    assert ds.class_names == ("circle", "square") and set(ds.labels.tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="unknown classes"):
        make_classification(5, 32, classes=("hexagon",))
    with pytest.raises(ValueError, match="split"):
        make_classification(5, 32, split="dev")
    assert len(make_classification(0, 32)) == 0


def test_detection_item_format():
    ds = ShapesDetection(6, 96, seed=0)
    assert len(ds) == 6 and ds.class_names == CLASS_NAMES
    for i in range(len(ds)):
        image, boxes = ds[i]
        assert image.shape == (3, 96, 96) and image.dtype == torch.float32
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert boxes.dtype == torch.float32 and boxes.ndim == 2 and boxes.shape[1] == 5
        assert boxes.shape[0] >= 1
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 96).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= 96).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert set(boxes[:, 4].tolist()) <= set(range(len(CLASS_NAMES)))
    assert torch.equal(ds[-1][1], ds[5][1])
    with pytest.raises(IndexError):
        ds.raw(6)


def test_detection_rectangular_images():
    image, boxes = ShapesDetection(2, (64, 128), seed=0)[1]
    assert image.shape == (3, 64, 128)
    assert (boxes[:, 2] <= 128).all() and (boxes[:, 3] <= 64).all()


def test_detection_byte_identical_and_split_disjoint():
    a = ShapesDetection(5, 64, seed=7, split="train")
    b = ShapesDetection(5, 64, seed=7, split="train", cache=False)
    for i in range(5):
        assert _digest(*a.raw(i)) == _digest(*b.raw(i))
    big = ShapesDetection(50, 64, seed=7)
    assert _digest(*big.raw(4)) == _digest(*a.raw(4))  # independent of n
    val = ShapesDetection(5, 64, seed=7, split="val")
    assert {_digest(val.raw(i)[0]) for i in range(5)}.isdisjoint({_digest(a.raw(i)[0]) for i in range(5)})


def test_boxes_are_tight_around_visible_object_pixels():
    # on a plain background without distractors, the pixels that differ from the background
    # near each box lie within the box
    rng = image_rng(0, "train", 0)
    image, boxes = make_detection_image(rng, 128, n_distractors=(0, 0), texture=0.0, max_objects=3)
    assert boxes.shape[0] >= 1
    bg = np.median(image.reshape(-1, 3), axis=0)
    fg = np.abs(image.astype(int) - bg).sum(-1) > 30
    covered = np.zeros_like(fg)
    for x1, y1, x2, y2, _ in boxes.astype(int):
        covered[y1:y2, x1:x2] = True
        # tight: each edge row/column of the box holds object pixels
        assert fg[y1:y2, x1].any() and fg[y1:y2, x2 - 1].any() and fg[y1, x1:x2].any() and fg[y2 - 1, x1:x2].any()
    assert not (fg & ~covered).any()


def test_detection_cache_policy():
    assert ShapesDetection(10, 64).cache is True
    assert ShapesDetection(10_000, 416, cache_limit_mb=100).cache is False
    ds = ShapesDetection(3, 64)
    assert ds.raw(0) is ds.raw(0)
    with pytest.raises(ValueError, match="split"):
        ShapesDetection(3, 64, split="dev")


def test_detection_generation_speed():
    ds = ShapesDetection(20, 160, seed=0, cache=False)
    start = time.perf_counter()
    for i in range(20):
        ds.raw(i)
    per_image = (time.perf_counter() - start) / 20
    assert per_image < 0.2, f"{per_image * 1e3:.1f} ms per 160px image"  # ~3 ms on a laptop core
