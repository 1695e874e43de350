"""Figures of the YOLOv4-tiny chapters (attnlab.viz.yolo): they draw what the model computes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from attnlab.data import letterbox  # noqa: E402
from attnlab.detection import nms  # noqa: E402
from attnlab.models import YoloV4Tiny  # noqa: E402
from attnlab.viz import yolo as vy  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax) -> str:
    return " ".join(t.get_text() for t in ax.texts)


def test_record_shapes_matches_the_model_outputs():
    model = YoloV4Tiny(num_classes=20, attention="se")
    shapes = vy.record_shapes(model, 128)
    out0, out1 = model.output_shapes(128)
    assert shapes["yolo_headP5"] == [out0] and shapes["yolo_headP4"] == [out1]
    assert shapes["feat1_att"] == [(1, 256, 8, 8)] and shapes["feat2_att"] == [(1, 512, 4, 4)]
    assert model.training, "record_shapes restores the training mode"


@pytest.mark.parametrize("classes, size", [(20, 416), (6, 160)])
def test_architecture_diagram_labels_the_recorded_shapes(classes, size):
    model = YoloV4Tiny(num_classes=classes, attention="cbam")
    ax = vy.draw_yolov4_tiny(model, size, highlight_backbone=True)
    text = _texts(ax)
    c = 3 * (5 + classes)
    assert f"{c}x{size // 32}x{size // 32}" in text and f"{c}x{size // 16}x{size // 16}" in text
    assert "CBAM" in text and "384 channels" in text


def test_csp_and_head_layout_diagrams_count_channels():
    ax = vy.draw_csp_block(64, 64, 104)
    text = _texts(ax)
    assert "128x52x52" in text and "keep ch 32..63" in text
    ax = vy.draw_head_layout(num_classes=20, num_anchors=3, grid=13)
    assert "= 75 channels per cell" in _texts(ax)
    assert "anchor 2 (25)" in _texts(ax)


def test_image_figures_draw_on_given_axes():
    image = (np.random.default_rng(0).random((96, 160, 3)) * 255).astype(np.uint8)
    boxed, lb = letterbox(image, 128)
    _, axes = plt.subplots(1, 2)
    out = vy.draw_letterbox(image, boxed, lb, np.array([[10.0, 10.0, 50.0, 40.0]]), axes=axes)
    assert out is axes
    ax = vy.draw_grid(boxed, 32, cell=(1, 2), anchors=[[20, 30], [40, 40]])
    assert len(ax.patches) == 3  # the cell and two anchors
    boxes = torch.tensor([[0.0, 0, 20, 20], [1, 1, 21, 21], [50, 50, 70, 70]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    axes = vy.draw_nms(boxed, boxes, scores, nms(boxes, scores, 0.5), threshold=0.5)
    assert "2 kept" in axes[1].get_title()


def test_decoding_draws_the_decoded_box():
    ax = vy.draw_decoding((2, 3), 32, (40.0, 60.0), (0.0, 0.0, 0.0, np.log(2.0)))
    labels = [p.get_label() for p in ax.patches]
    assert "box 40 x 120" in labels and "anchor 40 x 60" in labels


def test_history_and_reference_comparison():
    history = [{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0, "val_map50": 0.1}]
    ax = vy.plot_history(history, ["train_loss", "val_map50"])
    assert len(ax.lines) == 2
    with pytest.raises(ValueError):
        vy.plot_history([])
    mine = {"none": [1.0, 2.0], "se": [1.5]}
    ax = vy.plot_reference_comparison(mine, None, order=["none", "se"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["none", "se"]
    ax = vy.plot_reference_comparison(mine, {"none": [3.0], "se": [3.5, 3.6]})
    assert ax.get_legend() is not None
