"""Letterbox: the contract the predictor relies on."""

import numpy as np
import pytest
import torch

from attnlab.data.transforms import Letterbox, letterbox


def test_letterbox_wide_image_pads_top_and_bottom():
    img = np.zeros((100, 200, 3), np.uint8)
    out, lb = letterbox(img, 416)
    assert out.shape == (416, 416, 3) and out.dtype == np.uint8
    assert lb.scale == pytest.approx(416 / 200)
    assert lb.pad_x == 0 and lb.pad_y == (416 - 208) // 2
    assert (lb.orig_h, lb.orig_w, lb.out_h, lb.out_w) == (100, 200, 416, 416)
    # padding is the fill, the image region is the (black) image
    assert (out[: lb.pad_y] == 128).all() and (out[lb.pad_y + lb.new_h :] == 128).all()
    assert (out[lb.pad_y : lb.pad_y + lb.new_h] == 0).all()


def test_letterbox_rectangular_size_is_height_width():
    img = np.full((50, 50, 3), 7, np.uint8)
    out, lb = letterbox(img, (100, 300), fill=0)
    assert out.shape == (100, 300, 3)
    assert lb.scale == 2.0 and lb.pad_x == 100 and lb.pad_y == 0
    assert (out[:, :100] == 0).all() and (out[:, 100:200] == 7).all()


def test_letterbox_is_frozen():
    _, lb = letterbox(np.zeros((10, 10, 3), np.uint8), 20)
    with pytest.raises(Exception):
        lb.scale = 3.0  # type: ignore[misc]


def test_boxes_follow_pixels_and_invert_exactly():
    img = np.zeros((120, 90, 3), np.uint8)
    img[30:60, 10:40] = 255  # object at x 10..40, y 30..60
    out, lb = letterbox(img, 160)
    box = np.array([[10, 30, 40, 60, 3]], np.float32)
    mapped = lb.apply_boxes(box)
    assert mapped[0, 4] == 3  # extra columns carried through
    x1, y1, x2, y2 = mapped[0, :4]
    ys, xs = np.nonzero(out[..., 0] > 200)
    assert xs.min() >= np.floor(x1) - 1 and xs.max() <= np.ceil(x2) + 1
    assert ys.min() >= np.floor(y1) - 1 and ys.max() <= np.ceil(y2) + 1
    back = lb.invert_boxes(mapped)
    np.testing.assert_allclose(back, box, atol=1e-4)


def test_numpy_and_torch_types_are_kept():
    _, lb = letterbox(np.zeros((64, 32, 3), np.uint8), 128)
    t = torch.tensor([[1.0, 2.0, 30.0, 60.0]], dtype=torch.float64)
    r = lb.apply_boxes(t)
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float64
    assert torch.allclose(lb.invert_boxes(r), t)
    a = np.array([[1, 2, 30, 60]])  # integers become float
    r2 = lb.apply_boxes(a)
    assert isinstance(r2, np.ndarray) and np.issubdtype(r2.dtype, np.floating)
    assert (a == [[1, 2, 30, 60]]).all()  # input not modified
    ti = torch.tensor([[1, 2, 30, 60]])
    assert lb.apply_boxes(ti).dtype == torch.float32


def test_invert_clip_is_explicit():
    _, lb = letterbox(np.zeros((100, 200, 3), np.uint8), 416)
    pred = np.array([[-5.0, 0.0, 420.0, 416.0]])
    raw = lb.invert_boxes(pred)
    assert raw[0, 0] < 0 and raw[0, 1] < 0 and raw[0, 2] > 200
    clipped = lb.invert_boxes(pred, clip=True)
    np.testing.assert_allclose(clipped[0], [0, 0, 200, 100])
    tc = lb.invert_boxes(torch.tensor(pred), clip=True)
    assert torch.allclose(tc, torch.tensor(clipped))


def test_same_size_is_identity():
    img = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    out, lb = letterbox(img, 40)
    assert (out == img).all() and lb == Letterbox(1.0, 0, 0, 40, 40, 40, 40)


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)])
def test_bad_images_are_refused(bad):
    with pytest.raises(ValueError, match="letterbox"):
        letterbox(bad, 32)


def test_empty_boxes_ok():
    _, lb = letterbox(np.zeros((10, 20, 3), np.uint8), 32)
    assert lb.apply_boxes(np.zeros((0, 4))).shape == (0, 4)
    assert lb.invert_boxes(torch.zeros((0, 4))).shape == (0, 4)
