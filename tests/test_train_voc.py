"""train_on_voc (Chapter 8's Colab recipe) on a tiny VOC tree the test writes."""

from __future__ import annotations

import numpy as np
import pytest

from attnlab.data import VOCDataError, write_voc
from attnlab.train.voc import train_on_voc

NAMES = ("cat", "unicorn")


def tiny_voc(root, n_train=6, n_test=2):
    rng = np.random.default_rng(0)

    def samples(n):
        out = []
        for _ in range(n):
            img = rng.integers(0, 255, (48, 72, 3), dtype=np.uint8)
            x, y = rng.integers(2, 30), rng.integers(2, 20)
            out.append((img, np.array([[x, y, x + 24, y + 20, rng.integers(0, 2)]], np.float32)))
        return out

    write_voc(root, samples(n_train), NAMES, split="train")
    write_voc(root, samples(n_test), NAMES, split="test", ids=[f"test_{k:06d}" for k in range(n_test)])
    return root


def train(root, out, epochs):
    return train_on_voc(root, "se", epochs=epochs, batch_size=2, image_size=64, out=out, classes=NAMES,
                        train_split="train", test_split="test", device="cpu", num_workers=0, progress=False)


def test_trains_checkpoints_evaluates_and_resumes(tmp_path, one_thread):
    root = tiny_voc(tmp_path / "VOC")
    first = train(root, tmp_path / "run", epochs=2)
    assert [h["epoch"] for h in first.history] == [1, 2]
    assert all(0.0 <= h["val_map50"] <= 1.0 for h in first.history)
    assert (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "best.pt").exists()
    assert first.model.num_classes == 2 and not first.model.training
    assert len(first.test_set) == 2
    # a second call with the same folder continues where the first stopped
    with pytest.warns(UserWarning, match="epochs"):  # the trainer says the schedule changed
        more = train(root, tmp_path / "run", epochs=3)
    assert [h["epoch"] for h in more.history] == [1, 2, 3]
    assert more.history[:2] == first.history


def test_bad_arguments_and_a_missing_split_are_refused(tmp_path):
    root = tiny_voc(tmp_path / "VOC", n_train=1, n_test=1)
    with pytest.raises(ValueError, match="image_size must be a positive multiple of 32, got 100"):
        train_on_voc(root, image_size=100, classes=NAMES)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        train_on_voc(root, epochs=0, classes=NAMES)
    with pytest.raises(VOCDataError, match="trainval"):
        train_on_voc(root, classes=NAMES, out=tmp_path / "x")


def _mark_difficult(root, image_id):
    xml = root / "Annotations" / f"{image_id}.xml"
    xml.write_text(xml.read_text().replace("<difficult>0</difficult>", "<difficult>1</difficult>"))


def test_voc_evaluation_ignores_difficult_objects(tmp_path):
    from attnlab.data import VOCDetection
    from attnlab.train.voc import evaluate_voc

    root = tiny_voc(tmp_path / "VOC", n_train=1, n_test=2)
    for i in range(2):   # one class for both objects, so the two images share one AP
        xml = root / "Annotations" / f"test_{i:06d}.xml"
        xml.write_text(xml.read_text().replace("<name>unicorn</name>", "<name>cat</name>"))
    dataset = VOCDetection(root, "test", NAMES)
    first_box = dataset.annotations[0].boxes

    def finds_the_first_object_only(image):
        if image.shape == dataset.raw(0)[0].shape and np.array_equal(image, dataset.raw(0)[0]):
            return first_box[:, :4], np.array([0.9], np.float32), first_box[:, 4].astype(np.int64)
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)

    missed = evaluate_voc(None, dataset, predict=finds_the_first_object_only)
    assert missed["map50"] == pytest.approx(0.5)            # one of two objects found
    _mark_difficult(root, "test_000001")
    ignored = evaluate_voc(None, VOCDetection(root, "test", NAMES), predict=finds_the_first_object_only)
    assert ignored["map50"] == pytest.approx(1.0)           # the missed one is difficult: not counted


def test_fine_tuning_keeps_heads_of_the_same_class_count_and_renews_others(tmp_path, one_thread):
    import torch

    from attnlab.models import YoloV4Tiny

    root = tiny_voc(tmp_path / "VOC", n_train=2, n_test=1)
    same, other = tmp_path / "same.pth", tmp_path / "other.pth"
    torch.save(YoloV4Tiny(2, attention="se").state_dict(), same)
    torch.save(YoloV4Tiny(20, attention="se").state_dict(), other)
    kw = dict(epochs=1, batch_size=2, image_size=64, classes=NAMES, train_split="train", test_split="test",
              device="cpu", num_workers=0, progress=False)
    kept = train_on_voc(root, "se", pretrained=same, out=tmp_path / "a", **kw).load_report
    assert kept.ok and not kept.reinitialized and any(k.startswith("yolo_headP5.1.") for k in kept.loaded)
    renewed = train_on_voc(root, "se", pretrained=other, out=tmp_path / "b", **kw).load_report
    assert renewed.reinitialized and not any(k.startswith("yolo_headP5.1.") for k in renewed.loaded)
