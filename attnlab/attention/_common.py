"""Shared plumbing of the attention modules: argument checks, the gate recorder, a base class.

Nothing here is public API; :mod:`attnlab.attention` re-exports what readers need.

The gate recorder is how :func:`attnlab.attention.capture` looks inside a model without hooks:
while a capture is active, ``_ACTIVE`` holds a :class:`_Recorder`; each attention module's
``forward`` checks that one global and, only when it is set, hands its gate tensors over. When no
capture is active the cost is one global read per forward.
"""

from __future__ import annotations

import warnings
import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

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


def apply_gate(kind: str, module: nn.Module, t: Tensor) -> Tensor:
    if kind == "sigmoid":
        return torch.sigmoid(t)
    if kind == "hsigmoid":
        return F.hardsigmoid(t)
    return module(t)


def tracks_grad(x: Tensor, module: nn.Module) -> bool:
    """True when autograd records this forward (then temporaries must not be modified in place).

    Also True under ``torch.compile`` / export tracing, where the plain out-of-place code is
    what the compiler should see (it fuses the elementwise work itself).
    """
    if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return True
    if not torch.is_grad_enabled():
        return False
    if x.requires_grad:
        return True
    return any(p.requires_grad for p in module.parameters())


# False: every block takes the plain path (for tests and comparisons)
FUSED_ENABLED = True


def use_fused(x: Tensor, module: nn.Module) -> bool:
    """True when the hand-fused training path should run: autograd records this forward, and no
    compiler or exporter is tracing (they get the plain code, which they fuse themselves).

    The fused paths are ``torch.autograd.Function`` s whose backward computes the gradients of the
    whole block in a few passes over the feature map (the reference code's autograd graph makes
    many, each allocating a full-size tensor). They support first derivatives only
    (``once_differentiable``): for double backward, run under ``torch.compile`` or use the
    functional forms. Under autocast (mixed-precision training) the plain path runs: autograd
    handles the mixed dtypes there.
    """
    if not FUSED_ENABLED or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return False
    if torch.is_autocast_enabled(x.device.type):
        return False  # mixed precision: the hand-written backward passes assume one dtype
    return tracks_grad(x, module)


class SmallGraph:
    """The small (descriptor-sized) part of a block, recorded by autograd inside a fused forward.

    A fused block handles the full-size feature map by hand but leaves the small maps (an MLP on
    pooled descriptors, a 2-channel conv) to autograd: ``SmallGraph(fn, inputs, needs)`` runs
    ``fn(*inputs)`` with grad enabled, each descriptor replaced by a fresh leaf (parameters, which
    are leaves already, stay themselves), and keeps the graph until the backward pass calls
    :meth:`grads`. Recording once in the forward costs nothing extra; re-running ``fn`` in the
    backward would compute the small maps twice (and update BatchNorm statistics twice).
    """

    def __init__(self, fn, inputs: list[Tensor | None], needs: tuple[bool, ...]) -> None:
        with torch.enable_grad():
            self.leaves = [
                None if t is None else (t if t.is_leaf and t.requires_grad else t.detach().requires_grad_(bool(n)))
                for t, n in zip(inputs, needs)
            ]
            out = fn(*self.leaves)
        self.outputs = (out,) if isinstance(out, Tensor) else tuple(out)
        self.needs = needs

    def detached(self) -> tuple[Tensor, ...]:
        """The outputs of ``fn``, without their graph (for the block's own arithmetic)."""
        return tuple(t.detach() for t in self.outputs)

    def grads(self, grad_outputs: tuple[Tensor, ...]) -> list[Tensor | None]:
        """The gradient of the recorded outputs w.r.t. each input (None where not needed)."""
        leaves, outputs = self.leaves, self.outputs
        self.leaves = self.outputs = None  # release the small graph once it has been used
        wanted = [t for t, n in zip(leaves, self.needs) if t is not None and n]
        got = iter(torch.autograd.grad(outputs, wanted, grad_outputs, allow_unused=True) if wanted else ())
        return [next(got) if (t is not None and n) else None for t, n in zip(leaves, self.needs)]


class ChannelGateFn(torch.autograd.Function):
    """``x * s`` with ``s = gate_fn(mean_hw(x), *params)`` (B, C), with a hand-fused backward.

    Forward returns ``(out, s)`` (``s`` not differentiable, for ``capture``). Backward, with
    t = g * x: dL/ds = sum_hw t; the gate's small graph is differentiated by ``gate_backward``
    (closed form, when given) or by autograd (:class:`SmallGraph`, recorded in the forward);
    dL/dx = g s + dL/dz / HW, written into t's buffer (one full-size allocation, where the plain
    graph makes three).
    """

    @staticmethod
    def forward(ctx, x, gate_fn, gate_backward, *params):
        z = x.mean((2, 3))
        if gate_backward is None:
            ctx.graph = SmallGraph(gate_fn, [z, *params], (True, *ctx.needs_input_grad[3:]))
            (s,) = ctx.graph.detached()
        else:
            s = gate_fn(z, *params)
        out = x * s[:, :, None, None]
        ctx.gate_backward = gate_backward
        ctx.save_for_backward(x, z, s, *params)
        ctx.mark_non_differentiable(s)
        return out, s

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _grad_s):
        x, z, s, *params = ctx.saved_tensors
        s4 = s[:, :, None, None]
        t = grad * x
        grad_s = t.sum((2, 3))
        if ctx.gate_backward is not None:
            grads = ctx.gate_backward(z, s, grad_s, params, (True, *ctx.needs_input_grad[3:]))
        else:
            grads = ctx.graph.grads((grad_s,))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mul(grad, s4, out=t).add_((grads[0] / (x.shape[2] * x.shape[3]))[:, :, None, None])
        return (grad_x, None, None, *grads[1:])


class AttentionModule(nn.Module):
    """Base of the attention blocks: ``channels`` attribute, input check, gate recording.

    Subclasses implement ``forward(x) -> Tensor`` of the same shape as ``x`` and call
    ``self._record({...})`` under ``if _common._ACTIVE is not None``.
    """

    channels: int | None

    def _record(self, gates: dict[str, Tensor]) -> None:
        record(self, gates)
