"""Issue #16, findings 4-6: bad input to the public functions is refused with an error that names
the argument, what was expected and what came; nothing wrong is returned silently."""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from attnlab.attention import build
from attnlab.data.voc import VOCDataError, parse_annotation
from attnlab.detection.boxes import batched_nms, clip_boxes, nms
from attnlab.metrics import DetectionMetrics, evaluate_detections
from attnlab.models import CheckpointError, YoloV4Tiny
from attnlab.models import load_checkpoint as load_weights
from attnlab.train.checkpoint import load_checkpoint, save_checkpoint

# ---------------------------------------------------------------------------------------------
# finding 4: checkpoint files that are not checkpoints
# ---------------------------------------------------------------------------------------------


class _RunsCode:
    def __reduce__(self):
        return (print, ("this ran",))


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {"random": bytes(range(256)) * 8, "empty": b"", "text": b"hello world\n"}
    out = {name: tmp_path / f"{name}.pt" for name in files}
    for name, data in files.items():
        out[name].write_bytes(data)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    out["list"] = tmp_path / "list.pt"
    torch.save({"x": _RunsCode()}, tmp_path / "code.pt")
    out["code"] = tmp_path / "code.pt"
    good = save_checkpoint({"model": {"w": torch.ones(2)}}, tmp_path / "good.pt")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out["truncated"] = tmp_path / "cut.pt"
    out["folder"] = tmp_path
    return out


@pytest.mark.parametrize("kind, message", [
    ("random", r"random.pt is not a torch checkpoint \(2048 bytes, neither a zip archive nor a pickle"),
    ("empty", r"empty.pt is empty \(0 bytes\)"),
    ("text", r"text.pt is not a torch checkpoint"),
    ("list", r"list.pt holds a list; expected a dict"),
    ("code", r"code.pt holds Python objects other than tensors.*refuses this one"),
    ("truncated", r"cut.pt is a damaged or truncated torch checkpoint"),
    ("folder", r"is a folder; expected a checkpoint file"),
])
def test_train_checkpoint_errors_say_what_is_wrong(tmp_path, kind, message, capsys):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "weights_only=False" not in str(info.value) and "weights_only` set to `False" not in str(info.value)
    assert "this ran" not in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")


def test_model_checkpoint_errors_say_what_is_wrong(tmp_path):
    files = _bad_files(tmp_path)
    for kind in ("random", "empty", "code", "truncated"):
        with pytest.raises(CheckpointError, match=f"load_checkpoint: {files[kind]}") as info:
            load_weights(YoloV4Tiny(2, input_size=64), files[kind])
        assert "weights_only` set to `False" not in str(info.value)
    with pytest.raises(CheckpointError, match="not a state dict: got a list"):
        load_weights(YoloV4Tiny(2, input_size=64), files["list"])


def test_evaluate_detections_names_a_missing_key():
    pred = {"boxes": [[0, 0, 1, 1]], "labels": [0]}
    target = {"boxes": [[0, 0, 1, 1]], "labels": [0]}
    with pytest.raises(ValueError, match=r"predictions\[0\] has no \['scores'\]"):
        evaluate_detections([pred], [target], 1)
    with pytest.raises(ValueError, match=r"targets\[0\] must be a dict"):
        evaluate_detections([{**pred, "scores": [0.5]}], [[0, 0, 1, 1]], 1)


def test_coord_attention_accepts_an_empty_batch_and_refuses_an_empty_map():
    """Batch 0 gives an empty output, as every block does; a map with no rows or columns has no
    strips to pool, so it is refused by name (it was a ZeroDivisionError)."""
    for training in (True, False):
        block = build("ca", 16).train(training)
        x = torch.rand((0, 16, 5, 5), requires_grad=True)
        y = block(x)
        y.sum().backward()
        assert y.shape == (0, 16, 5, 5) and x.grad.shape == (0, 16, 5, 5)
        for shape in [(2, 16, 0, 0), (2, 16, 0, 4), (0, 16, 0, 0)]:
            with pytest.raises(ValueError, match=r"height and width .* must be >= 1"):
                block(torch.rand(shape))


def test_a_folder_given_as_image_is_named():
    from attnlab.detection.predictor import load_image

    with pytest.raises(IsADirectoryError, match="is a folder; expected an image file"):
        load_image(Path(__file__).parent)


# ---------------------------------------------------------------------------------------------
# finding 5: silent wrong results
# ---------------------------------------------------------------------------------------------


def test_nms_refuses_nan_scores_instead_of_ranking_them_first():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1.0, 1, 10, 10]])
    with pytest.raises(ValueError, match=r"nms: scores must not be NaN, got 1 NaN score\(s\) of 2"):
        nms(boxes, torch.tensor([math.nan, 0.9]), 0.5)


@pytest.mark.parametrize("thr", [-1, math.nan, 5, 1.0001, "0.5", None, True])
def test_nms_threshold_must_be_in_unit_interval(thr):
    with pytest.raises(ValueError, match=r"nms: iou_threshold must be a number in \[0, 1\], got"):
        nms(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([0.5]), thr)


def test_nms_refuses_bad_boxes_and_groups():
    s = torch.tensor([0.5, 0.4])
    with pytest.raises(ValueError, match=r"nms: boxes must be finite, got 1 box"):
        nms(torch.tensor([[0.0, 0, 1, 1], [0, 0, math.inf, 1]]), s, 0.5)
    with pytest.raises(ValueError, match=r"nms: boxes must be xyxy with x1 <= x2 and y1 <= y2, got 1 inverted"):
        nms(torch.tensor([[0.0, 0, 1, 1], [5, 0, 1, 1]]), s, 0.5)
    with pytest.raises(ValueError, match=r"nms: idxs must be integers"):
        batched_nms(torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1]]), s, torch.tensor([0.0, 1.0]), 0.5)


def _metrics_with_scores(scores):
    m = DetectionMetrics(1)
    m.update([[0, 0, 10, 10]] * len(scores), scores, [0] * len(scores), [[0, 0, 10, 10]], [0])
    return m.compute()


def test_metrics_refuse_nan_scores_instead_of_giving_map_1():
    with pytest.raises(ValueError, match=r"update: pred_scores must be finite, got 2 entries with NaN or inf"):
        _metrics_with_scores([math.nan, math.nan])
    with pytest.raises(ValueError, match=r"pred_scores must be finite, got 1 entry"):
        _metrics_with_scores([0.9, math.nan])


@pytest.mark.parametrize("arg, value, message", [
    ("pred_boxes", [[0, 0, math.nan, 1]], r"pred_boxes must be finite"),
    ("pred_boxes", [[5, 0, 1, 1]], r"pred_boxes must be xyxy with x1 <= x2 and y1 <= y2, got 1 inverted"),
    ("gt_boxes", [[0, 5, 1, 1]], r"gt_boxes must be xyxy"),
    ("pred_labels", [0.7], r"pred_labels must be whole numbers \(class indices\), got 0.7"),
    ("gt_labels", [1.5], r"gt_labels must be whole numbers"),
    ("gt_difficult", [2], r"gt_difficult must be booleans or 0/1, got 2"),
    ("pred_scores", ["high"], r"pred_scores must be numbers"),
])
def test_metrics_update_refuses_wrong_values(arg, value, message):
    args = dict(pred_boxes=[[0, 0, 1, 1]], pred_scores=[0.5], pred_labels=[0], gt_boxes=[[0, 0, 1, 1]],
                gt_labels=[0], gt_difficult=[0])
    args[arg] = value
    with pytest.raises(ValueError, match=message):
        DetectionMetrics(2).update(**args)


@pytest.mark.parametrize("kw, message", [
    (dict(voc_iou=1.5), r"voc_iou must be a number in \[0, 1\), got 1.5"),
    (dict(voc_iou=math.nan), r"voc_iou must be a number in \[0, 1\), got nan"),
    (dict(voc_pixel_offset=0.5), r"voc_pixel_offset must be 0 or 1, got 0.5"),
    (dict(num_classes=2.5), r"num_classes must be an int >= 1, got 2.5"),
])
def test_metrics_settings_are_checked(kw, message):
    kw = {"num_classes": 2, **kw}
    with pytest.raises(ValueError, match=message):
        DetectionMetrics(**kw)


@pytest.mark.parametrize("size", [(-1, 5), (5, -1), (math.nan, 5), (5,), "ab"])
def test_clip_boxes_refuses_a_bad_size(size):
    with pytest.raises(ValueError, match=r"clip_boxes: size must be \(height, width\)"):
        clip_boxes(torch.tensor([[0.0, 0, 3, 3]]), size)


@pytest.mark.parametrize("kw, message", [
    (dict(max_detections=-1), r"max_detections must be an int >= 1, got -1"),
    (dict(max_detections=0), r"max_detections must be an int >= 1, got 0"),
    (dict(conf_threshold=math.nan), r"conf_threshold must be a number in \[0, 1\], got nan"),
    (dict(nms_iou=2), r"nms_iou must be a number in \[0, 1\], got 2"),
])
def test_predictor_settings_are_checked(kw, message):
    from attnlab.detection.predictor import Predictor

    with pytest.raises(ValueError, match=message):
        Predictor(YoloV4Tiny(2, input_size=64), **kw)


def _xml(tmp_path: Path, obj: str, size: str = "<size><width>100</width><height>80</height></size>") -> Path:
    path = tmp_path / "a.xml"
    path.write_text(f"<annotation><filename>a.jpg</filename>{size}<object>{obj}</object></annotation>")
    return path


def _obj(difficult: str = "0", xmax: str = "50") -> str:
    return (f"<name>cat</name><difficult>{difficult}</difficult>"
            f"<bndbox><xmin>10</xmin><ymin>10</ymin><xmax>{xmax}</xmax><ymax>40</ymax></bndbox>")


def test_voc_difficult_words_are_read_or_refused(tmp_path):
    assert parse_annotation(_xml(tmp_path, _obj("yes")), ["cat"]).difficult.tolist() == [True]
    assert parse_annotation(_xml(tmp_path, _obj("True")), ["cat"]).difficult.tolist() == [True]
    assert parse_annotation(_xml(tmp_path, _obj("no")), ["cat"]).difficult.tolist() == [False]
    with pytest.raises(VOCDataError, match=r"object 0 \('cat'\): <difficult> must be 0 or 1, got 'maybe'"):
        parse_annotation(_xml(tmp_path, _obj("maybe")), ["cat"])


def test_voc_infinite_coordinate_refused_without_size(tmp_path):
    with pytest.raises(VOCDataError, match=r"object 0 \('cat'\): non-finite <bndbox> coordinate"):
        parse_annotation(_xml(tmp_path, _obj(xmax="inf"), size=""), ["cat"])


@pytest.mark.parametrize("size", ["<size><width>-100</width><height>80</height></size>",
                                  "<size><width>inf</width><height>80</height></size>",
                                  "<size><width>nan</width><height>80</height></size>"])
def test_voc_negative_or_infinite_size_refused(tmp_path, size):
    with pytest.raises(VOCDataError, match=r"malformed <size>"):
        parse_annotation(_xml(tmp_path, _obj(xmax="500"), size=size), ["cat"])


# ---------------------------------------------------------------------------------------------
# finding 6: an interrupted extraction does not look complete
# ---------------------------------------------------------------------------------------------


def _tar(split: str) -> bytes:
    buf = io.BytesIO()
    base = "VOCdevkit/VOC2007/"
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in ((f"ImageSets/Main/{split}.txt", b"000001\n"), ("JPEGImages/000001.jpg", b"x" * 3000)):
            info = tarfile.TarInfo(base + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_interrupted_extraction_is_redone(tmp_path, monkeypatch):
    from attnlab.data import download as dl

    blob = _tar("test")
    src = tmp_path / "src" / "test.tar"
    src.parent.mkdir()
    src.write_bytes(blob)
    archives = {"test": dl.Archive("test.tar", (src.as_uri(),), hashlib.md5(blob).hexdigest())}
    real_extract = dl.safe_extract

    def killed_after_first_member(path, target):
        with tarfile.open(path) as tar:
            first = tar.getmembers()[0]
            tar.extractall(target, members=[first], filter="data")
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(dl, "safe_extract", killed_after_first_member)
    with pytest.raises(KeyboardInterrupt):
        dl.download_voc2007(tmp_path / "data", ["test"], archives=archives, progress=False)
    voc = tmp_path / "data" / "VOCdevkit" / "VOC2007"
    assert (voc / "ImageSets/Main/test.txt").exists() and not (voc / "JPEGImages/000001.jpg").exists()
    monkeypatch.setattr(dl, "safe_extract", real_extract)
    dl.download_voc2007(tmp_path / "data", ["test"], archives=archives, progress=False)
    assert (voc / "JPEGImages/000001.jpg").stat().st_size == 3000
    assert dl.completion_marker(voc, "test").exists()
