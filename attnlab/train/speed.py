"""How to run a training step fast on a device: eager, channels-last, ``torch.compile``.

Speed comes from the whole model, not from hand-fused attention blocks: the memory layout of
every convolution (channels-last) and a compiler that fuses the elementwise work of the whole
network (``torch.compile``). ``python -m attnlab bench train`` (:mod:`attnlab.train.bench`)
measures the detector's training step in each :data:`MODES` side by side; this module turns
those measurements into the mode a trainer should use:

    mode = training_mode("cuda")                       # the documented default for the device
    mode = training_mode("cpu", measured="bench-results/train.json", steps=3000)  # from a benchmark
    model_for_steps = apply_training_mode(model, mode)  # keep ``model`` for checkpoints
    images = prepare_images(images, mode)

The rule, :func:`training_mode`:

1. ``enabled=False`` (the trainer's switch to turn it off) gives ``"eager"``.
2. With benchmark rows for the device (``measured``: the rows, or the JSON file ``bench train``
   writes), the mode with the least expected time wins: ``steps x median step time``, plus the
   one-off compile time for compiled modes when ``steps`` is given (a short run does not repay a
   minute of compiling). Rows with an ``error`` (a compiler that failed) never win.
3. Without measurements, :data:`DEFAULT_MODES` for the device type: ``"channels_last"`` on CUDA
   (float16 convolutions on tensor cores want NHWC; the trainer's AMP is on there) and
   ``"eager"`` on the CPU. On the idle 2-core development CPU channels-last measured 1.18-1.24x
   and compiled channels-last 1.31x eager (``results/train_bench_cpu.json``); the CPU default
   stays eager because the book's stored results were trained that way. Compiled modes are
   chosen only from measurements, since their compile time (tens of seconds to minutes) only
   pays off for long runs.
4. A compiled mode is replaced by its uncompiled counterpart when :func:`compile_available`
   says ``torch.compile`` cannot generate code here (no C++ compiler for the CPU backend, or no
   Triton for CUDA).

A compiled model (``torch.compile``) shares its parameters with the original; save checkpoints
from the original (the compiled wrapper's ``state_dict`` keys carry an ``_orig_mod.`` prefix).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "DEFAULT_MODES",
    "MODES",
    "apply_training_mode",
    "compile_available",
    "prepare_images",
    "training_mode",
]

#: every mode, as ``bench train --modes`` names them
MODES: tuple[str, ...] = ("eager", "channels_last", "compile", "compile_channels_last")

#: the mode used without measurements, by device type (see the module docstring, rule 3)
DEFAULT_MODES: dict[str, str] = {"cpu": "eager", "cuda": "channels_last"}


def check_mode(mode: object, owner: str = "training mode") -> str:
    if mode not in MODES:
        raise ValueError(f"{owner}: mode must be one of {list(MODES)}, got {mode!r}")
    return str(mode)


def uses_channels_last(mode: str) -> bool:
    return check_mode(mode).endswith("channels_last")


def uses_compile(mode: str) -> bool:
    return check_mode(mode).startswith("compile")


def compile_available(device: str | torch.device = "cpu") -> bool:
    """True when ``torch.compile``'s default backend can generate code for ``device`` here:
    a C++ compiler on the CPU (``$CXX``, ``g++``, ``c++`` or ``clang++``), Triton on CUDA."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None
    if dev.type != "cpu":
        return False
    candidates = [os.environ.get("CXX"), "g++", "c++", "clang++"]
    return any(c and shutil.which(c) for c in candidates)


def _rows(measured: Any) -> list[Mapping[str, Any]]:
    if isinstance(measured, (str, os.PathLike)):
        path = Path(measured)
        if not path.is_file():
            raise FileNotFoundError(f"training_mode: measured={str(path)!r} is not a file (expected the JSON "
                                    "that `python -m attnlab bench train` writes)")
        payload = json.loads(path.read_text())
        if not isinstance(payload, dict) or "results" not in payload:
            raise ValueError(f"training_mode: {str(path)!r} has no 'results' list (not a bench train file)")
        return list(payload["results"])
    if isinstance(measured, Mapping):
        return list(measured.get("results", []))
    if isinstance(measured, Iterable):
        return list(measured)
    raise TypeError(f"training_mode: measured must be rows (dicts), a bench train payload or a path, "
                    f"got {type(measured).__name__}")


def training_mode(
    device: str | torch.device = "cpu",
    *,
    enabled: bool = True,
    measured: Any = None,
    steps: int | None = None,
    allow_compile: bool = True,
) -> str:
    """The mode (one of :data:`MODES`) a training run on ``device`` should use.

    Args:
        device: where the run trains (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``).
        enabled: False turns the choice off: plain ``"eager"``.
        measured: ``bench train`` results for this choice: its rows (dicts with ``device``,
            ``mode``, ``median_ms`` and, for compiled modes, ``compile_s``), its whole JSON
            payload, or the path of its JSON file. Rows of other device types are ignored.
        steps: training steps the run will take; when given, a compiled mode's compile time is
            counted against its savings (``steps x step time + compile time``).
        allow_compile: False leaves the compiled modes out.

    Returns:
        The mode's name; see the module docstring for the rule.

    Example:
        >>> training_mode("cpu", enabled=False)
        'eager'
        >>> rows = [{"device": "cpu", "mode": "eager", "median_ms": 100.0},
        ...         {"device": "cpu", "mode": "compile", "median_ms": 60.0, "compile_s": 90.0}]
        >>> training_mode("cpu", measured=rows, steps=100, allow_compile=True)  # 10 s vs 96 s
        'eager'
        >>> training_mode("cpu", measured=rows, steps=10_000) if compile_available("cpu") else "compile"
        'compile'
    """
    dev = torch.device(device)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"training_mode: steps must be a positive int or None, got {steps!r}")
    if not enabled:
        return "eager"
    can_compile = allow_compile and compile_available(dev)
    if measured is not None:
        best: tuple[float, int, str] | None = None
        for row in _rows(measured):
            mode = row.get("mode")
            if mode not in MODES or row.get("error") or not row.get("median_ms"):
                continue
            if torch.device(str(row.get("device", "cpu"))).type != dev.type:
                continue
            if uses_compile(mode) and not can_compile:
                continue
            step_s = float(row["median_ms"]) / 1e3
            cost = step_s if steps is None else steps * step_s + float(row.get("compile_s") or 0.0)
            key = (cost, MODES.index(mode), mode)  # ties: the simpler mode
            best = key if best is None or key < best else best
        if best is not None:
            return best[2]
    mode = DEFAULT_MODES.get(dev.type, "eager")
    if uses_compile(mode) and not can_compile:
        mode = "channels_last" if uses_channels_last(mode) else "eager"
    return mode


def apply_training_mode(model: nn.Module, mode: str, **compile_options: Any) -> nn.Module:
    """``model`` set up for ``mode``: moved to channels-last in place (for the ``*channels_last``
    modes) and wrapped by ``torch.compile`` (for the ``compile*`` modes; ``compile_options`` go to
    it). Returns the module to call in the training step; ``model`` itself stays the one to save.
    """
    mode = check_mode(mode, "apply_training_mode")
    if uses_channels_last(mode):
        model.to(memory_format=torch.channels_last)
    if uses_compile(mode):
        return torch.compile(model, **compile_options)
    return model


def prepare_images(images: torch.Tensor, mode: str) -> torch.Tensor:
    """A (B, 3, H, W) batch in the memory format ``mode`` trains in."""
    if uses_channels_last(check_mode(mode, "prepare_images")):
        return images.contiguous(memory_format=torch.channels_last)
    return images


def mode_list(text: str | Sequence[str]) -> list[str]:
    """``"eager,compile"`` (or a list) -> checked mode names, in order, without repeats."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    if not items:
        raise ValueError(f"modes: give at least one of {list(MODES)}")
    out: list[str] = []
    for item in items:
        check_mode(item, "--modes")
        if item not in out:
            out.append(item)
    return out
