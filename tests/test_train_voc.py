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
