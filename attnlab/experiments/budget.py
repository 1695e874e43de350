"""How long will it take? Estimates before an experiment starts, so that a Colab session fits.

Two numbers, and the method behind each:

1. **Measured here** (:func:`measure_step`): a few real training steps (forward, loss, backward,
   optimiser step) of the chapter's model at its batch and image size, on the device the notebook
   has, timed after warm-up steps; seconds per run = median seconds per step x steps per run.
   Evaluation and data generation are not counted, so read it as a lower bound.
2. **Full profile on a Colab T4** (:func:`t4_seconds`), when no GPU is at hand (this book is built
   on a CPU): the training FLOPs of one step (forward FLOPs counted by
   :class:`torch.utils.flop_counter.FlopCounterMode`, times 3 for the backward pass) divided by a
   sustained rate, plus a fixed overhead per step::

       seconds per step = 3 * forward FLOPs / (3 TFLOP/s) + 5 ms

   The rate is an assumption, not a measurement: about 5% of a T4's float16 tensor-core peak
   (65 TFLOP/s), which is what small convolutional networks with batch-norm sustain in mixed
   precision (they are limited by memory traffic, not by arithmetic); the 5 ms covers the Python,
   kernel-launch and optimiser work of a step. When the notebook runs on a GPU it measures instead.

:data:`CHAPTERS` lists what each chapter trains in a profile; :func:`chapter_budget` turns it
into a sentence for the top of the chapter and :func:`budget_table` into the instructor guide's
table. The full profile is sized so that every chapter stays within about an hour on a T4 (a test
holds it there).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "GPU_T4",
    "GpuModel",
    "Workload",
    "CHAPTERS",
    "forward_flops",
    "measure_step",
    "t4_seconds",
    "workload_seconds",
    "chapter_budget",
    "budget_table",
    "format_duration",
    "preflight",
]


@dataclass(frozen=True)
class GpuModel:
    """The assumed speed of a GPU for the estimate (see the module docstring)."""

    name: str
    sustained_flops: float  # training FLOP/s a small CNN reaches in mixed precision
    step_overhead_s: float  # per optimiser step, whatever its size

    def step_seconds(self, train_flops_per_step: float) -> float:
        return train_flops_per_step / self.sustained_flops + self.step_overhead_s


#: a free Colab GPU: 65 TFLOP/s float16 peak; 3 TFLOP/s sustained assumed, 5 ms per step
GPU_T4 = GpuModel("Tesla T4 (Colab's free GPU)", sustained_flops=3e12, step_overhead_s=5e-3)
#: backward costs about twice the forward
TRAIN_FLOPS_PER_FORWARD = 3.0


@dataclass(frozen=True)
class Workload:
    """One group of identical training runs in a chapter.

    ``kind`` is ``"classifier"`` (Part I's :class:`~attnlab.models.classifier.AttentionCNN` at the
    profile's classifier size) or ``"detector"`` (YOLOv4-tiny at the profile's detector recipe);
    ``runs`` is how many (variants x seeds); ``seeds=None`` means every seed of the profile, an
    integer that many of them. ``quick_runs``: in the quick profile the chapter trains only a
    slice of its committed reference run (``results/``), this many runs.
    """

    what: str
    kind: str
    variants: int
    seeds: int | None = None
    overrides: Mapping[str, Any] | None = None
    quick_runs: int | None = None

    def runs(self, profile: Any) -> int:
        if profile.name == "quick" and self.quick_runs is not None:
            return self.quick_runs
        n = len(profile.seeds) if self.seeds is None else min(self.seeds, len(profile.seeds))
        return self.variants * n


#: what each chapter trains (must follow the notebooks: a chapter that trains more adds a line)
CHAPTERS: dict[str, tuple[str, tuple[Workload, ...]]] = {
    "02": ("Squeeze-and-Excitation", (Workload("baseline vs SE", "classifier", 2, quick_runs=2),)),
    "03": ("CBAM", (Workload("baseline and CBAM (quick: CBAM only)", "classifier", 2, quick_runs=1),)),
    "04": ("ECA", (Workload("none, SE, ECA (quick: ECA only)", "classifier", 3, quick_runs=1),)),
    "05": ("Beyond, and a comparison",
           (Workload("none and five mechanisms (quick: CA and SimAM)", "classifier", 6, quick_runs=2),)),
    "06": ("YOLOv4-tiny, piece by piece", (Workload("one detector", "detector", 1, seeds=1),)),
    "07": ("Attention in the detector",
           (Workload("five variants (none, SE, CBAM, ECA, CA; quick: none and CBAM)", "detector", 5,
                     seeds=3, quick_runs=2),)),
    "08": ("From notebook to use", (Workload("one detector", "detector", 1, seeds=1),)),
}


def forward_flops(model: nn.Module, example: torch.Tensor) -> float:
    """FLOPs of one forward pass (convolutions and matrix products; see the module docstring)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
    return float(counter.get_total_flops())


def _classifier(profile: Any) -> tuple[nn.Module, int, int, int]:
    from attnlab.models.classifier import AttentionCNN

    c = profile.classifier
    steps = math.ceil(c.n_train / c.batch_size) * c.epochs
    return AttentionCNN(6, attention="none", width=c.width), c.image_size, c.batch_size, steps


def _detector(profile: Any, overrides: Mapping[str, Any] | None) -> tuple[nn.Module, int, int, int]:
    from attnlab.models import YoloV4Tiny
    from attnlab.train.recipes import detector_recipe

    r = detector_recipe(profile, **dict(overrides or {}))
    steps = math.ceil(r.n_train / r.batch_size) * r.epochs
    return YoloV4Tiny(6, attention="none", input_size=r.image_size), r.image_size, r.batch_size, steps


def _build(kind: str, profile: Any, overrides: Mapping[str, Any] | None = None) -> tuple[nn.Module, int, int, int]:
    if kind == "classifier":
        return _classifier(profile)
    if kind == "detector":
        return _detector(profile, overrides)
    raise ValueError(f"kind must be 'classifier' or 'detector', got {kind!r}")


def t4_seconds(kind: str, profile: Any, overrides: Mapping[str, Any] | None = None,
               gpu: GpuModel = GPU_T4) -> float:
    """Estimated seconds of one training run of ``kind`` at ``profile``'s size on ``gpu``."""
    model, size, batch, steps = _build(kind, profile, overrides)
    flops = forward_flops(model, torch.zeros(1, 3, size, size)) * batch * TRAIN_FLOPS_PER_FORWARD
    return steps * gpu.step_seconds(flops)


def workload_seconds(workload: Workload, profile: Any, gpu: GpuModel = GPU_T4) -> float:
    """Estimated seconds of all the runs of ``workload`` on ``gpu``."""
    return workload.runs(profile) * t4_seconds(workload.kind, profile, workload.overrides, gpu)


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min"``, ``"1 h 40 min"``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"format_duration: seconds must be a finite number >= 0, got {seconds!r}")
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{int(minutes // 60)} h {minutes % 60:.0f} min"


def chapter_budget(chapter: str, profile: Any = None, gpu: GpuModel = GPU_T4) -> str:
    """One paragraph for the top of a chapter: what it trains, and the full profile's T4 estimate."""
    from attnlab.profiles import get_profile

    if chapter not in CHAPTERS:
        raise ValueError(f"chapter_budget: chapter must be one of {sorted(CHAPTERS)}, got {chapter!r}")
    full = get_profile("full")
    profile = profile if profile is not None else get_profile()
    lines = []
    total = 0.0
    for w in CHAPTERS[chapter][1]:
        seconds = workload_seconds(w, full, gpu)
        total += seconds
        lines.append(f"  {w.what}: {w.runs(profile)} run(s) in this profile ('{profile.name}'), "
                     f"{w.runs(full)} in the full profile, about {format_duration(seconds)} on a T4")
    head = (f"Training in this chapter, full profile on a {gpu.name}: about {format_duration(total)} "
            f"(estimate: 3 x forward FLOPs / {gpu.sustained_flops / 1e12:g} TFLOP/s + "
            f"{1e3 * gpu.step_overhead_s:g} ms per step)")
    return "\n".join([head, *lines])


def budget_table(profile: Any = None, gpu: GpuModel = GPU_T4) -> list[dict[str, Any]]:
    """One row per chapter: runs and estimated minutes of the full profile on ``gpu``."""
    from attnlab.profiles import get_profile

    profile = profile if profile is not None else get_profile("full")
    rows = []
    for chapter, (title, workloads) in CHAPTERS.items():
        seconds = sum(workload_seconds(w, profile, gpu) for w in workloads)
        rows.append({"chapter": chapter, "title": title, "runs": sum(w.runs(profile) for w in workloads),
                     "minutes": seconds / 60})
    return rows


def measure_step(model: nn.Module, loss_fn: Callable[[Any], torch.Tensor], batch: Any, *,
                 device: str | torch.device = "cpu", steps: int = 5, warmup: int = 2,
                 amp: bool | None = None, channels_last: bool | None = None) -> float:
    """Median seconds of one training step (forward, ``loss_fn``, backward, SGD step) on ``device``.

    ``model`` is trained on a copy (the caller's weights do not change); ``loss_fn(output)`` turns
    the model's output into a scalar; ``batch`` is the input tensor at the real batch size.
    ``amp`` and ``channels_last`` default to on for CUDA, off elsewhere (:func:`preflight` passes
    the detector's layout as the :class:`~attnlab.train.Trainer` will choose it).
    """
    import copy

    from attnlab.bench import synchronize
    from attnlab.train import speed

    if steps < 1 or warmup < 0:
        raise ValueError(f"measure_step: steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    device = torch.device(device)
    cuda = device.type == "cuda"
    amp = cuda if amp is None else amp
    channels_last = cuda if channels_last is None else channels_last
    mode = "channels_last" if channels_last else "eager"
    net = speed.apply_training_mode(copy.deepcopy(model).to(device).train(), mode)
    x = speed.prepare_images(batch.to(device), mode)
    opt = torch.optim.SGD(net.parameters(), lr=1e-6)
    dtype = torch.float16 if cuda else torch.bfloat16
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            loss = loss_fn(net(x))
        loss.float().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _output_sum(out: Any) -> torch.Tensor:
    if isinstance(out, (tuple, list)):
        return sum(o.float().mean() for o in out)
    return out.float().mean()


def preflight(kind: str, profile: Any, runs: int, *, overrides: Mapping[str, Any] | None = None,
              steps: int = 3, warmup: int = 2) -> str:
    """Measure a few steps of the model this chapter trains, on the profile's device, and say how
    long ``runs`` runs will take (training steps only: a lower bound). Print it before a long cell."""
    if runs < 1:
        raise ValueError(f"preflight: runs must be >= 1, got {runs}")
    from attnlab.train import speed

    model, size, batch, steps_per_run = _build(kind, profile, overrides)
    x = torch.rand(batch, 3, size, size)
    channels_last, layout = None, ""
    if kind == "detector":  # the layout the Trainer will pick (a compiled mode is timed uncompiled)
        channels_last = speed.uses_channels_last(
            speed.training_mode(profile.device, steps=steps_per_run, size=size, batch=batch))
        layout = ", channels-last" if channels_last else ", eager"
    seconds = measure_step(model, _output_sum, x, device=profile.device, steps=steps, warmup=warmup,
                           channels_last=channels_last)
    total = seconds * steps_per_run * runs
    return (f"measured on {profile.device}: {1e3 * seconds:.0f} ms per training step (batch {batch}, "
            f"{size} px{layout}) x {steps_per_run:,} steps per run x {runs} run(s) = about {format_duration(total)} "
            f"of training (evaluation not included)")
