"""The command line with a bare state_dict, as the reference project publishes its weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from attnlab.__main__ import main as attnlab_main
from attnlab.models import YoloV4Tiny


@pytest.fixture(scope="module")
def reference_pth(tmp_path_factory):
    """A reference-layout VOC checkpoint with SE (phi 1): a plain state_dict, nothing else."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ref") / "yolov4_tiny_weights_voc_SE.pth"
    torch.save(YoloV4Tiny(20, attention="se").state_dict(), path)
    return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(path)
    return path


def test_predict_with_phi_and_voc_classes(reference_pth, photo, tmp_path, capsys):
    code = attnlab_main(["predict", "--checkpoint", str(reference_pth), "--phi", "1", "--classes", "voc",
                         "--input-size", "96", "--conf", "0.0", "--out", str(tmp_path), str(photo)])
    assert code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "photo.json").read_text())
    assert record["trained"] is True and record["image_size"] == [120, 160]
    assert record["detections"] and all(d["name"] in ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
                                   "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
                                   "sheep", "sofa", "train", "tvmonitor") for d in record["detections"])


def test_a_bare_state_dict_without_its_description_is_one_clear_line(reference_pth, photo, tmp_path, capsys):
    code = attnlab_main(["predict", "--checkpoint", str(reference_pth), "--out", str(tmp_path), str(photo)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "bare state_dict" in err and "--phi" in err and "--classes voc|coco|FILE" in err


@pytest.mark.parametrize("flags, message", [
    (["--phi", "2", "--classes", "voc"], "attention keys differ|Attention keys differ|cbam|missing"),   # wrong attention
    (["--phi", "1", "--num-classes", "6"], "prediction layers|shape"),                                  # wrong classes
    (["--phi", "1", "--attention", "cbam", "--classes", "voc"], "contradicts"),
    (["--phi", "1", "--classes", "voc", "--num-classes", "80"], "contradicts"),
    (["--phi", "1", "--classes", "nowhere.txt"], "expected voc, coco or a text file"),
])
def test_a_wrong_description_is_refused(reference_pth, photo, tmp_path, capsys, flags, message):
    import re

    code = attnlab_main(["predict", "--checkpoint", str(reference_pth), *flags, "--out", str(tmp_path), str(photo)])
    err = capsys.readouterr().err
    assert code == 2 and re.search(message, err), err


def test_classes_from_a_file_and_export(reference_pth, tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"thing{i}" for i in range(20)) + "\n")
    out = tmp_path / "model.onnx"
    code = attnlab_main(["export", "--checkpoint", str(reference_pth), "--attention", "se", "--classes", str(names),
                         "--input-size", "64", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    config = json.loads(out.with_suffix(".json").read_text())["model"]
    assert config["class_names"][:2] == ["thing0", "thing1"] and config["attention"] == "se"


def test_eval_of_a_voc_model_needs_a_voc_folder(reference_pth, tmp_path, capsys):
    code = attnlab_main(["eval", "--checkpoint", str(reference_pth), "--phi", "1", "--classes", "voc"])
    err = capsys.readouterr().err
    assert code == 2 and "--voc ROOT" in err
