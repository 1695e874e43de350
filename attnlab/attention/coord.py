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
from attnlab.attention._common import AttentionModule, check_channels, check_choice, hidden_width, small_grads, tracks_grad, use_fused

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

    def _gates(self, z_h: Tensor, z_w: Tensor, w1, b1, bn_w, bn_b, w_h, b_h, w_w, b_w, recompute=False):
        """Gates (B, C, H) and (B, C, W) from the pooled strips (B, C, H) and (B, C, W).

        The strips stay in one (B, C, 1, H + W) layout throughout (no permutes), where the 1x1
        convs and the BatchNorm are the reference's own ops.
        """
        b, c, h = z_h.shape
        w = z_w.shape[2]
        f = F.conv2d(torch.cat((z_h, z_w), 2).unsqueeze(2), w1, b1)  # (B, m, 1, H + W)
        if not recompute:
            f = self.bn(f)
        elif self.training or self.bn.running_mean is None:
            # the fused backward's second look: batch statistics, buffers left alone
            f = F.batch_norm(f, None, None, bn_w, bn_b, True, 0.0, self.bn.eps)
        else:
            f = F.batch_norm(f, self.bn.running_mean, self.bn.running_var, bn_w, bn_b, False, 0.0, self.bn.eps)
        f = F.relu(f) if self.activation == "relu" else F.hardswish(f)
        f_h, f_w = f.split((h, w), 3)
        a_h = torch.sigmoid(F.conv2d(f_h, w_h, b_h))  # (B, C, 1, H)
        a_w = torch.sigmoid(F.conv2d(f_w, w_w, b_w))  # (B, C, 1, W)
        return a_h.view(b, c, h), a_w.view(b, c, w)

    def coordinate_gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The gates ``g^h`` (B, C, H, 1) and ``g^w`` (B, C, 1, W) of a checked input."""
        g_h, g_w = self._gates(x.mean(3), x.mean(2), *self._params())
        return g_h.unsqueeze(3), g_w.unsqueeze(2)

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        if x.numel() >= _common.FUSED_MIN_NUMEL and use_fused(x, self):
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


class _CoordAttentionFn(torch.autograd.Function):
    """Coordinate attention with a hand-fused backward (see ``_common.use_fused``).

    Backward, with t = g * x: dL/dg^h = sum_w t g^w, dL/dg^w = sum_h t g^h (one shared buffer);
    the small MLP's gradients by autograd on the pooled strips; dL/dx = g g^h g^w +
    dL/dz^h / W + dL/dz^w / H written into t's buffer.
    """

    @staticmethod
    def forward(ctx, x, module, *params):
        z_h, z_w = x.mean(3), x.mean(2)
        g_h, g_w = module._gates(z_h, z_w, *params)
        out = (x * g_h.unsqueeze(3)).mul_(g_w.unsqueeze(2))
        ctx.module = module
        ctx.save_for_backward(x, z_h, z_w, g_h, g_w, *params)
        ctx.mark_non_differentiable(g_h, g_w)
        return out, g_h, g_w

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _gh, _gw):
        x, z_h, z_w, g_h, g_w, *params = ctx.saved_tensors
        module = ctx.module
        h, w = x.shape[2], x.shape[3]
        gh4, gw4 = g_h.unsqueeze(3), g_w.unsqueeze(2)
        t = grad * x
        v = t * gw4
        grad_gh = v.sum(3)
        torch.mul(t, gh4, out=v)
        grad_gw = v.sum(2)
        del v
        needs = (True, True, *ctx.needs_input_grad[2:])
        grads = small_grads(
            lambda zh, zw, *ps: module._gates(zh, zw, *ps, recompute=True),
            [z_h, z_w, *params],
            needs,
            (grad_gh, grad_gw),
        )
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mul(grad, gh4, out=t).mul_(gw4)
            grad_x.add_((grads[0] / w).unsqueeze(3)).add_((grads[1] / h).unsqueeze(2))
        return (grad_x, None, *grads[2:])


CA = CoordAttention
