"""``python -m attnlab bench train``: YOLOv4-tiny's training throughput, eager vs channels-last vs
``torch.compile``, side by side in one run.

One training step is what the trainer does: forward, :class:`~attnlab.detection.loss.YoloLoss`,
backward, an SGD step with Nesterov momentum (``--optimizer adamw`` for AdamW); float16 autocast
with a GradScaler on CUDA. It runs on random images with a few random boxes each, for each
attention ``phi`` (0 none, 1 SE, 2 CBAM, 3 ECA, 4 CA) in each mode of
:data:`attnlab.train.speed.MODES`:

- ``eager``: the plain model (the baseline);
- ``channels_last``: model and images in channels-last memory format;
- ``compile``: ``torch.compile(model)`` (the loss stays eager);
- ``compile_channels_last``: both (not in the default ``--modes``).

Every variant is built first; a compiled one is compiled by its first step, with the compiler's
on-disk caches off (as in a fresh Colab runtime), whose wall time is reported as ``first_step_s``
and, less one step's median time, as ``compile_s`` (excluded from the throughput). Then each
variant takes ``--warmup`` untimed steps and ``--repeats`` timed steps, *interleaved* (eager,
channels_last, compile, eager, ...) so that a machine that slows down slows every variant alike.
Reported per row: median seconds per step, training images per second, and ``speedup_vs_eager``:
the median over paired runs of eager's step time / this mode's, for the same ``phi`` (above 1.0:
faster than eager). A mode that fails (e.g. no C++ compiler for
``torch.compile`` on the CPU) is reported with its ``error`` and the others still run.

    python -m attnlab bench train                          # CPU (and CUDA) at the recipe's size
    python -m attnlab bench train --size 128,416 --batch 8 --phis 0,2 \
        --modes eager,channels_last,compile,compile_channels_last   # results/train_bench_cpu.json
    python -m attnlab bench train --quick                  # a smoke run (64 px, batch 2, eager)
    python -m attnlab bench train --quick --modes eager,channels_last,compile
    python -m attnlab bench train --device cuda --size 416 --batch 32 --modes eager,channels_last

:func:`attnlab.train.speed.choose_mode` turns the JSON this writes into the mode a trainer should
use; the committed ``results/train_bench_<device type>.json`` is what the trainer reads by
default. On CUDA the JSON also holds an estimate of one full-profile detector training run
(epochs x training images / images per second) for each row.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from attnlab.train.speed import MODES, apply_training_mode, mode_list, prepare_images, uses_compile

__all__ = ["main", "measure", "DEFAULT_MODES_RUN"]

PHIS: tuple[tuple[int, str], ...] = ((0, "none"), (1, "se"), (2, "cbam"), (3, "eca"), (4, "ca"))
#: the modes timed unless ``--modes`` says otherwise
DEFAULT_MODES_RUN: tuple[str, ...] = ("eager", "channels_last", "compile")
OPTIMIZERS = ("sgd", "adamw")


def _random_targets(batch: int, size: int, per_image: int, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    n = batch * per_image
    wh = torch.rand(n, 2, generator=generator) * size * 0.3 + size * 0.05
    xy = torch.rand(n, 2, generator=generator) * (size - wh)
    b = torch.arange(batch).repeat_interleave(per_image).float()
    c = torch.randint(0, num_classes, (n,), generator=generator).float()
    return torch.cat([b[:, None], c[:, None], xy, xy + wh], 1)


def _cold_compile(compiling: bool) -> Any:
    """A context in which ``torch.compile`` reads none of its on-disk caches (a no-op otherwise)."""
    import contextlib

    if not compiling:
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config

    return inductor_config.patch(force_disable_caches=True)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _make_step(phi: int, mode: str, dev: torch.device, images: torch.Tensor, targets: torch.Tensor, *,
               size: int, num_classes: int, optimizer: str) -> tuple[Callable[[], None], int]:
    """A zero-argument training step of a fresh model (same seed for every mode) and its size."""
    from attnlab.detection.loss import YoloLoss
    from attnlab.models import YoloV4Tiny
    from attnlab.models.yolo import attention_name

    amp = dev.type == "cuda"
    torch.manual_seed(0)
    model = YoloV4Tiny(num_classes, attention=attention_name(phi), input_size=size).to(dev).train()
    n_params = sum(p.numel() for p in model.parameters())
    net = apply_training_mode(model, mode)
    x = prepare_images(images, mode)
    loss_fn = YoloLoss(num_classes, model.anchors, model.anchors_mask, size)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.937, nesterov=True)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp)

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.float16, enabled=amp):
            loss, _ = loss_fn(net(x), targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step, n_params


def measure(
    device: str,
    *,
    size: int,
    batch: int,
    repeats: int,
    warmup: int,
    phis: Sequence[int] = (0,),
    modes: Sequence[str] = DEFAULT_MODES_RUN,
    num_classes: int = 6,
    optimizer: str = "sgd",
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per (``phi``, mode): seconds per training step and images per second on ``device``.

    Rows: ``phi``, ``attention``, ``mode``, ``device``, ``size``, ``batch``, ``amp``, ``optimizer``,
    ``params``, ``median_ms`` (and ``min_ms``, ``q1_ms``, ``q3_ms``), ``images_per_s``,
    ``first_step_s``, ``compile_s`` (compiled modes; None otherwise), ``speedup_vs_eager`` (None
    when eager was not timed), ``seconds`` (every timed step), or ``error`` for a mode that failed.
    """
    from attnlab.bench import median_ratio, summarize, time_interleaved
    from attnlab.models.yolo import attention_name

    modes = mode_list(modes)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"bench train: optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    for name, value, low in (("size", size, 32), ("batch", batch, 1), ("repeats", repeats, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"bench train: {name} must be an int >= {low}, got {value!r}")
    if size % 32:
        raise ValueError(f"bench train: size must be a multiple of 32 (YOLOv4-tiny's stride), got {size}")
    say = log or (lambda text: None)
    dev = torch.device(device)
    if any(uses_compile(m) for m in modes):
        # compile afresh for this size: code compiled for another size would be recompiled with
        # symbolic (dynamic) shapes, slower and, for some blocks, failing
        torch._dynamo.reset()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, size, size, generator=g).to(dev)
    targets = _random_targets(batch, size, 4, num_classes, g).to(dev)

    steps: dict[str, Callable[[], None]] = {}
    info: dict[str, dict[str, Any]] = {}
    for phi in phis:
        for mode in modes:
            key = f"{phi}/{mode}"
            row: dict[str, Any] = {
                "phi": int(phi), "attention": attention_name(int(phi)), "mode": mode, "device": str(dev),
                "size": size, "batch": batch, "amp": dev.type == "cuda", "optimizer": optimizer,
            }
            info[key] = row
            try:
                step, row["params"] = _make_step(int(phi), mode, dev, images, targets, size=size,
                                                 num_classes=num_classes, optimizer=optimizer)
                say(f"  {row['attention']}/{mode}: first step{' (compiling)' if uses_compile(mode) else ''} ...")
                _sync(dev)
                start = time.perf_counter()
                # a compiled model compiles its forward and backward here, from scratch as in a
                # fresh runtime: the compiler's on-disk caches would hide most of that time
                with _cold_compile(uses_compile(mode)):
                    step()
                _sync(dev)
                row["first_step_s"] = time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001  (report it; the other modes still run)
                row["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                say(f"  {row['attention']}/{mode} failed: {row['error']}")
                continue
            steps[key] = step

    times = time_interleaved(steps, repeats=repeats, warmup=warmup, device=dev) if steps else {}
    rows = []
    for key, row in info.items():
        if key in times:
            stats = summarize(times[key])
            row.update(stats)
            row["images_per_s"] = batch / (stats["median_ms"] / 1e3)
            row["compile_s"] = (max(row["first_step_s"] - stats["median_ms"] / 1e3, 0.0)
                                if uses_compile(row["mode"]) else None)
            eager = f"{row['phi']}/eager"
            # eager time / this mode's time, paired run by run: > 1 is faster than eager
            row["speedup_vs_eager"] = 1.0 / median_ratio(times, key, eager) if eager in times else None
            row["seconds"] = times[key]
        else:
            row.update({"median_ms": None, "images_per_s": None, "compile_s": None, "speedup_vs_eager": None})
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from attnlab.bench import environment, format_table, write_json
    from attnlab.profiles import get_profile
    from attnlab.train.recipes import detector_recipe
    from attnlab.train.speed import choose_mode

    parser = argparse.ArgumentParser(
        prog="python -m attnlab bench train",
        description="Training images per second of YOLOv4-tiny: eager, channels-last and torch.compile side by "
                    "side (CPU, and CUDA when present).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--device", action="append", default=None,
                        help="cpu or cuda; repeat for several (default: cpu, plus cuda when available)")
    parser.add_argument("--size", default=None,
                        help="image size, a multiple of 32, or several, comma-separated, each measured in turn "
                             "(default: the detector recipe's: quick on CPU, full on CUDA)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the recipe's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant after the first")
    parser.add_argument("--phis", default="0", help="comma-separated attention phi values (0 none .. 4 CA)")
    parser.add_argument("--modes", default=None,
                        help=f"comma-separated modes, of {', '.join(MODES)} (default: {','.join(DEFAULT_MODES_RUN)}; "
                             "with --quick: eager)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="as the trainer's optimizer option")
    parser.add_argument("--channels-last", action="store_true",
                        help="(kept for old scripts) the same as adding channels_last to --modes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test of the measuring: 64 px, batch 2, 1 repeat, eager only unless --modes")
    parser.add_argument("--out", default="bench-results/train.json", help="JSON file to write (bench-results/ is git-ignored, as for every bench)")
    args = parser.parse_args(argv)

    try:
        modes = mode_list(args.modes or ("eager" if args.quick else ",".join(DEFAULT_MODES_RUN)))
        phis = [int(p) for p in args.phis.split(",") if p.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    try:
        sizes = [int(s) for s in args.size.split(",") if s.strip()] if args.size else []
    except ValueError:
        parser.error(f"--size: expected image sizes (multiples of 32), comma-separated, got {args.size!r}")
    if args.channels_last and "channels_last" not in modes:
        modes.append("channels_last")
    bad = [p for p in phis if p not in dict(PHIS)]
    if bad or not phis:
        parser.error(f"--phis: values must be among {[p for p, _ in PHIS]}, got {args.phis!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    results: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    choice: dict[str, str] = {}
    for device in devices:
        dev_type = torch.device(device).type
        if dev_type == "cuda" and not torch.cuda.is_available():
            print(f"skipping {device}: CUDA is not available")
            continue
        prof = get_profile(device=device, name="full" if dev_type == "cuda" else "quick")
        recipe = detector_recipe(prof)
        if args.quick:
            device_sizes, batch, repeats, warmup = [64], 2, 1, 1
        else:
            device_sizes = sizes or [recipe.image_size]
            batch = args.batch or recipe.batch_size
            repeats, warmup = args.repeats, args.warmup
        rows = []
        for size in device_sizes:
            print(f"{device}: phi {','.join(map(str, phis))} x modes {','.join(modes)}, {size}px, batch {batch}, "
                  f"{args.optimizer}, {warmup} warm-up + {repeats} timed steps each (interleaved)")
            try:
                rows += measure(device, size=size, batch=batch, repeats=repeats, warmup=warmup, phis=phis,
                                modes=modes, optimizer=args.optimizer, log=print)
            except ValueError as exc:
                parser.error(str(exc))
        if dev_type == "cuda":
            d = recipe
            for r in rows:  # training steps only: add data loading and evaluation on top
                if r.get("images_per_s"):
                    r["full_profile_minutes_estimate"] = d.epochs * d.n_train / r["images_per_s"] / 60
            meta["full_profile"] = {"image_size": d.image_size, "n_train": d.n_train, "epochs": d.epochs,
                                    "batch_size": d.batch_size, "measured_at": {"sizes": device_sizes, "batch": batch}}
        meta[device] = environment(device)
        results.extend(rows)
        print(format_table(rows, ["size", "attention", "mode", "median_ms", "images_per_s", "speedup_vs_eager",
                                  "compile_s", "params"]))
        for r in rows:
            if r.get("error"):
                print(f"  {r['attention']}/{r['mode']}: {r['error']}")
        n_steps = recipe.epochs * -(-recipe.n_train // recipe.batch_size)
        picked = choose_mode(device, measured=rows, steps=n_steps, size=recipe.image_size, batch=recipe.batch_size)
        choice[device] = picked.mode
        print(f"the {prof.name} profile's detector run ({recipe.image_size} px, batch {recipe.batch_size}, "
              f"{n_steps:,} steps) would train in {picked.reason}")
    path = write_json(args.out, {"benchmark": "train", "quick": args.quick, "modes": modes,
                                 "environment": meta, "training_mode": choice, "results": results})
    print(f"written to {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
