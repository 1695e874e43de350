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

The rule, :func:`choose_mode` (:func:`training_mode` returns just its mode):

1. ``enabled=False`` (the trainer's switch to turn it off) gives ``"eager"``.
2. The measurements: ``measured`` (the rows of ``bench train``, or the JSON file it writes) or,
   without it, the committed ``results/train_bench_<device type>.json`` (installed with the
   package). Only rows of the run's device type count, and rows with an ``error`` (a compiler
   that failed) never win. When they were taken at several sizes, the configuration whose pixels
   per step (``size**2 x batch``) are nearest the run's counts, and its step times are scaled by
   the ratio of pixels (the work of a convolutional network grows with them); when the run's
   size is not given, the largest measured configuration counts.
3. The mode with the least expected time wins: ``steps x step time`` (the mean over the
   attention variants measured), plus the one-off compile time for compiled modes when ``steps``
   is given (a short run does not repay a minute of compiling). Ties go to the simpler mode, and
   eager stays unless the winner saves at least :data:`MIN_SAVING` (5 %) of its time: repeated
   measurements on one idle machine differ by about that much.
4. Without measurements for the device type, :data:`DEFAULT_MODES`: ``"channels_last"`` on
   CUDA (float16 convolutions on tensor cores want NHWC; the trainer's AMP is on there) and
   ``"eager"`` elsewhere.
5. A compiled mode is left out when :func:`compile_available` says ``torch.compile`` cannot
   generate code here (no C++ compiler for the CPU backend, or no Triton for CUDA), or with
   ``allow_compile=False``.

On the 2-core development CPU (``results/train_bench_cpu.json``) this keeps the quick detector
recipe (128 px, batch 8, 1,600 steps) eager: at 128 px channels-last ran 1.01-1.09x as fast in
repeated measurements and compiling costs more than it saves. At 416 px channels-last runs
1.12-1.18x as fast as eager and compiled channels-last 1.18-1.31x, which repays its minute of
compiling over a long run.

A compiled model (``torch.compile``) shares its parameters with the original; save checkpoints
from the original (the compiled wrapper's ``state_dict`` keys carry an ``_orig_mod.`` prefix).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "DEFAULT_MODES",
    "MIN_SAVING",
    "MODES",
    "ModeChoice",
    "apply_training_mode",
    "choose_mode",
    "committed_rows",
    "compile_available",
    "prepare_images",
    "training_mode",
]

#: every mode, as ``bench train --modes`` names them
MODES: tuple[str, ...] = ("eager", "channels_last", "compile", "compile_channels_last")

#: the least expected saving (a fraction of eager's time) for which a run leaves eager mode:
#: repeated ``bench train`` runs on one idle machine differ by about this much
MIN_SAVING = 0.05

#: the mode used without measurements, by device type (see the module docstring, rule 4)
DEFAULT_MODES: dict[str, str] = {"cpu": "eager", "cuda": "channels_last"}


@dataclass(frozen=True)
class ModeChoice:
    """What :func:`choose_mode` picked and why, in one line for a log."""

    mode: str
    reason: str


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


def committed_rows(device: str | torch.device = "cpu") -> tuple[list[Mapping[str, Any]], str | None]:
    """The committed ``bench train`` rows for ``device``'s type and the file they came from:
    ``results/train_bench_<type>.json`` of the checkout or of the installed package
    (``([], None)`` when there is none)."""
    from attnlab.bench import results_dir

    folder = results_dir()
    path = folder / f"train_bench_{torch.device(device).type}.json" if folder is not None else None
    if path is None or not path.is_file():
        return [], None
    return _rows(path), f"results/{path.name}"


def _pixels(row: Mapping[str, Any]) -> float:
    return float(row.get("size") or 0) ** 2 * float(row.get("batch") or 0)


def choose_mode(
    device: str | torch.device = "cpu",
    *,
    enabled: bool = True,
    measured: Any = None,
    steps: int | None = None,
    size: int | None = None,
    batch: int | None = None,
    allow_compile: bool = True,
) -> ModeChoice:
    """The mode (one of :data:`MODES`) a training run on ``device`` should use, and why.

    Args:
        device: where the run trains (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``).
        enabled: False turns the choice off: plain ``"eager"``.
        measured: ``bench train`` results: its rows (dicts with ``device``, ``mode``,
            ``median_ms``, and ``size``, ``batch``, ``compile_s`` where known), its whole JSON
            payload, or the path of its JSON file. None: the committed measurement for the
            device type (:func:`committed_rows`). Rows of other device types are ignored.
        steps: training steps the run will take; when given, a compiled mode's compile time is
            counted against its savings (``steps x step time + compile time``).
        size, batch: the run's image size and batch size; they pick the measured configuration
            nearest the run and scale its step times (see the module docstring, rule 2).
        allow_compile: False leaves the compiled modes out.

    Example:
        >>> choose_mode("cpu", enabled=False).mode
        'eager'
        >>> rows = [{"device": "cpu", "mode": "eager", "median_ms": 100.0},
        ...         {"device": "cpu", "mode": "compile", "median_ms": 60.0, "compile_s": 90.0}]
        >>> choose_mode("cpu", measured=rows, steps=100).mode  # 10 s vs 96 s
        'eager'
        >>> choose_mode("cpu", measured=rows, steps=10_000).mode if compile_available("cpu") else "compile"
        'compile'
    """
    dev = torch.device(device)
    for name, value in (("steps", steps), ("size", size), ("batch", batch)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"training_mode: {name} must be a positive int or None, got {value!r}")
    if not enabled:
        return ModeChoice("eager", "eager: the choice is turned off")
    can_compile = allow_compile and compile_available(dev)
    if measured is None:
        rows, source = committed_rows(dev)
    else:
        rows, source = _rows(measured), "the given measurements"
    rows = [r for r in rows if r.get("mode") in MODES and not r.get("error") and r.get("median_ms")
            and torch.device(str(r.get("device", "cpu"))).type == dev.type
            and (can_compile or not uses_compile(r["mode"]))]
    if rows:
        scale, where = 1.0, ""
        configs = {_pixels(r) for r in rows}
        run = float(size) ** 2 * batch if size is not None and batch is not None and all(configs) else None
        if run is not None or len(configs) > 1:
            # the configuration nearest the run, or (the run's size unknown) the largest measured
            nearest = max(configs) if run is None else min(configs, key=lambda px: abs(math.log(px / run)))
            scale = 1.0 if run is None else run / nearest
            rows = [r for r in rows if _pixels(r) == nearest]
            where = f" at {rows[0]['size']} px, batch {rows[0]['batch']}"
        # each mode judged over the same models: the mean over the attention variants measured
        step_ms: dict[str, list[float]] = {}
        compile_s: dict[str, list[float]] = {}
        for row in rows:
            step_ms.setdefault(row["mode"], []).append(float(row["median_ms"]))
            compile_s.setdefault(row["mode"], []).append(float(row.get("compile_s") or 0.0))
        cost = {}
        for m, times in step_ms.items():
            step_s = statistics.fmean(times) / 1e3 * scale
            cost[m] = step_s if steps is None else steps * step_s + statistics.fmean(compile_s[m])
        best = min(cost, key=lambda m: (cost[m], MODES.index(m)))  # ties: the simpler mode
        if "eager" in cost and cost[best] > (1 - MIN_SAVING) * cost["eager"]:
            best = "eager"  # a saving within the measurements' noise does not change the layout
        gain = f" ({cost['eager'] / cost[best]:.2f}x faster than eager)" if "eager" in cost and best != "eager" else ""
        plan = "" if steps is None else f" for {steps:,} steps" + (
            ", compile time counted" if any(uses_compile(m) for m in cost) else "")
        if best == "eager" and len(cost) > 1:
            return ModeChoice(best, f"eager: no other mode saves {MIN_SAVING:.0%} of its time in {source}{where}{plan}")
        return ModeChoice(best, f"{best}: fastest in {source}{where}{plan}{gain}")
    mode = DEFAULT_MODES.get(dev.type, "eager")
    if uses_compile(mode) and not can_compile:
        mode = "channels_last" if uses_channels_last(mode) else "eager"
    return ModeChoice(mode, f"{mode}: the default for {dev.type} (no measurement for it)")


def training_mode(device: str | torch.device = "cpu", **options: Any) -> str:
    """The mode of :func:`choose_mode` (same arguments), without the reason.

    Example:
        >>> training_mode("cpu", enabled=False)
        'eager'
    """
    return choose_mode(device, **options).mode


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
