"""Tests for attnlab.experiments.classification."""

import math
from dataclasses import replace

import pytest
import torch

from attnlab import get_profile
from attnlab.experiments.classification import compare, evaluate, summarise, train_classifier
from attnlab.models.classifier import AttentionCNN


pytestmark = pytest.mark.usefixtures("one_thread")


def easy_problem(n, seed):
    """Class = which of the red or green channel is brighter: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > x[:, 1].mean((1, 2))).long()
    x[:, 0] += 0.3 * (2 * y[:, None, None] - 1)
    return x.clamp(0, 1), y


TRAIN, VAL = easy_problem(256, 0), easy_problem(128, 1)


def tiny_profile():
    p = get_profile("quick", device="cpu")
    return replace(p, seeds=(0, 1), classifier=replace(p.classifier, epochs=2, batch_size=64, width=4))


def run(seed=0):
    model = AttentionCNN(2, width=4, depth=2, seed=seed)
    return train_classifier(model, TRAIN, VAL, epochs=3, batch_size=32, seed=seed, device="cpu")


def test_deterministic_for_a_seed():
    a, b = run(0), run(0)
    assert a["val_acc"] == b["val_acc"]
    assert a["step_losses"] == b["step_losses"]


def test_learns_easy_problem():
    r = run(0)
    losses = r["step_losses"]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.1
    assert r["val_acc"] > 0.8
    assert [h["epoch"] for h in r["history"]] == [1, 2, 3]
    assert r["params"] == sum(p.numel() for p in AttentionCNN(2, width=4, depth=2).parameters())


def test_evaluate_restores_mode():
    model = AttentionCNN(2, width=4, depth=2, seed=0).train()
    out = evaluate(model, *VAL)
    assert model.training
    assert 0.0 <= out["acc"] <= 1.0 and out["loss"] > 0


@pytest.mark.parametrize("bad", [
    dict(train=(TRAIN[0], TRAIN[1][:10])),
    dict(train=(TRAIN[0][0], TRAIN[1])),
    dict(train=TRAIN[0]),
    dict(epochs=0),
    dict(batch_size=0),
    dict(lr=0.0),
])
def test_bad_input(bad):
    kwargs = dict(train=TRAIN, val=VAL, epochs=1, batch_size=32, seed=0)
    kwargs.update(bad)
    model = AttentionCNN(2, width=4, depth=2)
    with pytest.raises((ValueError, TypeError)):
        train_classifier(model, kwargs.pop("train"), kwargs.pop("val"), **kwargs)


def test_compare_and_summarise():
    variants = {"base": "none", "deeper": {"attention": "none", "depth": 3},
                "factory": lambda: AttentionCNN(2, width=4, depth=2)}
    rows = compare(variants, tiny_profile(), data=(TRAIN, VAL), keep_models=True)
    assert [(r["variant"], r["seed"]) for r in rows] == [
        (v, s) for v in ("base", "deeper", "factory") for s in (0, 1)]
    assert all(isinstance(r["model"], AttentionCNN) for r in rows)
    again = compare({"base": "none"}, tiny_profile(), seeds=[1], data=(TRAIN, VAL))
    assert again[0]["val_acc"] == rows[1]["val_acc"]
    summary = summarise(rows)
    assert [s["variant"] for s in summary] == ["base", "deeper", "factory"]
    s = summary[0]
    accs = [rows[0]["val_acc"], rows[1]["val_acc"]]
    assert s["n"] == 2 and math.isclose(s["mean"], sum(accs) / 2)
    assert math.isclose(s["std"], abs(accs[0] - accs[1]) / math.sqrt(2))
    assert s["min"] == min(accs) and s["max"] == max(accs)


def test_summarise_single_seed_and_errors():
    assert summarise([{"variant": "a", "val_acc": 0.5}])[0]["std"] == 0.0
    with pytest.raises(ValueError):
        summarise([])
    with pytest.raises(ValueError):
        compare({}, tiny_profile(), data=(TRAIN, VAL))
    with pytest.raises(TypeError):
        compare({"bad": 3.0}, tiny_profile(), data=(TRAIN, VAL))


def test_train_classifier_restores_the_thread_count_and_checks_it():
    import torch as _torch

    from attnlab.experiments.classification import train_classifier as _train

    before = _torch.get_num_threads()
    x = _torch.rand(8, 3, 8, 8)
    y = _torch.arange(8) % 2
    model = _torch.nn.Sequential(_torch.nn.Flatten(), _torch.nn.Linear(3 * 8 * 8, 2))
    _train(model, (x, y), (x, y), epochs=1, batch_size=4, threads=1)
    assert _torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be None or an integer >= 1, got 0"):
        _train(model, (x, y), (x, y), epochs=1, batch_size=4, threads=0)
