"""``python -m attnlab bench train``: training throughput of YOLOv4-tiny with each attention module.

One training step (forward, :class:`~attnlab.detection.loss.YoloLoss`, backward, AdamW step; float16
autocast with a GradScaler on CUDA, as the trainer does) on random images with a few random boxes
each, for ``phi`` 0..4 (none, SE, CBAM, ECA, CA), timed *interleaved* (none, se, cbam, ..., none,
se, ...) so that a machine that slows down slows every variant alike. Reported: median seconds per
step and training images per second, on the CPU and on CUDA when present, as JSON.

    python -m attnlab bench train                       # CPU (and CUDA) at the profile's size
    python -m attnlab bench train --quick               # a seconds-long smoke run (tests)
    python -m attnlab bench train --device cuda --size 416 --batch 32

On CUDA the JSON also holds an estimate of one full-profile detector training run (epochs x
training images / images per second) for each variant.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

import torch

__all__ = ["main", "measure"]

PHIS: tuple[tuple[int, str], ...] = ((0, "none"), (1, "se"), (2, "cbam"), (3, "eca"), (4, "ca"))


def _random_targets(batch: int, size: int, per_image: int, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    n = batch * per_image
    wh = torch.rand(n, 2, generator=generator) * size * 0.3 + size * 0.05
    xy = torch.rand(n, 2, generator=generator) * (size - wh)
    b = torch.arange(batch).repeat_interleave(per_image).float()
    c = torch.randint(0, num_classes, (n,), generator=generator).float()
    return torch.cat([b[:, None], c[:, None], xy, xy + wh], 1)


def measure(
    device: str,
    *,
    size: int,
    batch: int,
    repeats: int,
    warmup: int,
    phis: Sequence[int] = tuple(p for p, _ in PHIS),
    num_classes: int = 6,
    channels_last: bool = False,
) -> list[dict[str, Any]]:
    """Seconds per training step and images per second for each ``phi`` on ``device``."""
    from attnlab.bench import summarize, time_interleaved
    from attnlab.detection.loss import YoloLoss
    from attnlab.models import YoloV4Tiny
    from attnlab.models.yolo import attention_name

    dev = torch.device(device)
    amp = dev.type == "cuda"
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, size, size, generator=g).to(dev)
    targets = _random_targets(batch, size, 4, num_classes, g).to(dev)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    steps: dict[str, Any] = {}
    params: dict[str, int] = {}
    for phi in phis:
        name = attention_name(int(phi))
        torch.manual_seed(0)
        model = YoloV4Tiny(num_classes, attention=name, input_size=size).to(dev).train()
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        loss_fn = YoloLoss(num_classes, model.anchors, model.anchors_mask, size)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler(dev.type, enabled=amp)

        def step(model=model, loss_fn=loss_fn, opt=opt, scaler=scaler) -> None:
            with torch.autocast(dev.type, dtype=torch.float16, enabled=amp):
                loss, _ = loss_fn(model(images), targets)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

        steps[name] = step
        params[name] = sum(p.numel() for p in model.parameters())
    times = time_interleaved(steps, repeats=repeats, warmup=warmup, device=dev)
    rows = []
    for phi in phis:
        name = attention_name(int(phi))
        stats = summarize(times[name])
        rows.append({
            "phi": int(phi), "attention": name, "device": str(dev), "size": size, "batch": batch, "amp": amp,
            "params": params[name], **stats, "images_per_s": batch / (stats["median_ms"] / 1e3),
            "seconds": times[name],
        })
    base = next((r for r in rows if r["attention"] == "none"), None)
    for r in rows:
        r["relative_to_none"] = r["median_ms"] / base["median_ms"] if base else None
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from attnlab.bench import environment, format_table, write_json
    from attnlab.profiles import get_profile
    from attnlab.train.recipes import detector_recipe

    parser = argparse.ArgumentParser(
        prog="python -m attnlab bench train",
        description="Training images per second of YOLOv4-tiny for attention phi 0..4 (CPU, and CUDA when present).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--device", action="append", default=None,
                        help="cpu or cuda; repeat for several (default: cpu, plus cuda when available)")
    parser.add_argument("--size", type=int, default=None,
                        help="image size (default: the detector recipe's: quick on CPU, full on CUDA)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the recipe's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    parser.add_argument("--phis", default="0,1,2,3,4", help="comma-separated phi values")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test (64 px, batch 2, 1 repeat)")
    parser.add_argument("--out", default=str(Path("runs") / "bench" / "train.json"))
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    phis = [int(p) for p in args.phis.split(",") if p.strip()]
    results: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for device in devices:
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            print(f"skipping {device}: CUDA is not available")
            continue
        prof = get_profile(device=device, name="full" if torch.device(device).type == "cuda" else "quick")
        recipe = detector_recipe(prof)
        if args.quick:
            size, batch, repeats, warmup = 64, 2, 1, 1
        else:
            size = args.size or recipe.image_size
            batch = args.batch or recipe.batch_size
            repeats, warmup = args.repeats, args.warmup
        print(f"{device}: {len(phis)} variants, {size}px, batch {batch}, {repeats} timed steps each")
        rows = measure(device, size=size, batch=batch, repeats=repeats, warmup=warmup, phis=phis,
                       channels_last=args.channels_last)
        if torch.device(device).type == "cuda":
            d = recipe
            for r in rows:  # training steps only: add data loading and evaluation on top
                r["full_profile_minutes_estimate"] = d.epochs * d.n_train / r["images_per_s"] / 60
            meta["full_profile"] = {"image_size": d.image_size, "n_train": d.n_train, "epochs": d.epochs,
                                    "batch_size": d.batch_size, "measured_at": {"size": size, "batch": batch}}
        meta[device] = environment(device)
        results.extend(rows)
        print(format_table(rows, ["attention", "params", "median_ms", "images_per_s", "relative_to_none"]))
    path = write_json(args.out, {"benchmark": "train", "quick": args.quick, "environment": meta, "results": results})
    print(f"written to {path}")
    return 0
