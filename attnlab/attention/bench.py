"""``python -m attnlab bench attention``: parameters, FLOPs and latency of each attention block.

Each block of this package is timed against a *straightforward reference*, written below the way
the reference project and the authors' code write it (``nn.AdaptiveAvgPool2d`` + ``view``, the
shared MLP called twice, ``torch.max`` with indices, ...), in the same run and interleaved
(:func:`attnlab.bench.time_interleaved`), at the three YOLOv4-tiny slots (256x26x26, 512x13x13,
128x26x26) and a ResNet stage (64x56x56). A row's ``*_ratio`` is the median over paired runs of
package time / reference time (:func:`attnlab.bench.median_ratio`); ``not_slower`` is True when
both the forward and the forward+backward ratio are <= 1.0.

FLOPs. ``flops_matmul`` is what :class:`torch.utils.flop_counter.FlopCounterMode` reports for the
reference block (2 per multiply-accumulate of convs and matmuls; nothing else); the package's
blocks do the same arithmetic with the same layers. ``flops_elementwise`` is counted here by formula, per element touched, 1 FLOP for each add, multiply, divide, compare (max) or ReLU;
a mean over n values is n FLOPs (n - 1 adds, 1 divide), a max over n values n - 1 compares; a
sigmoid is 4 FLOPs (negate, exp, add, divide), h-swish 5; an inference BatchNorm 2 (scale and
shift). ``flops`` is their sum. Forward only, batch size 1.

Latency is wall-clock time: on a machine shared with other work, ratios near 1.0 move by several
percent between runs (the package's blocks run the same operations as their references, plus
their argument checks, so ratios near 1.0 are what to expect; slower rows are reported as they
come); ``--repeats`` and ``--threads 1`` steady them.

:func:`run_bench` returns the rows (a list of dicts) for a notebook; :func:`main` prints a table
and writes JSON (rows, a top-level ``summary``, provenance).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from attnlab import bench as _bench
from attnlab.attention.cbam import CBAM
from attnlab.attention.coord import CoordAttention
from attnlab.attention.eca import ECA
from attnlab.attention.se import SqueezeExcite
from attnlab.attention.simam import SimAM
from attnlab.attention.reference import RefCA, RefCBAM, RefChannelAttention, RefECA, RefSE, RefSimAM, RefSpatialAttention  # noqa: F401

# name -> (channels, height, width)
SLOTS: dict[str, tuple[int, int, int]] = {
    "yolo_feat1": (256, 26, 26),
    "yolo_feat2": (512, 13, 13),
    "yolo_upsample": (128, 26, 26),
    "resnet_stage1": (64, 56, 56),
}
MODULES = ("se", "cbam", "eca", "ca", "simam")


PACKAGE: dict[str, Callable[[int], nn.Module]] = {
    "se": SqueezeExcite,
    "cbam": CBAM,
    "eca": ECA,
    "ca": CoordAttention,
    "simam": SimAM,
}
REFERENCE: dict[str, Callable[[int], nn.Module]] = {
    "se": RefSE,
    "cbam": RefCBAM,
    "eca": RefECA,
    "ca": RefCA,
    "simam": RefSimAM,
}


# ----------------------------------------------------------------------------------------------
# FLOPs
# ----------------------------------------------------------------------------------------------

SIGMOID_FLOPS = 4


def elementwise_flops(name: str, c: int, h: int, w: int, batch: int = 1) -> int:
    """Forward FLOPs that ``FlopCounterMode`` does not count (see the module docstring).

    Default configurations; convs and matmuls (and their bias adds) are left to the counter.
    """
    n = c * h * w
    if name == "se":
        hidden = max(c // 16, 1)
        per = n + hidden + SIGMOID_FLOPS * c + n  # mean, ReLU, sigmoid, scale
    elif name == "cbam":
        hidden = max(c // 8, 1)
        hw = h * w
        channel = n + (n - c) + 2 * hidden + c + SIGMOID_FLOPS * c + n  # mean, max, ReLUs, sum, sigmoid, scale
        spatial = n + (n - hw) + SIGMOID_FLOPS * hw + n  # mean over C, max over C, sigmoid, scale
        per = channel + spatial
    elif name == "eca":
        per = n + SIGMOID_FLOPS * c + n
    elif name == "ca":
        hidden = max(c // 16, 1)
        length = h + w
        pools = n + n  # mean along W (C*H outputs of W values) and along H
        mid = 2 * hidden * length + hidden * length  # BN, ReLU
        gates = SIGMOID_FLOPS * c * length
        per = pools + mid + gates + 2 * n  # two scale multiplications
    elif name == "simam":
        # mean, subtract, square, sum, per-channel (scale, add, reciprocal), divide/multiply,
        # add 0.5, sigmoid, scale
        per = n + n + n + n + 3 * c + n + n + SIGMOID_FLOPS * n + n
    else:
        raise ValueError(f"elementwise_flops: unknown module {name!r}; expected one of {list(MODULES)}")
    return batch * per


def counted_flops(module: nn.Module, x: Tensor) -> int:
    """Conv and matmul FLOPs as :class:`~torch.utils.flop_counter.FlopCounterMode` counts them."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------------------------


def _forward_fn(module: nn.Module, x: Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.no_grad():
            return module(x)

    return run


def _train_fn(module: nn.Module, x: Tensor, grad: Tensor) -> Callable[[], object]:
    params = [p for p in module.parameters() if p.requires_grad]
    xg = x.detach().clone().requires_grad_(True)

    def run() -> object:
        out = module(xg)
        return torch.autograd.grad(out, [xg, *params], grad)

    return run


def _time_pair(row: dict, prefix: str, ours: Callable[[], object], ref: Callable[[], object], **timing) -> None:
    """Time ``ours`` against ``ref`` interleaved; store ``<prefix>_ms``, ``_ref_ms`` and ``_ratio`` in ``row``."""
    t = _bench.time_interleaved({"ours": ours, "ref": ref}, **timing)
    row[f"{prefix}_ms"] = statistics.median(t["ours"]) * 1e3
    row[f"{prefix}_ref_ms"] = statistics.median(t["ref"]) * 1e3
    row[f"{prefix}_ratio"] = _bench.median_ratio(t, "ours", "ref")


def run_bench(
    modules: Sequence[str] = MODULES,
    slots: Sequence[str] | None = None,
    *,
    device: str | torch.device = "cpu",
    batch: int = 8,
    repeats: int = 25,
    warmup: int = 3,
    backward: bool = True,
    seed: int = 0,
) -> list[dict[str, object]]:
    """Measure every module at every slot; returns one dict per (module, slot).

    Keys of a row: ``module``, ``slot``, ``shape`` ([B, C, H, W]), ``device``, ``params``,
    ``params_reference``, ``flops_matmul``, ``flops_elementwise``, ``flops`` (per image),
    ``fwd_ms``, ``fwd_ref_ms`` (medians), ``fwd_ratio``, and with ``backward``: ``train_ms``,
    ``train_ref_ms``, ``train_ratio`` (forward + backward w.r.t. input and parameters);
    ``not_slower`` (every ratio <= 1.0).
    """
    device = torch.device(device)
    slots = list(SLOTS) if slots is None else list(slots)
    for s in slots:
        if s not in SLOTS:
            raise ValueError(f"run_bench: unknown slot {s!r}; expected one of {list(SLOTS)}")
    for m in modules:
        if m not in PACKAGE:
            raise ValueError(f"run_bench: unknown module {m!r}; expected one of {list(MODULES)}")
    rows: list[dict[str, object]] = []
    for slot in slots:
        c, h, w = SLOTS[slot]
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, c, h, w, generator=gen).to(device)
        grad = torch.randn(batch, c, h, w, generator=gen).to(device)
        for name in modules:
            torch.manual_seed(seed)
            ours = PACKAGE[name](c).to(device)
            ref = REFERENCE[name](c).to(device)
            ref.load_state_dict(ours.state_dict())
            x1 = x[:1]
            flops_matmul = counted_flops(ref.eval(), x1)
            flops_elem = elementwise_flops(name, c, h, w)
            row: dict[str, object] = {
                "module": name,
                "slot": slot,
                "shape": [batch, c, h, w],
                "device": str(device),
                "params": sum(p.numel() for p in ours.parameters()),
                "params_reference": sum(p.numel() for p in ref.parameters()),
                "flops_matmul": flops_matmul,
                "flops_elementwise": flops_elem,
                "flops": flops_matmul + flops_elem,
            }
            ours.eval(), ref.eval()
            timing = dict(repeats=repeats, warmup=warmup, device=device)
            _time_pair(row, "fwd", _forward_fn(ours, x), _forward_fn(ref, x), **timing)
            ratios = [row["fwd_ratio"]]
            if backward:
                ours.train(), ref.train()
                _time_pair(row, "train", _train_fn(ours, x, grad), _train_fn(ref, x, grad), **timing)
                ratios.append(row["train_ratio"])
            row["not_slower"] = bool(all(r <= 1.0 for r in ratios))
            rows.append(row)
    return rows


def summarize(rows: list[dict[str, object]]) -> dict[str, object]:
    """Top-level summary: counts, the worst ratio, geometric means of the ratios."""

    def geomean(vals: list[float]) -> float | None:
        return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None

    fwd = [float(r["fwd_ratio"]) for r in rows]
    train = [float(r["train_ratio"]) for r in rows if "train_ratio" in r]
    worst = max(rows, key=lambda r: max(float(r["fwd_ratio"]), float(r.get("train_ratio", 0.0))), default=None)
    return {
        "rows": len(rows),
        "not_slower": sum(bool(r["not_slower"]) for r in rows),
        "all_not_slower": all(bool(r["not_slower"]) for r in rows),
        "slower": [f"{r['module']}@{r['slot']}@{r['device']}" for r in rows if not r["not_slower"]],
        "geomean_fwd_ratio": geomean(fwd),
        "geomean_train_ratio": geomean(train),
        "worst": None
        if worst is None
        else {
            "module": worst["module"],
            "slot": worst["slot"],
            "device": worst["device"],
            "fwd_ratio": worst["fwd_ratio"],
            "train_ratio": worst.get("train_ratio"),
        },
    }


COLUMNS = [
    "module", "slot", "device", "params", "flops", "fwd_ms", "fwd_ratio", "train_ms", "train_ratio", "not_slower",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attnlab bench attention",
        description="Parameters, FLOPs and latency of the attention blocks vs straightforward references.",
    )
    parser.add_argument("--modules", nargs="+", default=list(MODULES), choices=list(MODULES))
    parser.add_argument("--slots", nargs="+", default=list(SLOTS), choices=list(SLOTS))
    parser.add_argument(
        "--device", nargs="+", default=None, help="cpu and/or cuda (default: cpu, and cuda when available)"
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--no-backward", action="store_true", help="time the forward pass only")
    parser.add_argument("--out", default="bench-results/attention.json", help="JSON file to write")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--batch and --repeats must be >= 1, --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rows: list[dict[str, object]] = []
    envs = {}
    for dev in devices:
        if torch.device(dev).type == "cuda" and not torch.cuda.is_available():
            print(f"bench attention: skipping {dev}: CUDA is not available", file=sys.stderr)
            continue
        rows += run_bench(
            args.modules,
            args.slots,
            device=dev,
            batch=args.batch,
            repeats=args.repeats,
            warmup=args.warmup,
            backward=not args.no_backward,
        )
        envs[dev] = _bench.environment(dev)
    print(_bench.format_table(rows, [c for c in COLUMNS if args.no_backward is False or "train" not in c]))
    summary = summarize(rows)
    print(
        f"\n{summary['not_slower']}/{summary['rows']} rows not slower than the reference; "
        f"geometric-mean ratio forward {summary['geomean_fwd_ratio']:.3f}"
        + (f", forward+backward {summary['geomean_train_ratio']:.3f}" if summary["geomean_train_ratio"] else "")
    )
    payload = {
        "benchmark": "attention",
        "config": {
            "batch": args.batch,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "torch_threads": torch.get_num_threads(),
            "clock": "wall (time.perf_counter), interleaved; ratios are medians of paired runs",
            "slots": {s: list(SLOTS[s]) for s in args.slots},
            "flops_note": "flops = flops_matmul (torch FlopCounterMode) + flops_elementwise (by formula, "
            "see attnlab.attention.bench); per image, forward",
        },
        "environment": envs,
        "summary": summary,
        "rows": rows,
    }
    path = _bench.write_json(args.out, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
