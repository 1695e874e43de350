"""Shared plumbing of the attention modules: argument checks, the gate recorder, a base class.

Nothing here is public API; :mod:`attnlab.attention` re-exports what readers need.

The gate recorder is how :func:`attnlab.attention.capture` looks inside a model without hooks:
while a capture is active, ``_ACTIVE`` holds a :class:`_Recorder`; each attention module's
``forward`` checks that one global and, only when it is set, hands its gate tensors over. When no
capture is active the cost is one global read per forward.
"""

from __future__ import annotations

import warnings

from torch import Tensor, nn

# The recorder of the innermost active ``capture`` (None when no capture is active).
_ACTIVE: "_Recorder | None" = None


class _Recorder:
    """Collects gate tensors keyed by module path (see :func:`attnlab.attention.capture`)."""

    def __init__(self, paths: dict[int, str], keep: str) -> None:
        self.paths = paths  # id(module) -> dotted path in the captured model
        self.keep = keep  # "last" or "all"
        self.gates: dict[str, object] = {}

    def record(self, module: nn.Module, gates: dict[str, Tensor]) -> None:
        path = self.paths.get(id(module))
        if path is None:  # a module that is not part of the captured model
            return
        entry = {k: v.detach() for k, v in gates.items()}
        if self.keep == "all":
            self.gates.setdefault(path, []).append(entry)  # type: ignore[union-attr]
        else:
            self.gates[path] = entry


def record(module: nn.Module, gates: dict[str, Tensor]) -> None:
    """Hand ``gates`` to the active capture, if any (called from ``forward`` only when active)."""
    rec = _ACTIVE
    if rec is not None:
        rec.record(module, gates)


# --------------------------------------------------------------------------------------------
# argument checks: every message names the module, the argument, what was expected, what came
# --------------------------------------------------------------------------------------------


def check_channels(owner: str, channels: object) -> int:
    """``channels`` must be a positive int (bools are refused)."""
    if isinstance(channels, bool) or not isinstance(channels, int):
        raise TypeError(f"{owner}: channels must be a positive int, got {channels!r} ({type(channels).__name__})")
    if channels < 1:
        raise ValueError(f"{owner}: channels must be a positive int, got {channels}")
    return channels


def check_positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return value


def check_choice(owner: str, name: str, value: object, choices: tuple) -> object:
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {list(choices)}, got {value!r}")
    return value


def hidden_width(owner: str, channels: int, reduction: int, min_hidden: int, arg: str = "reduction") -> int:
    """Bottleneck width ``max(channels // reduction, min_hidden)``.

    When ``reduction`` is larger than ``channels`` the plain formula gives 0 (the reference blocks
    would build an empty layer); we use ``min_hidden`` instead and warn, naming the numbers.
    """
    reduction = check_positive_int(owner, arg, reduction)
    min_hidden = check_positive_int(owner, "min_hidden", min_hidden)
    plain = channels // reduction
    if plain == 0:
        warnings.warn(
            f"{owner}: {arg}={reduction} is larger than channels={channels}, so "
            f"channels // reduction = 0; using the minimum hidden width min_hidden={min_hidden}",
            UserWarning,
            stacklevel=3,
        )
    return max(plain, min_hidden)


def check_input(module: nn.Module, x: object) -> None:
    """A 4-D tensor (B, C, H, W) with the channel count the module was built for."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{type(module).__name__}: input must be a torch.Tensor (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(
            f"{type(module).__name__}: input must be a 4-D tensor (B, C, H, W), "
            f"got {x.dim()}-D tensor of shape {tuple(x.shape)}"
        )
    channels = module.channels
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{type(module).__name__}: input channels (dim 1) must be {channels} "
            f"(the module was built with channels={channels}), got {x.shape[1]} "
            f"in input of shape {tuple(x.shape)}"
        )


def check_spatial(module: nn.Module, x: Tensor) -> None:
    """Blocks that pool over the map (CBAM's max pooling, CA's strips) need at least one row and
    one column: a map with none has nothing to pool."""
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(
            f"{type(module).__name__}: input height and width (dims 2 and 3) must be >= 1, "
            f"got input of shape {tuple(x.shape)}"
        )


# --------------------------------------------------------------------------------------------
# gate functions
# --------------------------------------------------------------------------------------------

GATES = ("sigmoid", "hsigmoid")


def resolve_gate(owner: str, gate: object) -> tuple[nn.Module, str]:
    """Module (for ``repr`` and the ``Sequential`` layout) and kind of a gate choice.

    ``"sigmoid"`` (default), ``"hsigmoid"`` (``relu6(x + 3) / 6``, MobileNetV3; its values lie in
    [0, 1], not (0, 1)), or an ``nn.Module`` used as is (kind ``"module"``).
    """
    if isinstance(gate, nn.Module):
        return gate, "module"
    if gate == "sigmoid":
        return nn.Sigmoid(), "sigmoid"
    if gate == "hsigmoid":
        return nn.Hardsigmoid(), "hsigmoid"
    raise ValueError(f"{owner}: gate must be one of {list(GATES)} or an nn.Module, got {gate!r}")


class AttentionModule(nn.Module):
    """Base of the attention blocks: ``channels`` attribute, input check, gate recording.

    Subclasses implement ``forward(x) -> Tensor`` of the same shape as ``x`` and call
    ``self._record({...})`` under ``if _common._ACTIVE is not None``. Every block computes with
    plain PyTorch operations and lets autograd differentiate them (there are no hand-written
    backward passes): outputs, first and second derivatives are those of the formulas.
    """

    channels: int | None

    def _record(self, gates: dict[str, Tensor]) -> None:
        record(self, gates)
