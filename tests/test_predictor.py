"""Predictor: any image in, boxes in the original image's pixels out; drawing; heatmaps; Grad-CAM."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from PIL import Image

from attnlab.detection.anchors import ANCHORS_MASK, YOLO_ANCHORS
from attnlab.detection.predictor import PredictionResult, Predictor, load_image

K = 2


class ScriptedModel(torch.nn.Module):
    """Returns fixed head outputs for a 64 x 64 input: two known boxes, everything else silent.

    Output 0 (stride 32), cell (0, 0), anchor 3 (81 x 82): a 32 x 32 box centred at (16, 16),
    class 1. Output 1 (stride 16), cell (row 2, col 3), anchor 1 (23 x 27): a 16 x 16 box centred
    at (56, 40), class 0.
    """

    num_classes = K
    anchors = YOLO_ANCHORS
    anchors_mask = ANCHORS_MASK
    input_size = (64, 64)

    def forward(self, x):
        b = x.shape[0]
        out0 = torch.full((b, 3, 5 + K, 2, 2), -10.0)
        out0[:, 0, :, 0, 0] = torch.tensor([0.0, 0.0, math.log(32 / 81), math.log(32 / 82), 10.0, -10.0, 10.0])
        out1 = torch.full((b, 3, 5 + K, 4, 4), -10.0)
        out1[:, 0, :, 2, 3] = torch.tensor([0.0, 0.0, math.log(16 / 23), math.log(16 / 27), 10.0, 10.0, -10.0])
        return out0.reshape(b, -1, 2, 2), out1.reshape(b, -1, 4, 4)


def scene(h: int = 100, w: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# A 200 x 100 image letterboxed to 64: scale 0.32, 64 x 32 inside, 16 px of padding on top and
# bottom. The two boxes (0, 0, 32, 32) and (48, 32, 64, 48) map back to these:
EXPECTED = [[0.0, 0.0, 100.0, 50.0], [150.0, 50.0, 200.0, 100.0]]


def test_boxes_come_back_in_original_pixels():
    pred = Predictor(ScriptedModel(), ["cat", "dog"], input_size=64, conf_threshold=0.5, nms_iou=0.3)
    res = pred(scene())
    assert isinstance(res, PredictionResult) and len(res) == 2
    torch.testing.assert_close(res.boxes, torch.tensor(EXPECTED), atol=1e-3, rtol=0)
    assert res.labels.tolist() == [1, 0] and res.class_names == ["dog", "cat"]
    assert res.image_size == (100, 200)
    assert torch.all(res.scores > 0.99)
    assert res.to_records()[0]["name"] == "dog" and "2 detections" in repr(res)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,  # uint8 RGB array
        lambda a: np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], 2),  # RGBA
        lambda a: a[:, :, 0],  # grayscale (H, W)
        lambda a: a[:, :, :1],  # (H, W, 1)
        lambda a: a.astype(np.float64) / 255.0,  # float in [0, 1], as scikit-image returns
        lambda a: Image.fromarray(a).convert("L"),  # PIL grayscale
        lambda a: Image.fromarray(a).convert("RGBA"),  # PIL RGBA
        lambda a: Image.fromarray(a).convert("P"),  # PIL palette
    ],
)
def test_any_image_kind_is_accepted(make):
    pred = Predictor(ScriptedModel(), ["cat", "dog"], input_size=64)
    res = pred(make(scene()))
    torch.testing.assert_close(res.boxes, torch.tensor(EXPECTED), atol=1e-3, rtol=0)


def test_paths_and_batches(tmp_path):
    path = tmp_path / "scene.png"
    Image.fromarray(scene()).save(path)
    pred = Predictor(ScriptedModel(), ["cat", "dog"], input_size=64)
    torch.testing.assert_close(pred(str(path)).boxes, torch.tensor(EXPECTED), atol=1e-3, rtol=0)
    small, tall = pred.predict_batch([path, scene(50, 100)]), pred(scene(200, 100))
    torch.testing.assert_close(small[1].boxes, torch.tensor(EXPECTED) / 2, atol=1e-3, rtol=0)
    # a tall image is padded left and right instead: (0, 0, 32, 32) -> x from -50, clipped to 0
    assert tall.image_size == (200, 100)
    torch.testing.assert_close(tall.boxes[0], torch.tensor([0.0, 0.0, 50.0, 100.0]), atol=1e-3, rtol=0)


def test_bad_images_and_settings_get_clear_errors(tmp_path):
    pred = Predictor(ScriptedModel(), ["cat", "dog"], input_size=64)
    with pytest.raises(ValueError, match="channels, got 2"):
        pred(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="channels-first"):
        pred(np.zeros((3, 40, 50), np.uint8))
    with pytest.raises(ValueError, match="not an image"):
        pred(np.zeros(10, np.uint8))
    with pytest.raises(ValueError, match="float images"):
        pred(np.full((8, 8), 255.0))
    with pytest.raises(ValueError, match="dtype"):
        pred(np.zeros((8, 8), np.int64))
    with pytest.raises(TypeError, match="path, a PIL image or a numpy array"):
        pred([[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="torch.Tensor"):
        pred(torch.zeros(3, 8, 8))
    with pytest.raises(FileNotFoundError):
        pred(tmp_path / "nope.jpg")
    with pytest.raises(ValueError, match="multiples of 32"):
        Predictor(ScriptedModel(), input_size=100)
    with pytest.raises(ValueError, match="class names"):
        Predictor(ScriptedModel(), ["cat"])
    with pytest.raises(ValueError, match="conf_threshold"):
        Predictor(ScriptedModel(), conf_threshold=2.0)
    assert load_image(np.zeros((4, 5), bool)).shape == (4, 5, 3)


def test_real_model_restores_mode_and_fuses():
    from attnlab.models import YoloV4Tiny, fuse_for_inference

    torch.manual_seed(0)
    model = YoloV4Tiny(num_classes=K, attention="eca").train()
    pred = Predictor(model, ["cat", "dog"], input_size=64, conf_threshold=0.2)
    res = pred(scene())
    assert model.training  # mode restored
    assert res.boxes.shape[1] == 4 and len(res) == len(res.scores) == len(res.labels)
    assert torch.all(res.boxes[:, [0, 2]] <= 200) and torch.all(res.boxes[:, [1, 3]] <= 100)
    fused = Predictor(fuse_for_inference(model), ["cat", "dog"], input_size=64, conf_threshold=0.2)(scene())
    torch.testing.assert_close(fused.scores, res.scores, atol=1e-4, rtol=1e-4)


def test_draw_detections():
    import matplotlib.pyplot as plt

    from attnlab.viz.detections import draw_detections

    pred = Predictor(ScriptedModel(), ["cat", "dog"], input_size=64)
    img = scene()
    res = pred(img)
    ax = draw_detections(img, res)
    assert len(ax.patches) == 2 and {t.get_text() for t in ax.texts} == {"dog 1.00", "cat 1.00"}
    ax2 = draw_detections(img, {"boxes": res.boxes, "scores": res.scores, "labels": res.labels}, class_names=["cat", "dog"], score_threshold=2.0)
    assert len(ax2.patches) == 0
    plt.close("all")


def test_objectness_heatmap_and_grad_cam_on_a_photo():
    import matplotlib.pyplot as plt
    from skimage import data

    from attnlab.models import YoloV4Tiny
    from attnlab.viz.cam import grad_cam, objectness_map, overlay

    photo = data.chelsea()  # 300 x 451
    heat = objectness_map(Predictor(ScriptedModel(), input_size=64), photo)
    assert heat.shape == photo.shape[:2] and heat.max() > 0.99 and heat.min() < 0.01
    # the scripted box (0, 0, 32, 32) of the letterbox lies in the top-left of the photo
    assert heat[:40, :60].mean() > heat[-40:, -60:].mean()

    torch.manual_seed(0)
    pred = Predictor(YoloV4Tiny(num_classes=K, attention="se"), ["cat", "dog"], input_size=64, conf_threshold=0.1)
    cam = grad_cam(pred, photo)
    assert cam.cam.shape == photo.shape[:2]
    assert 0.0 <= cam.cam.min() and cam.cam.max() <= 1.0 and cam.cam.max() > 0.5
    assert cam.class_name in ("cat", "dog") and cam.box.shape == (4,)
    cam2 = grad_cam(pred, photo, layer="backbone.resblock_body2", detection=1)
    assert cam2.cam.shape == photo.shape[:2]
    with pytest.raises(ValueError, match="no layer"):
        grad_cam(pred, photo, layer="backbone.nope")
    ax = overlay(photo, cam.cam, box=cam.box, title="Grad-CAM")
    assert len(ax.images) == 2
    plt.close("all")


def test_plain_resize_maps_boxes_back_with_two_scales():
    """letterbox=False (the reference predictor's default) stretches the image to the input; boxes
    come back through separate x and y scales."""
    from attnlab.detection.predictor import PlainResize, Predictor
    from attnlab.models import YoloV4Tiny

    pr = PlainResize(orig_w=600, orig_h=400, out_w=416, out_h=416)
    back = pr.invert_boxes(torch.tensor([[41.6, 104.0, 208.0, 416.0]]))
    assert torch.allclose(back, torch.tensor([[60.0, 100.0, 300.0, 400.0]]))
    model = YoloV4Tiny(3, input_size=64).eval()
    image = np.zeros((40, 100, 3), np.uint8)
    x, mapping, _ = Predictor(model, letterbox=False).preprocess(image)
    assert tuple(x.shape) == (1, 3, 64, 64) and isinstance(mapping, PlainResize)
    result = Predictor(model, conf_threshold=0.0, letterbox=False)(image)
    assert result.image_size == (40, 100)
    assert (result.boxes[:, [0, 2]] <= 100).all() and (result.boxes[:, [1, 3]] <= 40).all()
    with pytest.raises(TypeError, match="letterbox must be True or False"):
        Predictor(model, letterbox="no")
