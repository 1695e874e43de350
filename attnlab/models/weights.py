"""Load YOLOv4-tiny checkpoints, including the reference project's, and report what happened.

:func:`load_checkpoint` accepts a path (read with ``torch.load(weights_only=True)``, so a file
cannot run code) or a state dict, unwraps the usual containers (``{"model": ...}``,
``{"state_dict": ...}``, ``{"model_state_dict": ...}``) and the ``module.`` prefix that
``DistributedDataParallel`` / ``DataParallel`` add, and returns a :class:`LoadResult` naming every
missing, unexpected and shape-mismatched key. ``reinit_heads=True`` keeps the backbone and neck of
a checkpoint trained on another class count and re-initialises the two prediction layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["LoadResult", "CheckpointError", "load_checkpoint", "unwrap_state_dict", "read_torch_file"]

_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "net", "weights")
_PREFIXES = ("module.", "_orig_mod.", "model.")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into this model (wrong architecture, bad keys, ...)."""


def read_torch_file(path: str | os.PathLike, *, who: str = "load_checkpoint", map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that say what is wrong with the file.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a folder, an empty file, a file that is not a torch checkpoint at all, a
            truncated or corrupt one, or one holding Python objects other than tensors and plain
            containers (refused: reading it would let the file run code). The message never
            suggests ``weights_only=False``.
    """
    import pickle

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{who}: {path} is a folder; expected a checkpoint file (.pt/.pth)")
    if not path.is_file():
        raise FileNotFoundError(f"{who}: no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{who}: {path} is empty (0 bytes); expected a torch checkpoint (an interrupted copy?)")
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive (PyTorch >= 1.6) or, in the legacy format, a pickle stream
    if not (head == b"PK\x03\x04" or head[:1] == b"\x80"):
        raise CheckpointError(f"{who}: {path} is not a torch checkpoint ({size} bytes, neither a zip archive nor a "
                              "pickle stream, as torch.save writes)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line or "GLOBAL" in line), "")
        raise CheckpointError(
            f"{who}: {path} holds Python objects other than tensors, numbers, strings and containers"
            + (f" ({detail})" if detail else "")
            + "; attnlab reads checkpoints weights-only so that a file cannot run code, and refuses this one"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a zip or pickle that torch cannot read: corrupt or truncated
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{who}: {path} is a damaged or truncated torch checkpoint ({type(exc).__name__}: {first})") from exc


@dataclass
class LoadResult:
    """What :func:`load_checkpoint` did.

    Attributes:
        loaded: keys copied from the checkpoint into the model.
        missing: model keys the checkpoint does not have (left as they were).
        unexpected: checkpoint keys the model does not have (ignored).
        mismatched: ``key -> (checkpoint shape, model shape)`` for keys present in both with
            different shapes (not loaded).
        reinitialized: modules re-initialised because of ``reinit_heads``.
        source: where the checkpoint came from (path or ``"<state_dict>"``).
        stripped_prefix: the prefix removed from every key (``"module."``), if any.
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    reinitialized: list[str] = field(default_factory=list)
    source: str = "<state_dict>"
    stripped_prefix: str = ""

    @property
    def ok(self) -> bool:
        """True when every key matched (nothing missing, unexpected or mismatched)."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """A few lines for a notebook or log."""
        lines = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        if self.stripped_prefix:
            lines.append(f"stripped key prefix {self.stripped_prefix!r}")
        if self.reinitialized:
            lines.append(f"re-initialised: {', '.join(self.reinitialized)}")
        if self.missing:
            lines.append(f"missing ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"unexpected ({len(self.unexpected)}): {', '.join(self.unexpected)}")
        for k, (a, b) in self.mismatched.items():
            lines.append(f"shape mismatch {k}: checkpoint {a} vs model {b}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def unwrap_state_dict(obj: Any) -> tuple[dict[str, torch.Tensor], str]:
    """Find the state dict inside a loaded checkpoint object; returns ``(state_dict, prefix)``.

    Unwraps ``{"model": sd}`` (and ``state_dict``, ``model_state_dict``, ``net``, ``weights``),
    nested once or twice, and strips a prefix shared by every key (``module.`` from DDP,
    ``_orig_mod.`` from ``torch.compile``).
    """
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    for _ in range(3):
        if isinstance(obj, Mapping) and not _looks_like_state_dict(obj):
            inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj and isinstance(obj[k], (Mapping, nn.Module))), None)
            if inner is None:
                break
            obj = inner.state_dict() if isinstance(inner, nn.Module) else inner
    if not isinstance(obj, Mapping) or not _looks_like_state_dict(obj):
        kind = type(obj).__name__
        keys = list(obj)[:8] if isinstance(obj, Mapping) else []
        raise CheckpointError(
            f"not a state dict: got a {kind}"
            + (f" with keys {keys}" if keys else "")
            + "; expected a mapping of parameter names to tensors, optionally under 'model' or 'state_dict'"
        )
    sd = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    stripped = ""
    for prefix in _PREFIXES:
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
            stripped += prefix
    return sd, stripped


def _looks_like_state_dict(obj: Mapping) -> bool:
    return len(obj) > 0 and sum(isinstance(v, torch.Tensor) for v in obj.values()) >= max(1, len(obj) // 2)


def load_checkpoint(
    model: nn.Module,
    checkpoint: str | os.PathLike | Mapping[str, Any],
    *,
    strict: bool = True,
    reinit_heads: bool = False,
    map_location: str | torch.device = "cpu",
    min_overlap: float = 0.5,
) -> LoadResult:
    """Load a checkpoint into ``model`` and report missing, unexpected and mismatched keys.

    Args:
        model: the model to fill (a :class:`~attnlab.models.YoloV4Tiny` or any module).
        checkpoint: a file path (``.pth``/``.pt``, read with ``weights_only=True``), a state dict,
            a dict wrapping one, or a module.
        strict: raise :class:`CheckpointError` unless every key matches in name and shape (keys
            dropped by ``reinit_heads`` excepted). With ``strict=False`` whatever matches is
            loaded and the rest reported in the result.
        reinit_heads: do not load the two prediction layers (``yolo_headP5.1``,
            ``yolo_headP4.1``, whose shapes depend on the class count) and re-initialise them:
            transfer learning from e.g. the 20-class VOC weights to another class count. The
            model must already have the new ``num_classes``.
        map_location: where tensors are loaded before copying.
        min_overlap: if fewer than this fraction of the model's keys appear in the checkpoint,
            it is taken to be a checkpoint of another architecture and rejected even with
            ``strict=False``.

    Returns:
        a :class:`LoadResult`.

    Raises:
        FileNotFoundError: the path does not exist.
        CheckpointError: the file is not a state dict, belongs to another architecture, or (with
            ``strict=True``) does not match exactly.
    """
    source = "<state_dict>"
    if isinstance(checkpoint, (str, os.PathLike)):
        path = Path(checkpoint)
        source = str(path)
        obj = read_torch_file(path, who="load_checkpoint", map_location=map_location)
    else:
        obj = checkpoint
    sd, stripped = unwrap_state_dict(obj)

    model_sd = model.state_dict()
    head_prefixes: tuple[str, ...] = ()
    result = LoadResult(source=source, stripped_prefix=stripped)
    if reinit_heads:
        layers = getattr(model, "prediction_layers", None)
        if layers is None:
            raise CheckpointError(f"reinit_heads=True needs a YOLO model with prediction_layers(), got {type(model).__name__}")
        from attnlab.models.yolo import PREDICTION_LAYERS

        head_prefixes = tuple(name + "." for name in PREDICTION_LAYERS)

    overlap = sum(k in model_sd for k in sd)
    if overlap < min_overlap * len(model_sd):
        sample = ", ".join(list(sd)[:5])
        raise CheckpointError(
            f"load_checkpoint: {source} does not look like a checkpoint for {type(model).__name__}: only "
            f"{overlap} of the model's {len(model_sd)} keys appear in it (checkpoint keys start: {sample}). "
            "Is it for another architecture?"
        )

    to_load: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if head_prefixes and k.startswith(head_prefixes):
            continue
        if k not in model_sd:
            result.unexpected.append(k)
        elif tuple(v.shape) != tuple(model_sd[k].shape):
            result.mismatched[k] = (tuple(v.shape), tuple(model_sd[k].shape))
        else:
            to_load[k] = v
    result.missing = [k for k in model_sd if k not in sd and not (head_prefixes and k.startswith(head_prefixes))]

    if strict and not result.ok:
        hint = ""
        if any(k.startswith(("yolo_headP5.1", "yolo_headP4.1")) for k in result.mismatched):
            hint = " The prediction layers differ in shape: another class count? Use reinit_heads=True."
        if any("_att." in k for k in result.unexpected + result.missing):
            hint += " Attention keys differ: was the checkpoint trained with another attention (phi)?"
        raise CheckpointError(f"load_checkpoint (strict): {source} does not match the model.\n{result.summary()}{hint}")

    with torch.no_grad():
        for k, v in to_load.items():
            model_sd[k].copy_(v.to(dtype=model_sd[k].dtype))
    result.loaded = list(to_load)
    if reinit_heads:
        for name in (p[:-1] for p in head_prefixes):
            module = model.get_submodule(name)
            module.reset_parameters()
            result.reinitialized.append(name)
    return result
