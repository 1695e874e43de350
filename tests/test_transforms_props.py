"""Augmentation moves boxes with the pixels: property tests with solid coloured rectangles.

Each object is a solid rectangle of a unique colour. After a geometric transform, every pixel
of that colour must lie inside the object's box (1 px tolerance for resampling), and an object
whose box was dropped must have little of its area left in the image.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnlab.data.transforms import (
    MIN_SIDE,
    MIN_VISIBLE,
    Compose,
    HorizontalFlip,
    HSVJitter,
    LetterboxResize,
    MixUp,
    Mosaic,
    RandomScaleAspect,
    filter_boxes,
    mixup,
    mosaic,
    train_transform,
)

# Object colours: none lies on or near a straight line between two others or the greys (100, the
# scenes' background; 128, the fill). Resampling blends neighbouring colours along such lines, so
# a colour halfway between two others (the earlier palette's (128, 0, 255), between magenta and
# blue) shows up at their shared edges, far from its own object: that, not mosaic, was the
# failure a random run found in session 3. test_palette_colours_are_not_blends checks the rule.
PALETTE = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
     [255, 255, 255], [0, 0, 0], [192, 192, 128], [192, 64, 128], [64, 192, 128], [64, 0, 128]],
    np.uint8,
)
# derandomized: CI sees the same examples every run
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenes(draw, max_objects=4):
    h = draw(st.integers(24, 96))
    w = draw(st.integers(24, 96))
    n = draw(st.integers(1, max_objects))
    boxes = []
    for k in range(n):
        x1 = draw(st.integers(0, w - 6))
        y1 = draw(st.integers(0, h - 6))
        x2 = draw(st.integers(x1 + 6, min(w, x1 + 40)))
        y2 = draw(st.integers(y1 + 6, min(h, y1 + 40)))
        boxes.append((x1, y1, x2, y2, k))
    return h, w, np.array(boxes, np.float32)


def render(h, w, boxes, colour_offset=0):
    """Non-overlapping draw order: later rectangles over earlier ones; background grey-ish."""
    img = np.full((h, w, 3), 100, np.uint8)
    for x1, y1, x2, y2, k in boxes.astype(int):
        img[y1:y2, x1:x2] = PALETTE[k + colour_offset]
    return img


def colour_mask(img, k):
    return (np.abs(img.astype(int) - PALETTE[k].astype(int)).sum(-1) <= 6)


def check(img, in_boxes, out_boxes, tol=1.5, scale=None):
    """Kept boxes contain their object's pixels; dropped objects have little area left.

    ``scale = (sx, sy)``: how the transform scaled the objects (needed for the dropped check).
    """
    kept = {int(b[4]): b for b in out_boxes}
    H, W = img.shape[:2]
    n_dropped = 0
    for b in in_boxes:
        k = int(b[4])
        ys, xs = np.nonzero(colour_mask(img, k))
        if k in kept:
            x1, y1, x2, y2, _ = kept[k]
            assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
            if xs.size:
                assert xs.min() >= x1 - tol and xs.max() + 1 <= x2 + tol, (k, kept[k], xs.min(), xs.max())
                assert ys.min() >= y1 - tol and ys.max() + 1 <= y2 + tol, (k, kept[k], ys.min(), ys.max())
        elif scale is not None and xs.size:
            n_dropped += 1
            sx, sy = scale
            bw, bh = (b[2] - b[0]) * sx, (b[3] - b[1]) * sy
            sliver = (xs.max() - xs.min() + 1) < MIN_SIDE + 2 * tol or (ys.max() - ys.min() + 1) < MIN_SIDE + 2 * tol
            little = xs.size <= MIN_VISIBLE * bw * bh + 2 * (bw + bh) + 4  # + resampling fringe
            assert sliver or little, (k, xs.size, bw * bh)
    return n_dropped


@SETTINGS
@given(scenes(), st.integers(16, 128), st.integers(16, 128))
def test_letterbox_resize_keeps_objects_in_boxes(scene, oh, ow):
    h, w, boxes = scene
    img = render(h, w, boxes)
    out, out_boxes = LetterboxResize((oh, ow))(img, boxes.copy(), None)
    assert out.shape == (oh, ow, 3)
    s = min(oh / h, ow / w)
    check(out, boxes, out_boxes, scale=(s, s))


@SETTINGS
@given(scenes(), st.integers(0, 2**31 - 1))
def test_random_scale_aspect_keeps_objects_in_boxes(scene, seed):
    h, w, boxes = scene
    img = render(h, w, boxes)
    rng = np.random.default_rng(seed)
    t = RandomScaleAspect(64, jitter=0.3, scale=(0.25, 2.0))
    out, out_boxes = t(img, boxes.copy(), rng)
    assert out.shape == (64, 64, 3)
    nw, nh, _, _ = t.sample(h, w, np.random.default_rng(seed))  # the same draw again
    check(out, boxes, out_boxes, scale=(nw / w, nh / h))
    for b in out_boxes:  # the drop rule holds for what is kept
        assert b[2] - b[0] >= MIN_SIDE and b[3] - b[1] >= MIN_SIDE


@SETTINGS
@given(scenes(), st.integers(0, 2**31 - 1))
def test_flip_keeps_objects_in_boxes(scene, seed):
    h, w, boxes = scene
    img = render(h, w, boxes)
    out, out_boxes = HorizontalFlip(1.0)(img, boxes.copy(), np.random.default_rng(seed))
    check(out, boxes, out_boxes, tol=0)
    assert len(out_boxes) == len(boxes)
    twice, back = HorizontalFlip(1.0)(out, out_boxes, np.random.default_rng(seed))
    assert (twice == img).all() and np.allclose(back, boxes)


class _Source:
    def __init__(self, scenes_):
        self.items = [(render(h, w, b, 0), b) for h, w, b in scenes_]

    def __len__(self):
        return len(self.items)

    def raw(self, i):
        return self.items[i]


@SETTINGS
@given(st.lists(scenes(max_objects=3), min_size=4, max_size=4), st.integers(0, 2**31 - 1))
def test_mosaic_keeps_objects_in_boxes(four, seed):
    # give every object of the four images its own colour
    samples, all_boxes, offset = [], [], 0
    for h, w, b in four:
        b = b.copy()
        b[:, 4] += offset
        offset += len(b)
        samples.append((render(h, w, b), b))
        all_boxes.append(b)
    rng = np.random.default_rng(seed)
    out, out_boxes = mosaic(samples, 96, rng)
    assert out.shape == (96, 96, 3)
    assert len({int(c) for c in out_boxes[:, 4]}) == len(out_boxes)  # no object twice
    check(out, np.concatenate(all_boxes), out_boxes)


def test_palette_colours_are_not_blends():
    """No object colour is within 60 (L1) of a blend of two other colours or greys, so a
    resampled edge between two objects is never mistaken for a third (the mask allows 6)."""
    greys = [np.full(3, g, float) for g in (100, 128)]
    colours = [c.astype(float) for c in PALETTE]
    for i, c in enumerate(colours):
        others = [o for j, o in enumerate(colours) if j != i] + greys
        for a_i, a in enumerate(others):
            for b in others[a_i + 1:]:
                t = np.clip(np.dot(c - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
                assert np.abs(c - (a + t * (b - a))).sum() > 60, (PALETTE[i], a, b)


def test_mixup_keeps_both_box_sets():
    a = (np.zeros((8, 8, 3), np.uint8), np.array([[0, 0, 4, 4, 1]], np.float32))
    b = (np.full((8, 8, 3), 200, np.uint8), np.array([[2, 2, 8, 8, 2]], np.float32))
    img, boxes = mixup(a, b, 0.5)
    assert (img == 100).all() and boxes.shape == (2, 5)
    with pytest.raises(ValueError, match="same shape"):
        mixup(a, (np.zeros((4, 4, 3), np.uint8), b[1]))


def test_filter_boxes_rule():
    boxes = np.array(
        [
            [10, 10, 20, 20, 0],  # inside: kept
            [-8, 0, 2, 10, 1],  # 20 % visible: dropped (< 25 %)
            [-5, 0, 5, 10, 2],  # 50 % visible: kept, clipped
            [5, 5, 6.5, 20, 3],  # 1.5 px wide: dropped (side < 2)
        ],
        np.float32,
    )
    out = filter_boxes(boxes, 32, 32)
    assert out[:, 4].tolist() == [0, 2]
    assert out[1, :4].tolist() == [0, 0, 5, 10]


def test_hsv_jitter_keeps_boxes_and_shape():
    img = render(32, 32, np.array([[4, 4, 20, 20, 0]], np.float32))
    rng = np.random.default_rng(0)
    out, boxes = HSVJitter()(img, np.array([[4, 4, 20, 20, 0]], np.float32), rng)
    assert out.shape == img.shape and out.dtype == np.uint8 and boxes.tolist() == [[4, 4, 20, 20, 0]]
    assert not (out == img).all()


def test_train_transform_pipeline_is_reproducible():
    h, w, b = 48, 64, np.array([[5, 5, 30, 30, 0], [30, 10, 60, 40, 1]], np.float32)
    source = _Source([(h, w, b)] * 5)
    t = train_transform(64, source, mosaic_p=0.5, mixup_p=0.5)
    assert isinstance(t, Compose)
    assert any(isinstance(s, Mosaic) for s in t.transforms) and any(isinstance(s, MixUp) for s in t.transforms)
    for seed in range(6):
        o1, b1 = t(render(h, w, b), b.copy(), np.random.default_rng(seed))
        o2, b2 = t(render(h, w, b), b.copy(), np.random.default_rng(seed))
        assert o1.shape == (64, 64, 3) and (o1 == o2).all() and np.array_equal(b1, b2)
        assert ((b1[:, 2] - b1[:, 0]) >= MIN_SIDE).all()
    assert isinstance(train_transform(64), Compose)  # no source: no mosaic
    with pytest.raises(TypeError, match="raw"):
        Mosaic(object(), 64)
