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
(``reduction=32, min_hidden=8``), biases (``bias=True``) and h-swish (``activation="hswish"``);
see https://github.com/houqb/CoordAttention.
Parameters (default): :math:`3 C \lfloor C/r \rfloor + 2\lfloor C/r \rfloor` (+ BN buffers).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, check_choice, hidden_width

ACTIVATIONS = ("relu", "hswish")


class CoordAttention(AttentionModule):
    """Coordinate Attention: direction-aware gates along height and width.

    Args:
        channels: input channels ``C``.
        reduction: ratio ``r``; hidden width ``max(C // r, min_hidden)`` (default 16).
        min_hidden: smallest hidden width (default 1; used, with a warning, when ``r > C``).
        activation: ``"relu"`` (default, the reference) or ``"hswish"`` (the authors' code).
        bias: biases in the three 1x1 convs (default False, the reference).

    The input needs H >= 1 and W >= 1 (a ``ValueError`` naming the shape otherwise: the strips
    would be empty); a batch of 0 images gives an empty output of the same shape.

    Example:
        >>> import torch
        >>> ca = CoordAttention(256)  # conv_1x1 weight: (16, 256, 1, 1)
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
        self.conv_1x1 = nn.Conv2d(channels, m, 1, bias=self.bias)  # F_1: C -> C/r (shared)
        self.relu = nn.ReLU() if activation == "relu" else nn.Hardswish()  # delta
        self.bn = nn.BatchNorm2d(m)
        self.F_h = nn.Conv2d(m, channels, 1, bias=self.bias)  # F_h: C/r -> C
        self.F_w = nn.Conv2d(m, channels, 1, bias=self.bias)  # F_w: C/r -> C
        self.sigmoid_h = nn.Sigmoid()
        self.sigmoid_w = nn.Sigmoid()

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, reduction={self.reduction}, hidden={self.hidden}, "
            f"activation={self.activation!r}, bias={self.bias}"
        )

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        _check_spatial(x)
        if x.shape[0] == 0:  # no images: nothing to pool (BatchNorm refuses an empty batch)
            return x.clone()
        h, w = x.shape[2], x.shape[3]
        z_h = x.mean(3, keepdim=True).transpose(2, 3)  # z^h_c(h) = 1/W sum_i x_c(h, i), (B, C, 1, H)
        z_w = x.mean(2, keepdim=True)  # z^w_c(w) = 1/H sum_j x_c(j, w), (B, C, 1, W)
        f = self.relu(self.bn(self.conv_1x1(torch.cat((z_h, z_w), 3))))  # f = delta(F_1([z^h, z^w]))
        f_h, f_w = f.split((h, w), 3)  # (B, C/r, 1, H), (B, C/r, 1, W)
        g_h = self.sigmoid_h(self.F_h(f_h.transpose(2, 3)))  # g^h = sigma(F_h(f^h)), (B, C, H, 1)
        g_w = self.sigmoid_w(self.F_w(f_w))  # g^w = sigma(F_w(f^w)), (B, C, 1, W)
        out = x * g_h * g_w  # y_c(i, j) = x_c(i, j) g^h_c(i) g^w_c(j)
        if _common._ACTIVE is not None:
            self._record({"height": g_h, "width": g_w})
        return out

    def coordinate_gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The gates ``g^h`` (B, C, H, 1) and ``g^w`` (B, C, 1, W) of ``x``: the steps of
        :meth:`forward` before the product (in training mode they update BN's statistics too)."""
        _check_spatial(x)
        h, w = x.shape[2], x.shape[3]
        z = torch.cat((x.mean(3, keepdim=True).transpose(2, 3), x.mean(2, keepdim=True)), 3)
        f_h, f_w = self.relu(self.bn(self.conv_1x1(z))).split((h, w), 3)
        return self.sigmoid_h(self.F_h(f_h.transpose(2, 3))), self.sigmoid_w(self.F_w(f_w))


def _check_spatial(x: Tensor) -> None:
    """Coordinate attention pools along each spatial axis: both must be non-empty."""
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(
            f"CoordAttention: input height and width (dims 2 and 3) must be >= 1, "
            f"got input of shape {tuple(x.shape)}"
        )


CA = CoordAttention
