"""The checkers behind :mod:`attnlab.exercises` (see there for the list).

Every checker follows the same recipe: call the answer on inputs made from a fixed seed, catch
what goes wrong, compare with the reference, and turn the first difference into a hint. Checkers
never raise for a wrong answer; they return a failed :class:`CheckResult` that says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attnlab.attention import SimAM, SqueezeExcite, eca_kernel_size


@dataclass
class CheckResult:
    """The verdict of a checker: ``passed`` and the hints that explain a failure."""

    exercise: str
    passed: bool
    hints: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"✅ {self.exercise}: correct." + "".join(f"\n   note: {h}" for h in self.hints)
        return f"❌ {self.exercise}: not yet.\n" + "\n".join(f"   hint: {h}" for h in self.hints)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython display without quotes
        printer.text(str(self))


def _fail(exercise: str, *hints: str) -> CheckResult:
    return CheckResult(exercise, False, list(hints))


def _call(exercise: str, fn: Callable, *args) -> tuple[object, CheckResult | None]:
    """Run the answer; a NotImplementedError or any exception becomes a hint, not a crash."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, _fail(exercise, "your answer raises NotImplementedError: replace the `raise` with your code.")
    except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
        return None, _fail(exercise, f"your answer raised {type(error).__name__}: {error}")


def _shape_hint(got: torch.Tensor, expected: tuple[int, ...], what: str) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"{what} should be a torch.Tensor, got {type(got).__name__}."
    if tuple(got.shape) != tuple(expected):
        return f"{what} has shape {tuple(got.shape)}, expected {tuple(expected)}."
    return None


def _inputs(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


# --- chapter 1 ----------------------------------------------------------------------------------
def check_channel_gate(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Chapter 1: ``fn(x, weights)`` multiplies each channel ``c`` of ``x (B, C, H, W)`` by ``weights[c]``."""
    name = "channel gate"
    x = _inputs(1, (2, 4, 3, 5))
    w = torch.tensor([0.1, 0.9, 0.5, 0.25])
    y, err = _call(name, fn, x.clone(), w.clone())
    if err is not None:
        return err
    if hint := _shape_hint(y, tuple(x.shape), "the output"):
        return _fail(name, hint, "multiplying by weights[None, :, None, None] keeps the input's shape.")
    expected = x * w[None, :, None, None]
    if torch.allclose(y, expected, atol=1e-6):
        return CheckResult(name, True)
    if torch.allclose(y, x * w.sum(), atol=1e-6) or torch.allclose(y, x * w.mean(), atol=1e-6):
        return _fail(name, "every channel got the same factor: index the weights by channel.")
    return _fail(name, "the output differs from x * w[c] per channel: channels are dimension 1 of (B, C, H, W).")


# --- chapter 2 ----------------------------------------------------------------------------------
def _implied_gate(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y / x


def check_se_block(block_class: type[nn.Module], channels: int = 64, reduction: int = 16) -> CheckResult:
    """Chapter 2: an SE block class ``block_class(channels, reduction)`` equal to the reference.

    Checks, in order: it builds; it returns the input's shape; it has ``2*C*floor(C/r)``
    parameters (two bias-free layers); with the same weights it gives the reference's output.
    """
    name = "Squeeze-and-Excitation block"
    block, err = _call(name, block_class, channels, reduction)
    if err is not None:
        return err
    if not isinstance(block, nn.Module):
        return _fail(name, f"calling your class should build an nn.Module, got {type(block).__name__}.")
    x = _inputs(2, (2, channels, 6, 7)).abs() + 0.1  # positive, so y / x recovers the gate
    with torch.no_grad():
        y, err = _call(name, block, x)
    if err is not None:
        return err
    if hint := _shape_hint(y, tuple(x.shape), "the output"):
        if isinstance(y, torch.Tensor) and tuple(y.shape) in {(2, channels), (2, channels, 1, 1)}:
            hint += " It looks like the gate itself: return x * gate (the 'scale' step)."
        return _fail(name, hint)
    hidden = channels // reduction
    expected_params = 2 * channels * hidden
    got_params = sum(p.numel() for p in block.parameters())
    if got_params != expected_params:
        if got_params == expected_params + hidden + channels:
            return _fail(name, f"{got_params} parameters, expected {expected_params}: the reference SE layers have no bias (bias=False).")
        return _fail(name, f"{got_params} parameters, expected 2*C*floor(C/r) = {expected_params} for C={channels}, r={reduction}.")
    # same weights into the reference, by shape: (hidden, C) first, then (C, hidden)
    weights = [p.detach().reshape(p.shape[0], -1) for p in block.parameters()]
    reference = SqueezeExcite(channels, reduction)
    try:
        first = next(w for w in weights if tuple(w.shape) == (hidden, channels))
        second = next(w for w in weights if tuple(w.shape) == (channels, hidden))
    except StopIteration:
        return _fail(name, f"expected one ({hidden}, {channels}) and one ({channels}, {hidden}) weight; got {[tuple(w.shape) for w in weights]}.")
    with torch.no_grad():
        reference.fc[0].weight.copy_(first)
        reference.fc[2].weight.copy_(second)
        expected = reference(x)
    if torch.allclose(y, expected, atol=1e-5, rtol=1e-4):
        return CheckResult(name, True)
    gate = _implied_gate(x, y)
    if gate.flatten(2).std(dim=2).max() > 1e-4:
        return _fail(name, "your gate changes from position to position: squeeze each channel to one number with a global average over H and W.")
    g = gate[:, :, 0, 0]
    if torch.allclose(g.sum(dim=1), torch.ones(2), atol=1e-4):
        return _fail(name, "your channel weights sum to 1: that is a softmax. SE gates each channel independently with a sigmoid.")
    if (g <= 0).any() or (g >= 1).any():
        return _fail(name, "some channel weights are outside (0, 1): apply a sigmoid to the excitation's output.")
    with torch.no_grad():
        z = x.amax(dim=(2, 3))
        max_pooled = x * torch.sigmoid(F.linear(F.relu(F.linear(z, first)), second))[:, :, None, None]
    if torch.allclose(y, max_pooled, atol=1e-5, rtol=1e-4):
        return _fail(name, "you squeeze with a max; SE squeezes with the average (CBAM uses both).")
    return _fail(name, "same shape and parameter count, but the output differs from the reference: check the order Linear -> ReLU -> Linear -> sigmoid.")


# --- chapter 3 ----------------------------------------------------------------------------------
def check_spatial_descriptor(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Chapter 3: ``fn(x)`` returns CBAM's spatial descriptor ``(B, 2, H, W)``: channel mean, then channel max."""
    name = "CBAM spatial descriptor"
    x = _inputs(3, (2, 8, 5, 6))
    y, err = _call(name, fn, x.clone())
    if err is not None:
        return err
    expected = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
    if hint := _shape_hint(y, tuple(expected.shape), "the descriptor"):
        if isinstance(y, torch.Tensor) and tuple(y.shape) == (2, 2, 8):
            hint += " You pooled over H and W; spatial attention pools over the channels (dim=1)."
        elif isinstance(y, torch.Tensor) and tuple(y.shape) == (2, 2, 1, 5, 6):
            hint += " Use keepdim=True and torch.cat along dim 1 (or torch.stack without keepdim)."
        return _fail(name, hint)
    if torch.allclose(y, expected, atol=1e-6):
        return CheckResult(name, True)
    if torch.allclose(y, expected.flip(1), atol=1e-6):
        return _fail(name, "mean and max are swapped: the reference stacks the mean first, then the max (the conv weights depend on the order).")
    return _fail(name, "the values differ from [mean over channels, max over channels].")


# --- chapter 4 ----------------------------------------------------------------------------------
def check_eca_kernel_size(fn: Callable[[int], int], gamma: float = 2, b: float = 1) -> CheckResult:
    """Chapter 4: ``fn(C)`` returns ECA's kernel size as the reference code computes it."""
    name = "ECA kernel size"
    channels = [16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048]
    got = {}
    for c in channels:
        k, err = _call(name, fn, c)
        if err is not None:
            return err
        got[c] = k
    expected = {c: eca_kernel_size(c, gamma, b) for c in channels}
    if got == expected:
        return CheckResult(name, True)
    even = [c for c, k in got.items() if isinstance(k, int) and k % 2 == 0]
    if even:
        return _fail(name, f"k must be odd so the 1-D conv has a centre; you return even k for C={even[:3]}.")
    if not all(isinstance(k, int) for k in got.values()):
        return _fail(name, "return a Python int (the kernel size), e.g. with int(...).")
    paper = {c: eca_kernel_size(c, gamma, b, rule="paper") for c in channels}
    if got == paper:
        return _fail(name, "that is the paper's 'nearest odd' rule; the reference code truncates with int() and adds 1 when even (they differ at C=128).")
    wrong = next(c for c in channels if got[c] != expected[c])
    return _fail(name, f"for C={wrong} you return {got[wrong]}, expected {expected[wrong]}: t = int(abs((log2(C) + b) / gamma)), then t + 1 if t is even.")


# --- chapter 5 ----------------------------------------------------------------------------------
def check_simam(fn: Callable[[torch.Tensor, float], torch.Tensor], e_lambda: float = 1e-4) -> CheckResult:
    """Chapter 5: ``fn(x, e_lambda)`` applies SimAM: ``x * sigmoid(1 / e_t)`` with the paper's energy."""
    name = "SimAM"
    x = _inputs(5, (2, 3, 4, 5))
    y, err = _call(name, fn, x.clone(), e_lambda)
    if err is not None:
        return err
    if hint := _shape_hint(y, tuple(x.shape), "the output"):
        return _fail(name, hint)
    expected = SimAM(e_lambda=e_lambda)(x)
    if torch.allclose(y, expected, atol=1e-5, rtol=1e-4):
        return CheckResult(name, True)
    n = x.shape[2] * x.shape[3]
    d = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
    biased = x * torch.sigmoid(d / (4 * (d.sum(dim=(2, 3), keepdim=True) / n + e_lambda)) + 0.5)
    if torch.allclose(y, biased, atol=1e-5, rtol=1e-4):
        return _fail(name, "divide the sum of squared deviations by n = H*W - 1 (the paper's unbiased variance), not H*W.")
    return _fail(name, "the output differs from the reference: inverse energy = d / (4 * (var + lambda)) + 0.5, then x * sigmoid(...).")


# --- chapter 6 ----------------------------------------------------------------------------------
def check_box_iou(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Chapter 6: ``fn(boxes1 (N, 4), boxes2 (M, 4))`` in xyxy returns the ``(N, M)`` IoU matrix."""
    name = "box IoU"
    g = torch.Generator().manual_seed(6)
    xy = torch.rand(7, 2, generator=g) * 50
    wh = torch.rand(7, 2, generator=g) * 40 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    a, b = boxes[:4], torch.cat([boxes[4:], boxes[:1] + 200], dim=0)  # one far-away box: IoU 0
    y, err = _call(name, fn, a.clone(), b.clone())
    if err is not None:
        return err
    if hint := _shape_hint(y, (4, 4), "the IoU matrix"):
        return _fail(name, hint, "compare every box of the first set with every box of the second: broadcast [:, None] against [None, :].")
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter_raw = (rb - lt).prod(dim=2)
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(dim=1)[:, None]
    area_b = (b[:, 2:] - b[:, :2]).prod(dim=1)[None, :]
    expected = inter / (area_a + area_b - inter)
    if torch.allclose(y, expected, atol=1e-5):
        return CheckResult(name, True)
    if torch.allclose(y, inter / (area_a + area_b), atol=1e-5):
        return _fail(name, "the union is area1 + area2 - intersection: subtract the overlap once.")
    if torch.allclose(y, inter_raw / (area_a + area_b - inter_raw), atol=1e-5) or (y < 0).any():
        return _fail(name, "boxes that do not overlap must give 0: clamp the overlap's width and height at 0 before multiplying.")
    return _fail(name, "the values differ from intersection / union; boxes are (x1, y1, x2, y2).")


# --- chapter 7 ----------------------------------------------------------------------------------
def _ap_reference(scores: torch.Tensor, is_tp: torch.Tensor, n_gt: int, how: str = "all") -> float:
    """AP of one class from scored detections: VOC2010+ all-point (``how="all"``), VOC2007
    11-point (``"11"``), or the raw area under the zig-zag curve with no envelope (``"raw"``)."""
    from attnlab.metrics.map import voc_ap

    order = torch.argsort(scores, descending=True, stable=True)
    tp = is_tp[order].double().cumsum(0)
    fp = (~is_tp[order]).double().cumsum(0)
    recall = (tp / n_gt).numpy()
    precision = (tp / (tp + fp)).numpy()
    if how == "raw":
        steps = np.diff(recall, prepend=0.0)
        return float((steps * precision).sum())
    return voc_ap(recall, precision, eleven_point=how == "11")


def check_average_precision(fn: Callable[[torch.Tensor, torch.Tensor, int], float]) -> CheckResult:
    """Chapter 7: ``fn(scores (N,), is_tp (N,) bool, n_gt)`` returns one class's average precision,
    VOC2010+ style: the area under the interpolated precision-recall curve (precision at each
    recall replaced by the best precision at that recall or higher)."""
    name = "average precision"
    g = torch.Generator().manual_seed(7)
    cases = [
        (torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5]), torch.tensor([True, False, True, True, False]), 4),
        (torch.rand(12, generator=g), torch.rand(12, generator=g) < 0.5, 9),
        (torch.tensor([0.2, 0.95, 0.5]), torch.tensor([False, True, True]), 2),   # not sorted by score
        (torch.tensor([0.6, 0.3]), torch.tensor([False, False]), 3),              # nothing found
    ]
    for k, (scores, is_tp, n_gt) in enumerate(cases, start=1):
        got, err = _call(name, fn, scores.clone(), is_tp.clone(), n_gt)
        if err is not None:
            return err
        try:
            got = float(got)
        except (TypeError, ValueError):
            return _fail(name, f"return one number (a float), got {type(got).__name__}.")
        expected = _ap_reference(scores, is_tp, n_gt)
        if math.isclose(got, expected, abs_tol=1e-6):
            continue
        where = f"case {k}: {len(scores)} detections, {int(is_tp.sum())} true positives, {n_gt} objects"
        if math.isclose(got, _ap_reference(scores, is_tp, n_gt, "11"), abs_tol=1e-6):
            return _fail(name, f"{where}: you computed VOC2007's 11-point AP; this exercise wants the area under the whole interpolated curve (VOC2010+).")
        if math.isclose(got, _ap_reference(scores, is_tp, n_gt, "raw"), abs_tol=1e-6):
            return _fail(name, f"{where}: interpolate first: replace each precision by the best precision at that recall or higher (a running max from the end), then sum recall steps times precision.")
        as_given = torch.arange(len(scores), 0, -1).float()   # the detections in the order given
        if math.isclose(got, _ap_reference(as_given, is_tp, n_gt), abs_tol=1e-6):
            return _fail(name, f"{where}: sort the detections by score, highest first, before accumulating true and false positives.")
        if math.isclose(got, _ap_reference(scores, is_tp, max(int(is_tp.sum()), 1)), abs_tol=1e-6) and int(is_tp.sum()) != n_gt:
            return _fail(name, f"{where}: recall divides by the number of objects (n_gt), not by the number of true positives: missed objects lower AP.")
        return _fail(name, f"{where}: expected {expected:.4f}, got {got:.4f}.")
    return CheckResult(name, True)


def check_slot_overhead(fn: Callable[[list[int], int], int], slots: tuple[int, ...] = (256, 512, 128), reduction: int = 16) -> CheckResult:
    """Chapter 7: ``fn(slot_channels, reduction)`` returns the parameters SE adds at those slots."""
    name = "SE overhead in YOLOv4-tiny"
    got, err = _call(name, fn, list(slots), reduction)
    if err is not None:
        return err
    expected = sum(sum(p.numel() for p in SqueezeExcite(c, reduction).parameters()) for c in slots)
    if got == expected:
        return CheckResult(name, True)
    if got == sum(2 * c * c // reduction + c // reduction + c for c in slots):
        return _fail(name, "you counted biases; the reference SE has none.")
    if got == sum(c * c // reduction for c in slots):
        return _fail(name, "an SE block has two layers, C -> C/r and C/r -> C: count both.")
    return _fail(name, f"expected a total over all slots {list(slots)} of 2*C*floor(C/r) each; you returned {got}.")


# --- chapter 8 ----------------------------------------------------------------------------------
def check_unletterbox(fn: Callable[[torch.Tensor, float, float, float], torch.Tensor]) -> CheckResult:
    """Chapter 8: ``fn(boxes, scale, pad_x, pad_y)`` maps letterboxed xyxy boxes back to the original image.

    Tried on a wide photo (padding above and below, ``pad_x = 0``) and on a tall one (padding left
    and right, ``pad_y = 0``), so an answer that ignores either padding fails."""
    name = "undo the letterbox"
    original = torch.tensor([[10.0, 20.0, 110.0, 220.0], [300.0, 40.0, 500.0, 90.0]])
    for what, scale, pad_x, pad_y in (("a wide photo", 0.65, 0.0, 52.0), ("a tall photo", 0.8, 37.0, 0.0)):
        pad = torch.tensor([pad_x, pad_y, pad_x, pad_y])
        letterboxed = original * scale + pad
        y, err = _call(name, fn, letterboxed.clone(), scale, pad_x, pad_y)
        if err is not None:
            return err
        if hint := _shape_hint(y, tuple(original.shape), "the boxes"):
            return _fail(name, hint)
        if torch.allclose(y, original, atol=1e-3):
            continue
        on = f"On {what} (scale {scale}, pad_x {pad_x}, pad_y {pad_y}): "
        if torch.allclose(y, letterboxed / scale - pad, atol=1e-3):
            return _fail(name, on + "the order matters: remove the padding first, then divide by the scale.")
        if torch.allclose(y, (letterboxed - pad.roll(1)) / scale, atol=1e-3):
            return _fail(name, on + "x coordinates take pad_x and y coordinates pad_y: columns 0 and 2 are x.")
        if torch.allclose(y, letterboxed / scale, atol=1e-3):
            return _fail(name, on + "the padding was not removed: subtract [pad_x, pad_y, pad_x, pad_y] first.")
        return _fail(name, on + "expected (boxes - [pad_x, pad_y, pad_x, pad_y]) / scale.")
    return CheckResult(name, True)
