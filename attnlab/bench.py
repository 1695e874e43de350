"""Shared benchmarking helpers: interleaved timing, provenance, JSON output.

Every ``python -m attnlab bench <topic>`` command uses these so that all benchmark JSON files carry
the same provenance (device, torch version, commit, date) and all ratios are measured the same way:
the candidates are run *interleaved* (A, B, A, B, ...) so that a machine that slows down halfway
through slows every candidate alike, and the reported figure is the median.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work so a timer measures it (no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    candidates: Mapping[str, Callable[[], object]],
    *,
    repeats: int = 20,
    warmup: int = 3,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Time several zero-argument callables, interleaved, and return seconds per call.

    Args:
        candidates: name -> callable. Each is called ``warmup`` times, then ``repeats`` times in
            round-robin order with the others.
        repeats: timed calls per candidate (>= 1).
        warmup: untimed calls per candidate before timing (>= 0).
        device: where the work runs; CUDA work is synchronised before each clock read.

    Returns:
        name -> list of ``repeats`` durations in seconds, in the order measured.
    """
    if repeats < 1:
        raise ValueError(f"time_interleaved: repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"time_interleaved: warmup must be >= 0, got {warmup}")
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(times: Mapping[str, list[float]], name: str, baseline: str) -> float:
    """Median over paired runs of ``times[name][i] / times[baseline][i]``.

    Pairing run *i* of one with run *i* of the other (they ran back to back) cancels slow drifts
    of the machine better than a ratio of two medians.
    """
    pairs = zip(times[name], times[baseline])
    return statistics.median(a / b for a, b in pairs)


def summarize(seconds: list[float]) -> dict[str, float]:
    """Median, min and interquartile range in milliseconds."""
    ms = sorted(s * 1e3 for s in seconds)
    q = statistics.quantiles(ms, n=4) if len(ms) > 1 else [ms[0]] * 3
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "q1_ms": q[0], "q3_ms": q[2]}


def _git(*args: str) -> str | None:
    """stdout of a git command run in this package's folder (None when git is unavailable)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(default: str = "unknown") -> str:
    """The current commit of the repository this package lives in, if any."""
    return (_git("rev-parse", "HEAD") or "").strip() or default


def git_dirty() -> bool | None:
    """True when tracked files differ from that commit (None outside a git checkout)."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def environment(device: torch.device | str = "cpu") -> dict[str, object]:
    """Provenance recorded in every benchmark and results file."""
    dev = torch.device(device)
    info: dict[str, object] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(dev),
    }
    if dev.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(dev)
    else:
        info["device_name"] = platform.processor() or platform.machine()
    # the CPU and the vector instructions torch's kernels use: another CPU may round differently,
    # so a CPU run reproduces bit for bit only where these match
    info["cpu_model"] = cpu_model()
    info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def results_dir() -> Path | None:
    """The folder of the book's committed results (``results/``: reference runs, benchmarks): the
    checkout's when attnlab runs from one, else the copy installed with the package
    (``attnlab.results``); None when neither exists."""
    package = Path(__file__).resolve().parent
    for folder in (package.parent / "results", package / "results"):
        if folder.is_dir() and any(folder.glob("*.json")):
            return folder
    return None


def jsonable(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, numpy scalars floats."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike, payload: Mapping[str, object]) -> Path:
    """Write ``payload`` as indented JSON, creating parent folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def format_table(rows: list[Mapping[str, object]], columns: list[str]) -> str:
    """A plain-text table of ``rows`` (dicts) showing ``columns``; floats get 3 significant digits."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(b) for b in body)])
