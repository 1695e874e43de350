"""Every checker accepts a correct answer and rejects typical wrong ones with the right hint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnlab import exercises as ex


def verdict(result, *, passed, hint=None):
    assert bool(result) is passed, str(result)
    if hint is not None:
        assert hint in str(result), str(result)


# --- chapter 1 ---
def test_channel_gate():
    verdict(ex.check_channel_gate(lambda x, w: x * w[None, :, None, None]), passed=True)
    verdict(ex.check_channel_gate(lambda x, w: x * w.mean()), passed=False, hint="same factor")
    verdict(ex.check_channel_gate(lambda x, w: x * w[None, None, None, :4].mean()), passed=False)
    verdict(ex.check_channel_gate(lambda x, w: (x * w[None, :, None, None]).sum(1)), passed=False, hint="shape")


# --- chapter 2 ---
class GoodSE(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(),
                                nn.Linear(channels // reduction, channels, bias=False))

    def gate(self, z):
        return torch.sigmoid(self.fc(z))

    def forward(self, x):
        return x * self.gate(x.mean((2, 3)))[:, :, None, None]


class BiasSE(GoodSE):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(),
                                nn.Linear(channels // reduction, channels))


class SoftmaxSE(GoodSE):
    def gate(self, z):
        return torch.softmax(self.fc(z), dim=1)


class MaxPoolSE(GoodSE):
    def forward(self, x):
        return x * self.gate(x.amax((2, 3)))[:, :, None, None]


class GateOnlySE(GoodSE):
    def forward(self, x):
        return self.gate(x.mean((2, 3)))


class NoSigmoidSE(GoodSE):
    def gate(self, z):
        return self.fc(z)


class ConvSE(nn.Module):  # 1x1 convolutions are a correct alternative to Linear layers
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.down = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.up = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x):
        return x * torch.sigmoid(self.up(F.relu(self.down(x.mean((2, 3), keepdim=True)))))


class Unfinished(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        raise NotImplementedError


@pytest.mark.parametrize("answer", [GoodSE, ConvSE])
def test_se_accepts_correct_blocks(answer):
    verdict(ex.check_se_block(answer), passed=True)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (BiasSE, "no bias"),
        (SoftmaxSE, "softmax"),
        (MaxPoolSE, "average"),
        (GateOnlySE, "return x * gate"),
        (NoSigmoidSE, "outside (0, 1)"),
        (Unfinished, "NotImplementedError"),
    ],
)
def test_se_rejects_typical_mistakes(answer, hint):
    verdict(ex.check_se_block(answer), passed=False, hint=hint)


# --- chapter 3 ---
def test_spatial_descriptor():
    good = lambda x: torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)  # noqa: E731
    verdict(ex.check_spatial_descriptor(good), passed=True)
    swapped = lambda x: torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)  # noqa: E731
    verdict(ex.check_spatial_descriptor(swapped), passed=False, hint="swapped")
    over_space = lambda x: torch.stack([x.mean((2, 3)), x.amax((2, 3))], 1)  # noqa: E731
    verdict(ex.check_spatial_descriptor(over_space), passed=False, hint="over the channels")
    stacked = lambda x: torch.stack([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)  # noqa: E731
    verdict(ex.check_spatial_descriptor(stacked), passed=False, hint="keepdim")


# --- chapter 4 ---
def reference_k(c, gamma=2, b=1):
    t = int(abs((math.log2(c) + b) / gamma))
    return t if t % 2 else t + 1


def test_eca_kernel_size():
    verdict(ex.check_eca_kernel_size(reference_k), passed=True)
    verdict(ex.check_eca_kernel_size(lambda c: int(abs((math.log2(c) + 1) / 2))), passed=False, hint="odd")

    def nearest_odd(c):
        t = abs((math.log2(c) + 1) / 2)
        return max(1, 2 * math.ceil((t - 1) / 2 - 0.5) + 1)

    verdict(ex.check_eca_kernel_size(nearest_odd), passed=False, hint="nearest odd")
    verdict(ex.check_eca_kernel_size(lambda c: 3), passed=False, hint="expected 5")
    verdict(ex.check_eca_kernel_size(lambda c: float(reference_k(c)) + 0.5), passed=False, hint="int")


# --- chapter 5 ---
def simam(x, e_lambda, n_minus=1):
    n = x.shape[2] * x.shape[3] - n_minus
    d = (x - x.mean((2, 3), keepdim=True)).pow(2)
    return x * torch.sigmoid(d / (4 * (d.sum((2, 3), keepdim=True) / n + e_lambda)) + 0.5)


def test_simam():
    verdict(ex.check_simam(simam), passed=True)
    verdict(ex.check_simam(lambda x, lam: simam(x, lam, n_minus=0)), passed=False, hint="H*W - 1")
    verdict(ex.check_simam(lambda x, lam: x * torch.sigmoid(x)), passed=False, hint="inverse energy")


# --- chapter 6 ---
def iou(a, b, clamp=True, subtract=True):
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0) if clamp else rb - lt
    inter = wh.prod(2)
    areas = (a[:, 2:] - a[:, :2]).prod(1)[:, None] + (b[:, 2:] - b[:, :2]).prod(1)[None, :]
    return inter / (areas - inter if subtract else areas)


def test_box_iou():
    verdict(ex.check_box_iou(iou), passed=True)
    verdict(ex.check_box_iou(lambda a, b: iou(a, b, subtract=False)), passed=False, hint="subtract the overlap")
    verdict(ex.check_box_iou(lambda a, b: iou(a, b, clamp=False)), passed=False, hint="clamp")
    verdict(ex.check_box_iou(lambda a, b: iou(a, b).diagonal()), passed=False, hint="every box")


# --- chapter 7 ---
def test_slot_overhead():
    verdict(ex.check_slot_overhead(lambda cs, r: sum(2 * c * (c // r) for c in cs)), passed=True)
    verdict(ex.check_slot_overhead(lambda cs, r: sum(2 * c * (c // r) + c // r + c for c in cs)), passed=False, hint="biases")
    verdict(ex.check_slot_overhead(lambda cs, r: sum(c * (c // r) for c in cs)), passed=False, hint="two layers")


def average_precision(scores, is_tp, n_gt, *, interpolate=True, sort=True, eleven=False, denominator=None):
    """A learner's AP with switches for the typical slips."""
    order = torch.argsort(scores, descending=True) if sort else torch.arange(len(scores))
    tp = is_tp[order].double().cumsum(0)
    fp = (~is_tp[order]).double().cumsum(0)
    recall = tp / (denominator(is_tp) if denominator else n_gt)
    precision = tp / (tp + fp)
    if eleven:
        return sum(float(precision[recall >= t].max()) if (recall >= t).any() else 0.0
                   for t in torch.linspace(0, 1, 11).tolist()) / 11
    r = torch.cat([torch.zeros(1, dtype=torch.float64), recall])
    p = torch.cat([precision, torch.zeros(1, dtype=torch.float64)])
    if interpolate:
        p = torch.flip(torch.cummax(torch.flip(p, [0]), 0).values, [0])
    return float(((r[1:] - r[:-1]) * p[:-1]).sum())


def test_average_precision():
    verdict(ex.check_average_precision(average_precision), passed=True)
    verdict(ex.check_average_precision(lambda s, t, n: average_precision(s, t, n, interpolate=False)),
            passed=False, hint="interpolate first")
    verdict(ex.check_average_precision(lambda s, t, n: average_precision(s, t, n, eleven=True)),
            passed=False, hint="11-point")
    verdict(ex.check_average_precision(lambda s, t, n: average_precision(s, t, n, sort=False)),
            passed=False, hint="sort the detections")
    verdict(ex.check_average_precision(lambda s, t, n: average_precision(s, t, n, denominator=lambda t: max(int(t.sum()), 1))),
            passed=False, hint="number of objects")


def test_slot_overhead_matches_the_detector_difference():
    # SE's overhead at the three slots is exactly the published parameter difference (phi 1 - phi 0).
    answer = lambda cs, r: sum(2 * c * (c // r) for c in cs)  # noqa: E731
    assert answer([256, 512, 128], 16) == 5_961_014 - 5_918_006


# --- chapter 8 ---
def test_unletterbox():
    pads = lambda px, py: torch.tensor([px, py, px, py])  # noqa: E731
    verdict(ex.check_unletterbox(lambda b, s, px, py: (b - pads(px, py)) / s), passed=True)
    verdict(ex.check_unletterbox(lambda b, s, px, py: b / s - pads(px, py)), passed=False, hint="order")
    verdict(ex.check_unletterbox(lambda b, s, px, py: (b - pads(py, px)) / s), passed=False, hint="pad_x")
    # an answer that ignores pad_x passes a wide photo (pad_x = 0) but not the tall one
    verdict(ex.check_unletterbox(lambda b, s, px, py: (b - pads(0.0, py)) / s), passed=False, hint="tall photo")
    verdict(ex.check_unletterbox(lambda b, s, px, py: (b - pads(px, 0.0)) / s), passed=False, hint="wide photo")


def test_results_print_as_a_verdict_with_hints():
    result = ex.check_eca_kernel_size(lambda c: 4)
    text = str(result)
    assert text.startswith("❌ ECA kernel size: not yet.") and "hint:" in text
    assert str(ex.check_eca_kernel_size(reference_k)).startswith("✅")
