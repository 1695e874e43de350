"""attnlab.train.recipes: recipe selection, determinism for a seed on the CPU, evaluation."""

from __future__ import annotations

import math

import pytest
import torch

from attnlab.train.recipes import RECIPES, DetectorRecipe, detector_recipe, evaluate_detector, train_detector

TINY = dict(image_size=64, n_train=16, n_val=8, n_test=8, epochs=1, batch_size=8)


def test_recipe_per_profile_and_overrides():
    assert detector_recipe("quick") == RECIPES["quick"]
    assert detector_recipe("full").image_size == RECIPES["full"].image_size
    r = detector_recipe("quick", epochs=3, anchors_mask=[[3, 4, 5], [1, 2, 3]])
    assert r.epochs == 3 and r.anchors_mask == ((3, 4, 5), (1, 2, 3))
    with pytest.raises(TypeError, match="unknown"):
        detector_recipe("quick", epoch=3)


def test_quick_recipe_fits_the_model():
    r = RECIPES["quick"]
    assert r.image_size % 32 == 0 and r.n_train >= r.batch_size


_CACHE: dict[int, object] = {}


def _train(seed, cached=True):
    torch.set_num_threads(2)
    if cached and seed in _CACHE:
        return _CACHE[seed]
    result = train_detector("eca", profile="quick", seed=seed, device="cpu", progress=False, **TINY)
    _CACHE.setdefault(seed, result)
    return result


def test_deterministic_for_a_seed():
    a, b = _train(0), _train(0, cached=False)
    assert a.history[0]["train_loss"] == b.history[0]["train_loss"]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.metrics["map50"] == b.metrics["map50"] or (math.isnan(a.metrics["map50"]) and math.isnan(b.metrics["map50"]))
    c = _train(1)
    assert c.history[0]["train_loss"] != a.history[0]["train_loss"]
    # the data and the anchors do not depend on the training seed
    assert torch.equal(a.model.anchors, c.model.anchors)


def test_result_and_evaluation():
    r = _train(0)
    assert r.attention == "eca" and r.seconds > 0 and r.cpu_seconds > 0
    assert r.model.input_size == (64, 64) and r.model.anchors_mask == RECIPES["quick"].anchors_mask
    h = r.history[-1]
    assert {"train_loss", "train_box", "train_obj", "train_cls", "val_map50", "val_map50_voc11", "val_map"} <= set(h)
    m = evaluate_detector(r.model, r.val_set)
    assert m["map50"] == pytest.approx(r.val_metrics["map50"], nan_ok=True)
    assert h["val_map50"] == pytest.approx(r.val_metrics["map50"], nan_ok=True)
    # the reported metrics are the final model on the held-out test split
    assert r.test_set.split == "test" and len(r.test_set) == r.recipe.n_test
    t = evaluate_detector(r.model, r.test_set)
    assert t["map50"] == pytest.approx(r.metrics["map50"], nan_ok=True)
    assert 0.0 <= m["map50"] <= 1.0 and len(m["per_class"]) == 6
    summary = r.summary()
    assert summary["recipe"]["image_size"] == 64 and summary["model"]["attention"] == "eca"
    # the training mode the trainer chose for this run (its steps, image and batch size) is kept
    from attnlab.train.speed import choose_mode

    steps = r.recipe.epochs * (r.recipe.n_train // r.recipe.batch_size)  # full batches only
    want = choose_mode("cpu", steps=steps, size=64, batch=r.recipe.batch_size)
    assert (r.mode, r.mode_reason, summary["mode"]) == (want.mode, want.reason, want.mode)


@pytest.mark.parametrize("override, message", [({"n_train": 0}, "n_train must be an int >= 1, got 0"),
                                                ({"epochs": -1}, "epochs must be an int >= 1"),
                                                ({"n_test": 2.5}, "n_test must be an int >= 1"),
                                                ({"image_size": 100}, "image_size must be a positive multiple of 32, got 100")])
def test_bad_sizes_are_refused_by_name(override, message):
    with pytest.raises(ValueError, match=message):
        detector_recipe("quick", **override)
