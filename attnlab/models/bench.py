"""``python -m attnlab bench yolo``: forward latency of YOLOv4-tiny, phi 0..4, fused and unfused.

Every configuration (device, input size, batch) times all candidates *interleaved* with the
unfused phi 0 model (the baseline) in the same run, and reports each candidate's median latency
and its median paired ratio to the baseline. Fused candidates come from
:func:`attnlab.models.fuse_for_inference`; all forwards run under ``torch.inference_mode()``.
The largest difference between a fused model's outputs and its unfused original is recorded too.

::

    python -m attnlab bench yolo                      # CPU (and CUDA when present), full grid
    python -m attnlab bench yolo --quick --out /tmp/yolo.json
    python -m attnlab bench yolo --device cuda --channels-last
"""

from __future__ import annotations

import argparse
from typing import Sequence

import torch

from attnlab.bench import environment, format_table, median_ratio, summarize, time_interleaved, write_json

__all__ = ["main", "run_bench"]

BASELINE = "phi0/unfused"


def _models(phis: Sequence[int], num_classes: int, device: torch.device, channels_last: bool, seed: int) -> dict[str, torch.nn.Module]:
    from attnlab.models.fuse import fuse_for_inference
    from attnlab.models.yolo import YoloV4Tiny

    models: dict[str, torch.nn.Module] = {}
    for phi in sorted(set(phis) | {0}):  # the unfused phi 0 baseline always runs
        torch.manual_seed(seed + phi)
        model = YoloV4Tiny(num_classes=num_classes, attention=phi)
        # non-trivial batch-norm statistics, so folding them is a real test
        gen = torch.Generator().manual_seed(seed + 100 + phi)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
        model = model.eval().to(device)
        models[f"phi{phi}/unfused"] = model
        if phi not in phis:
            continue
        models[f"phi{phi}/fused"] = fuse_for_inference(model)
        if channels_last:
            models[f"phi{phi}/fused+channels_last"] = fuse_for_inference(model, channels_last=True)
    return models


def run_bench(
    *,
    devices: Sequence[str],
    phis: Sequence[int] = (0, 1, 2, 3, 4),
    sizes: Sequence[int] = (416, 320),
    batches: Sequence[int] = (1, 32),
    repeats: int = 10,
    warmup: int = 2,
    num_classes: int = 20,
    channels_last: bool = False,
    seed: int = 0,
    verbose: bool = True,
) -> list[dict[str, object]]:
    """Run the grid and return one row per (device, size, batch, candidate)."""
    rows: list[dict[str, object]] = []
    for dev_name in devices:
        device = torch.device(dev_name)
        models = _models(phis, num_classes, device, channels_last, seed)
        for size in sizes:
            for batch in batches:
                x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(device)
                x_cl = x.contiguous(memory_format=torch.channels_last)

                def call(model: torch.nn.Module, inp: torch.Tensor):
                    def f() -> object:
                        with torch.inference_mode():
                            return model(inp)
                    return f

                candidates = {name: call(m, x_cl if name.endswith("channels_last") else x) for name, m in models.items()}
                with torch.inference_mode():
                    ref_out = {name: m(x) for name, m in models.items() if name.endswith("/unfused")}
                    diffs = {}
                    for name, m in models.items():
                        base = ref_out[name.split("/")[0] + "/unfused"]
                        out = m(x_cl if name.endswith("channels_last") else x)
                        diffs[name] = max(float((a.float() - b.float()).abs().max()) for a, b in zip(out, base))
                times = time_interleaved(candidates, repeats=repeats, warmup=warmup, device=device)
                for name, t in times.items():
                    phi = int(name.split("/")[0][3:])
                    row: dict[str, object] = {
                        "device": str(device),
                        "size": size,
                        "batch": batch,
                        "phi": phi,
                        "attention": models[name].attention,
                        "variant": name.split("/", 1)[1],
                        "name": name,
                        **summarize(t),
                        "baseline": BASELINE,
                        "ratio_to_baseline": median_ratio(times, name, BASELINE),
                        "images_per_s": batch / (sorted(t)[len(t) // 2]),
                        "max_abs_diff_vs_unfused": diffs[name],
                        "params": sum(p.numel() for p in models[name].parameters()),
                        "repeats": repeats,
                    }
                    rows.append(row)
                if verbose:
                    these = [r for r in rows if r["device"] == str(device) and r["size"] == size and r["batch"] == batch]
                    print(f"\n{device} size {size} batch {batch} ({repeats} interleaved repeats)")
                    print(format_table(these, ["name", "median_ms", "q1_ms", "q3_ms", "ratio_to_baseline", "max_abs_diff_vs_unfused"]))
        del models
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnlab bench yolo", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cpu, plus cuda when present)")
    parser.add_argument("--phi", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="attention phis (default 0..4)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[416, 320], help="input sides (multiples of 32)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32], help="batch sizes")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per candidate")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per candidate")
    parser.add_argument("--channels-last", action="store_true", help="also time fused models in channels_last")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="batch 1, size 64, 3 repeats: a smoke test")
    parser.add_argument("--out", default="bench-results/yolo.json", help="JSON file to write")
    args = parser.parse_args(argv)

    for s in args.sizes:
        if s <= 0 or s % 32:
            parser.error(f"--sizes: {s} is not a positive multiple of 32")
    if any(p not in range(5) for p in args.phi):
        parser.error("--phi: values must be in 0..4")
    if args.quick:
        args.sizes, args.batches, args.repeats, args.warmup = [64], [1], 3, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
        if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
            parser.error("--device cuda: CUDA is not available")
    rows = run_bench(
        devices=devices,
        phis=args.phi,
        sizes=args.sizes,
        batches=args.batches,
        repeats=args.repeats,
        warmup=args.warmup,
        channels_last=args.channels_last,
    )
    payload = {
        "benchmark": "yolo",
        "description": "YOLOv4-tiny forward latency, fused vs unfused conv+BN, interleaved with the unfused phi 0 baseline",
        "settings": {
            "devices": devices,
            "phis": args.phi,
            "sizes": args.sizes,
            "batches": args.batches,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "channels_last": args.channels_last,
            "quick": args.quick,
            "num_classes": 20,
            "baseline": BASELINE,
            "ratio": "median over repeats of (candidate time / baseline time) of back-to-back calls",
        },
        "environment": {d: environment(d) for d in devices},
        "results": rows,
    }
    path = write_json(args.out, payload)
    print(f"\nwrote {path}")
    return 0
