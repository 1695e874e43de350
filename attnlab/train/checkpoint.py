"""Checkpoints that survive a crash, and the random-number state that makes resuming exact.

:func:`save_checkpoint` never leaves a half-written file under the real name: it writes to a
temporary file in the same folder, flushes it to disk (``fsync``), then renames it over the old
checkpoint with ``os.replace``, which is atomic on POSIX and Windows. A process killed at any
moment leaves either the old checkpoint or the new one, plus at worst a stray ``.tmp`` file that
the next save removes.

:func:`rng_state` / :func:`set_rng_state` capture every generator a training step can draw from:
torch's CPU generator (dropout, ``RandomSampler`` without its own generator, augmentation), CUDA's
(when present), numpy's legacy global generator, Python's ``random``, and any ``torch.Generator``
you name (a DataLoader's ``generator``, its sampler's). Everything is stored as tensors, ints and
lists so that checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "seed_everything"]

TMP_MARK = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` with ``torch.save`` to ``path`` atomically; returns the path.

    Steps: write ``.<name>.tmp-<pid>`` in the same folder (a rename across file systems would not
    be atomic), ``fsync`` it, ``os.replace`` it over ``path``, ``fsync`` the folder. Stray
    temporary files left by killed writers are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}{TMP_MARK}*"):
        stale.unlink(missing_ok=True)
    tmp = path.parent / f".{path.name}{TMP_MARK}{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            torch.save(dict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (safely: ``weights_only=True``).

    Raises:
        FileNotFoundError: no such file.
        attnlab.models.CheckpointError: (a ``ValueError``) a folder, an empty, damaged or foreign
            file, one holding more than tensors and plain values, or one that is not a dict.
    """
    from attnlab.models.weights import CheckpointError, read_torch_file

    obj = read_torch_file(path, who="load_checkpoint", map_location=map_location)
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"load_checkpoint: {path} holds a {type(obj).__name__}; expected a dict as save_checkpoint writes it"
        )
    return obj


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global generator and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Every random-number state a training step may use, as tensors and plain values.

    Args:
        generators: extra named ``torch.Generator`` objects, e.g. a DataLoader's.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Restore what :func:`rng_state` captured (the same ``generators`` names)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    saved = state.get("generators", {})
    for name, g in (generators or {}).items():
        if name in saved:
            g.set_state(saved[name].cpu())
