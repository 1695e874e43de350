r"""Coordinate Attention (Hou, Zhou and Feng, "Coordinate Attention for Efficient Mobile Network
Design", CVPR 2021).

Global pooling is factorised into two 1-D poolings that keep position along one axis:

.. math::

    z^h_c(h) = \frac{1}{W}\sum_{0 \le i < W} x_c(h, i), \qquad
    z^w_c(w) = \frac{1}{H}\sum_{0 \le j < H} x_c(j, w)

The two are concatenated along the spatial axis and share one 1x1 transform
:math:`F_1: C \to C/r` (here conv, BatchNorm, ReLU), then split and mapped back to :math:`C`
channels by :math:`F_h` and :math:`F_w`:

.. math::

    f = \delta\big(F_1([z^h, z^w])\big) \in \mathbb{R}^{\frac{C}{r} \times (H + W)}, \quad
    g^h = \sigma\big(F_h(f^h)\big), \quad g^w = \sigma\big(F_w(f^w)\big)

    y_c(i, j) = x_c(i, j) \times g^h_c(i) \times g^w_c(j)

The layout is that of the YOLOv4-tiny reference project's ``CA_Block`` (reduction 16, bias-free
1x1 convs, BN, ReLU; keys ``conv_1x1``, ``bn``, ``F_h``, ``F_w``), so its weights load. The
authors' own code differs in details that are options here: hidden width ``max(8, C // 32)``
(``reduction=32, min_hidden=8``), biases (``bias=True``) and h-swish (``activation="hswish"``).
Parameters (default): :math:`3 C \lfloor C/r \rfloor + 2\lfloor C/r \rfloor` (+ BN buffers).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, check_choice, SmallGraph, hidden_width, tracks_grad, use_fused

ACTIVATIONS = ("relu", "hswish")


class CoordAttention(AttentionModule):
    """Coordinate Attention: direction-aware gates along height and width.

    Args:
        channels: input channels ``C``.
        reduction: ratio ``r``; hidden width ``max(C // r, min_hidden)`` (default 16).
        min_hidden: smallest hidden width (default 1; used, with a warning, when ``r > C``).
        activation: ``"relu"`` (default, the reference) or ``"hswish"`` (the authors' code).
        bias: biases in the three 1x1 convs (default False, the reference).

    Example:
        >>> import torch
        >>> ca = CoordAttention(256)   # conv_1x1 (16, 256, 1, 1), F_h / F_w (256, 16, 1, 1)
        >>> ca(torch.randn(2, 256, 26, 20)).shape
        torch.Size([2, 256, 26, 20])
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        *,
        min_hidden: int = 1,
        activation: str = "relu",
        bias: bool = False,
    ) -> None:
        super().__init__()
        owner = "CoordAttention"
        self.channels = check_channels(owner, channels)
        self.reduction = reduction
        self.hidden = hidden_width(owner, channels, reduction, min_hidden)
        self.activation = check_choice(owner, "activation", activation, ACTIVATIONS)
        self.bias = bool(bias)
        m = self.hidden
        self.conv_1x1 = nn.Conv2d(channels, m, 1, bias=self.bias)
        self.relu = nn.ReLU() if activation == "relu" else nn.Hardswish()
        self.bn = nn.BatchNorm2d(m)
        self.F_h = nn.Conv2d(m, channels, 1, bias=self.bias)
        self.F_w = nn.Conv2d(m, channels, 1, bias=self.bias)
        self.sigmoid_h = nn.Sigmoid()
        self.sigmoid_w = nn.Sigmoid()

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, reduction={self.reduction}, hidden={self.hidden}, "
            f"activation={self.activation!r}, bias={self.bias}"
        )

    def _params(self) -> list[Tensor | None]:
        return [
            self.conv_1x1.weight,
            self.conv_1x1.bias,
            self.bn.weight,
            self.bn.bias,
            self.F_h.weight,
            self.F_h.bias,
            self.F_w.weight,
            self.F_w.bias,
        ]

    def _gates(self, z_h: Tensor, z_w: Tensor, w1, b1, bn_w, bn_b, w_h, b_h, w_w, b_w):
        """Gates (B, C, H) and (B, C, W) from the pooled strips (B, C, H) and (B, C, W).

        The reference's 1x1 convs over the concatenated strip (B, C, 1, H + W) are matrix
        products: the strips are laid out once as one (C, B (H + W)) matrix, so each conv is a
        single ``W @ f`` (its weight keeps the conv's (C_out, C_in, 1, 1) shape), several times
        cheaper to differentiate on a CPU than a convolution call on a map this small.
        ``self.bn`` sees (1, m, B, H + W): per channel, the same B (H + W) values, so the same
        statistics as the reference's (B, m, 1, H + W); it applies ``bn_w`` and ``bn_b`` (its own
        parameters) and updates its running statistics.
        """
        b, c, h = z_h.shape
        w = z_w.shape[2]
        z = torch.cat((z_h, z_w), 2).transpose(0, 1).reshape(c, b * (h + w))  # (C, B (H + W))
        f = _conv1x1(z, w1, b1)  # (m, B (H + W))
        f = self.bn(f.view(1, -1, b, h + w))
        f = F.relu(f) if self.activation == "relu" else F.hardswish(f)
        f_h, f_w = f.split((h, w), 3)  # (1, m, B, H), (1, m, B, W)
        a_h = torch.sigmoid(_conv1x1(f_h.reshape(-1, b * h), w_h, b_h))  # (C, B H)
        a_w = torch.sigmoid(_conv1x1(f_w.reshape(-1, b * w), w_w, b_w))  # (C, B W)
        # back to (B, C, .), contiguous: the full-size products broadcast them fastest that way
        return a_h.view(c, b, h).transpose(0, 1).contiguous(), a_w.view(c, b, w).transpose(0, 1).contiguous()

    def coordinate_gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The gates ``g^h`` (B, C, H, 1) and ``g^w`` (B, C, 1, W) of a checked input."""
        g_h, g_w = self._gates(*strip_means(x), *self._params())
        return g_h.unsqueeze(3), g_w.unsqueeze(2)

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        if x.numel() == 0:
            # an empty batch or an empty map: nothing to pool or scale (as SE, ECA and SimAM return
            # empty outputs); the gates are all-ones strips of the right shapes, statistics untouched
            b, c, h, w = x.shape
            g_h, g_w = x.new_ones(b, c, h, 1), x.new_ones(b, c, 1, w)
            out = x * 1.0  # a new tensor, still connected to x's graph
        elif use_fused(x, self):
            out, g_h, g_w = _CoordAttentionFn.apply(x, self, *self._params())
            g_h, g_w = g_h.unsqueeze(3), g_w.unsqueeze(2)
        else:
            g_h, g_w = self.coordinate_gates(x)
            y = x * g_h
            # without autograd, the second product reuses the first one's buffer (never the input's)
            out = y * g_w if tracks_grad(x, self) else y.mul_(g_w)
        if _common._ACTIVE is not None:
            self._record({"height": g_h, "width": g_w})
        return out


def _conv1x1(f: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A 1x1 conv on features laid out as columns: ``weight`` (C_out, C_in, 1, 1), ``f`` (C_in, N)."""
    out = weight.flatten(1) @ f  # (C_out, N)
    return out if bias is None else out + bias[:, None]


def strip_means(x: Tensor) -> tuple[Tensor, Tensor]:
    """The pooled strips ``z^h = mean_w x`` (B, C, H) and ``z^w = mean_h x`` (B, C, W).

    On a CPU, for a contiguous float32 tensor outside autocast, ``z^h`` is computed as the
    matrix-vector product ``x (B C H, W) @ (1/W) 1_W``: a reduction over a last dimension as short
    as 13 or 26 runs several times slower there than the product does.
    """
    b, c, h, w = x.shape
    if (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.is_contiguous()
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and not torch.onnx.is_in_onnx_export()
    ):
        z_h = (x.view(b * c * h, w) @ x.new_full((w, 1), 1.0 / w)).view(b, c, h)
    else:
        z_h = x.mean(3)
    return z_h, x.mean(2)


class _CoordAttentionFn(torch.autograd.Function):
    """Coordinate attention with a hand-fused backward (see ``_common.use_fused``).

    Backward, with t = g * x: dL/dg^h = sum_w t g^w and dL/dg^w = sum_h t g^h (batched
    matrix-vector products over each (H, W) slice, so no full-size temporary); the small MLP's
    gradients by autograd on the pooled strips (:class:`SmallGraph`); dL/dx = g g^h g^w +
    dL/dz^h / W + dL/dz^w / H, written into t's buffer.
    """

    @staticmethod
    def forward(ctx, x, module, *params):
        z_h, z_w = strip_means(x)
        ctx.graph = SmallGraph(module._gates, [z_h, z_w, *params], (True, True, *ctx.needs_input_grad[2:]))
        g_h, g_w = ctx.graph.detached()
        out = (x * g_h.unsqueeze(3)).mul_(g_w.unsqueeze(2))
        ctx.save_for_backward(x, g_h, g_w)
        ctx.mark_non_differentiable(g_h, g_w)
        return out, g_h, g_w

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _gh, _gw):
        x, g_h, g_w = ctx.saved_tensors
        b, c, h, w = x.shape
        gh4, gw4 = g_h.unsqueeze(3), g_w.unsqueeze(2)
        t = grad * x
        # under autocast the gates may be float32 and t bfloat16/float16: a matmul needs one dtype
        grad_gh = torch.matmul(t, gw4.transpose(2, 3).to(t.dtype)).view(b, c, h)  # sum_w t g^w: (H, W) @ (W, 1)
        grad_gw = torch.matmul(gh4.transpose(2, 3).to(t.dtype), t).view(b, c, w)  # sum_h g^h t: (1, H) @ (H, W)
        grads = ctx.graph.grads((grad_gh, grad_gw))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mul(grad, gh4, out=t)
            # (g g^h) g^w + dL/dz^h / W in one pass, then + dL/dz^w / H
            torch.addcmul((grads[0] / w).unsqueeze(3), grad_x, gw4, out=grad_x)
            grad_x.add_((grads[1] / h).unsqueeze(2))
        return (grad_x, None, *grads[2:])


CA = CoordAttention
