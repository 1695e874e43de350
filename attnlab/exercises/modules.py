"""Checkers for whole attention modules written by the learner (Chapters 3 to 5).

Each checker builds the learner's class, compares its parameter count with the block's equation,
loads the package block's weights into it (so the names must follow the reference layout the
chapter uses), and compares the outputs on random inputs. When they differ it tries the usual
slips (a swapped descriptor order, the wrong gate first, a missing branch, another activation)
and names the one that explains the difference.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from attnlab.attention import CBAM, ECA, CoordAttention, eca_kernel_size
from attnlab.exercises.checks import CheckResult, _call, _fail, _inputs, _shape_hint

__all__ = ["check_cbam_module", "check_eca_module", "check_ca_module"]


def _randomise(module: nn.Module, seed: int) -> nn.Module:
    """Random weights (and BatchNorm statistics), so that a slip cannot hide behind an init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*module.named_parameters(), *module.named_buffers()]:
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)   # variances stay positive
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
    return module.eval()


def _build(name: str, cls: Callable[..., nn.Module], *args) -> tuple[nn.Module | None, CheckResult | None]:
    block, err = _call(name, cls, *args)
    if err is not None:
        return None, err
    if not isinstance(block, nn.Module):
        return None, _fail(name, f"calling your class should build an nn.Module, got {type(block).__name__}.")
    return block, None


def _run(name: str, block: nn.Module, reference: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, CheckResult | None]:
    """Load the reference's weights into the learner's block (a hint naming the keys if they
    differ) and run it on ``x`` (a hint if it fails or returns another shape)."""
    state = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    mine = {k: tuple(v.shape) for k, v in block.state_dict().items() if not k.endswith("num_batches_tracked")}
    ref = {k: tuple(v.shape) for k, v in state.items()}
    if mine != ref:
        missing = sorted(set(ref) - set(mine))
        extra = sorted(set(mine) - set(ref))
        shapes = sorted(k for k in set(ref) & set(mine) if ref[k] != mine[k])
        hints = [f"the weights must be named and shaped as in the chapter's layout: {ref}."]
        if missing:
            hints.append(f"missing: {missing}.")
        if extra:
            hints.append(f"not expected: {extra} (biases? the reference layers have none).")
        if shapes:
            hints.append("wrong shapes: " + ", ".join(f"{k} is {mine[k]}, expected {ref[k]}" for k in shapes) + ".")
        return None, _fail(name, *hints)
    block.load_state_dict(state, strict=False)
    block.eval()
    with torch.no_grad():
        y, err = _call(name, block, x.clone())
    if err is not None:
        return None, err
    if hint := _shape_hint(y, tuple(x.shape), "the output"):
        if isinstance(y, torch.Tensor) and y.ndim == 4 and y.shape[0] == x.shape[0] and 1 in y.shape[1:]:
            hint += " It looks like a gate: return the input multiplied by the gate(s)."
        return None, _fail(name, hint)
    return y, None


def _like(reference: nn.Module, other: nn.Module) -> nn.Module:
    """``other`` (a variant of the block: another order, pooling, activation) with the
    reference's weights, in eval mode: what a typical slip would compute."""
    other.load_state_dict(reference.state_dict())
    return other.eval()


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def _count(block: nn.Module) -> int:
    return sum(p.numel() for p in block.parameters())


# --- chapter 3 ----------------------------------------------------------------------------------
def check_cbam_module(block_class: type[nn.Module], channels: int = 32, ratio: int = 8, kernel_size: int = 7) -> CheckResult:
    """Chapter 3: a CBAM class ``block_class(channels, ratio, kernel_size)`` in the chapter's layout
    (``channelattention.fc1/fc2``, ``spatialattention.conv1``, no biases) equal to
    :class:`attnlab.attention.CBAM`: channel gate first, then the spatial gate on
    ``[mean; max]`` over channels."""
    name = "CBAM module"
    block, err = _build(name, block_class, channels, ratio, kernel_size)
    if err is not None:
        return err
    hidden = channels // ratio
    expected_params = 2 * channels * hidden + 2 * kernel_size**2
    if (got := _count(block)) != expected_params:
        return _fail(name, f"{got} parameters, expected 2*C*floor(C/r) + 2*k^2 = {expected_params} for "
                           f"C={channels}, r={ratio}, k={kernel_size} (no biases).")
    reference = _randomise(CBAM(channels, ratio, kernel_size), seed=31)
    x = _inputs(32, (2, channels, 9, 11))
    y, err = _run(name, block, reference, x)
    if err is not None:
        return err
    if _close(y, reference(x)):
        return CheckResult(name, True)
    swapped = _like(reference, CBAM(channels, ratio, kernel_size))
    with torch.no_grad():
        swapped.spatialattention.conv1.weight.copy_(reference.spatialattention.conv1.weight.flip(1))
    slips = [
        (swapped, "the spatial descriptor stacks the channel mean first, then the max ([mean; max])."),
        (_like(reference, CBAM(channels, ratio, kernel_size, order="spatial-channel")),
         "apply the channel gate first, then the spatial gate to its output."),
        (_like(reference, CBAM(channels, ratio, kernel_size, order="parallel")),
         "the spatial gate is computed from the channel-gated map F', not from the input F."),
        (_like(reference, CBAM(channels, ratio, kernel_size, pool="avg")),
         "the channel gate adds the MLP of the max-pooled descriptor to that of the average."),
        (_like(reference, CBAM(channels, ratio, kernel_size, pool="max")),
         "the channel gate adds the MLP of the average-pooled descriptor to that of the max."),
    ]
    with torch.no_grad():
        for other, hint in slips:
            if _close(y, other(x)):
                return _fail(name, hint)
        channel_only = x * reference.channelattention(x)
    if _close(y, channel_only):
        return _fail(name, "only the channel gate was applied: multiply by the spatial gate as well.")
    return _fail(name, "same layout and parameter count, but the output differs: check each gate against "
                       "eq-cbam-channel and eq-cbam-spatial (sigmoid after the sum, padding k // 2).")


# --- chapter 4 ----------------------------------------------------------------------------------
def check_eca_module(block_class: type[nn.Module], channels: tuple[int, ...] = (64, 128, 256)) -> CheckResult:
    """Chapter 4: an ECA class ``block_class(channels)`` with the adaptive kernel size of the
    reference rule and one bias-free ``conv`` (a ``Conv1d(1, 1, k)``), equal to
    :class:`attnlab.attention.ECA`."""
    name = "ECA module"
    for c in channels:
        block, err = _build(name, block_class, c)
        if err is not None:
            return err
        k = eca_kernel_size(c)
        if (got := _count(block)) != k:
            return _fail(name, f"for C={c}: {got} parameters, expected k = {k} (one bias-free 1-D kernel; "
                               "k from eca_kernel_size's reference rule).")
        reference = _randomise(ECA(c), seed=40 + c)
        x = _inputs(41, (2, c, 5, 6))
        y, err = _run(name, block, reference, x)
        if err is not None:
            return err
        if _close(y, reference(x)):
            continue
        with torch.no_grad():
            gate_max = torch.sigmoid(nn.functional.conv1d(x.amax((2, 3))[:, None], reference.conv.weight,
                                                          padding=k // 2))[:, 0, :, None, None]
            flipped = torch.sigmoid(nn.functional.conv1d(x.mean((2, 3))[:, None], reference.conv.weight.flip(-1),
                                                         padding=k // 2))[:, 0, :, None, None]
        if _close(y, x * gate_max):
            return _fail(name, "squeeze with the average over H and W, not the max.")
        if _close(y, x * flipped):
            return _fail(name, "the kernel runs the wrong way along the channels: use F.conv1d / nn.Conv1d on "
                               "the descriptor shaped (B, 1, C).")
        return _fail(name, f"for C={c} the output differs: pool to (B, C), reshape to (B, 1, C), conv1d with "
                           f"padding k // 2, sigmoid, and scale the input.")
    return CheckResult(name, True)


# --- chapter 5 ----------------------------------------------------------------------------------
def check_ca_module(block_class: type[nn.Module], channels: int = 32, reduction: int = 16) -> CheckResult:
    """Chapter 5: a Coordinate Attention class ``block_class(channels, reduction)`` in the reference
    layout (``conv_1x1``, ``bn``, ``F_h``, ``F_w``; bias-free convs, ReLU), equal to
    :class:`attnlab.attention.CoordAttention` (in eval mode)."""
    name = "Coordinate Attention module"
    block, err = _build(name, block_class, channels, reduction)
    if err is not None:
        return err
    reference = _randomise(CoordAttention(channels, reduction), seed=51)
    hidden = reference.hidden
    expected_params = _count(reference)
    if (got := _count(block)) != expected_params:
        return _fail(name, f"{got} parameters, expected {expected_params}: C*(C/r) for conv_1x1, 2*(C/r) for "
                           f"bn, and 2*(C/r)*C for F_h and F_w (C={channels}, C/r={hidden}, no biases).")
    x = _inputs(52, (2, channels, 7, 9))   # H != W, so a swapped axis shows
    y, err = _run(name, block, reference, x)
    if err is not None:
        return err
    if _close(y, reference(x)):
        return CheckResult(name, True)
    hswish = _like(reference, CoordAttention(channels, reduction, activation="hswish"))
    swapped = _like(reference, CoordAttention(channels, reduction))
    with torch.no_grad():
        swapped.F_h.weight.copy_(reference.F_w.weight)
        swapped.F_w.weight.copy_(reference.F_h.weight)
        if _close(y, hswish(x)):
            return _fail(name, "that is h-swish (the authors' code); the reference block uses ReLU after the BatchNorm.")
        if _close(y, swapped(x)):
            return _fail(name, "F_h and F_w are swapped: the height profile (pooled over W) goes through F_h.")
    return _fail(name, "same layout, different output: pool over W for the height profile and over H for the "
                       "width profile, concatenate along the last axis, conv_1x1 -> bn -> ReLU, split, "
                       "F_h and F_w, sigmoids, and x * g_h * g_w.")
