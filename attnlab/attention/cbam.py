r"""CBAM, the Convolutional Block Attention Module (Woo, Park, Lee and Kweon, ECCV 2018).

Channel attention, from the average- and max-pooled descriptors through one shared MLP:

.. math::

    M_c(F) = \sigma\big(W_1 \delta(W_0 F^c_{avg}) + W_1 \delta(W_0 F^c_{max})\big)
    \in \mathbb{R}^{C \times 1 \times 1},
    \quad W_0 \in \mathbb{R}^{\frac{C}{r} \times C},\; W_1 \in \mathbb{R}^{C \times \frac{C}{r}}

Spatial attention, from the channel-wise mean and max stacked into a 2-channel map:

.. math::

    M_s(F) = \sigma\big(f^{k \times k}([\mathrm{mean}_c(F);\, \max_c(F)])\big)
    \in \mathbb{R}^{1 \times H \times W}

The sequential channel-first arrangement (the paper's best, and the default here):

.. math::

    F' = M_c(F) \otimes F, \qquad F'' = M_s(F') \otimes F'

The paper's ablation also compares spatial-first (:math:`F' = M_s(F) \otimes F`,
:math:`F'' = M_c(F') \otimes F'`) and a parallel arrangement. The paper does not write the
parallel combination out; here both maps are computed from the same input and multiplied:
:math:`F'' = M_c(F) \otimes M_s(F) \otimes F`.

Parameters: :math:`2 C \lfloor C/r \rfloor + 2k^2` (plus 2 with spatial BN).

The authors' code (https://github.com/Jongchan/attention-module) and the reference YOLOv4-tiny
project's ``cbam_block`` differ; the defaults here are the reference's (so its weights load), the
authors' choices are options:

============================  ======================  =================================
                              reference (default)     authors' code
============================  ======================  =================================
MLP ratio ``r``               8 (``ratio=8``)         16 (``ratio=16``)
MLP biases                    no                      yes (``bias=True``)
BN after the spatial conv     no                      yes (``spatial_bn=True``)
spatial pool order            [mean; max]             [max; mean] (not an option: a
                                                      permutation of ``conv1``'s inputs)
============================  ======================  =================================
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, check_choice, hidden_width

POOLS = ("both", "avg", "max")
ORDERS = ("channel-spatial", "spatial-channel", "parallel")
KERNEL_SIZES = (3, 7)


class ChannelAttention(nn.Module):
    """CBAM's channel attention; ``forward`` returns the (B, C, 1, 1) weights, not the product.

    Layout and keys as the reference (``fc1``, ``fc2``: bias-free 1x1 convs, ratio 8).

    Args:
        channels: input channels ``C``.
        ratio: reduction ratio ``r``; hidden width ``max(C // r, min_hidden)``.
        pool: ``"both"`` (default: average and max descriptors, summed after the MLP), ``"avg"``
            or ``"max"``.
        bias: biases in ``fc1`` and ``fc2`` (the paper's code has them; the reference not).
        min_hidden: smallest hidden width; used, with a warning, when ``ratio > channels``.

    Example:
        >>> import torch
        >>> ChannelAttention(64)(torch.randn(2, 64, 16, 16)).shape
        torch.Size([2, 64, 1, 1])
    """

    def __init__(
        self, channels: int, ratio: int = 8, *, pool: str = "both", bias: bool = False, min_hidden: int = 1
    ) -> None:
        super().__init__()
        owner = "ChannelAttention"
        self.channels = check_channels(owner, channels)
        self.ratio = ratio
        self.hidden = hidden_width(owner, channels, ratio, min_hidden, "ratio")
        self.pool = check_choice(owner, "pool", pool, POOLS)
        self.bias = bool(bias)
        self.fc1 = nn.Conv2d(channels, self.hidden, 1, bias=self.bias)  # W0: C -> C/r
        self.relu1 = nn.ReLU()  # delta
        self.fc2 = nn.Conv2d(self.hidden, channels, 1, bias=self.bias)  # W1: C/r -> C
        self.sigmoid = nn.Sigmoid()

    def extra_repr(self) -> str:
        return f"channels={self.channels}, ratio={self.ratio}, hidden={self.hidden}, pool={self.pool!r}"

    def mlp(self, z: Tensor) -> Tensor:
        """The shared MLP ``W1 delta(W0 z)`` on a (B, C, 1, 1) descriptor."""
        return self.fc2(self.relu1(self.fc1(z)))

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        _common.check_spatial(self, x)
        a = 0
        if self.pool != "max":
            a = a + self.mlp(x.mean((2, 3), keepdim=True))  # W1 delta(W0 F_avg)
        if self.pool != "avg":
            a = a + self.mlp(x.amax((2, 3), keepdim=True))  # + W1 delta(W0 F_max)
        return self.sigmoid(a)  # M_c(F) = sigma(...), (B, C, 1, 1)


class SpatialAttention(nn.Module):
    """CBAM's spatial attention; ``forward`` returns the (B, 1, H, W) map, not the product.

    Layout and key as the reference: ``conv1``, a bias-free ``Conv2d(2, 1, k, padding=k // 2)``
    over the stacked channel-wise mean and max (in that order).

    Args:
        kernel_size: 7 (default) or 3.
        bn: add ``BatchNorm2d(1)`` after the conv (as the paper's code does; key ``bn``).
            Default False, as the reference.

    Example:
        >>> import torch
        >>> SpatialAttention(7)(torch.randn(2, 64, 16, 16)).shape
        torch.Size([2, 1, 16, 16])
    """

    channels = None  # any channel count

    def __init__(self, kernel_size: int = 7, *, bn: bool = False) -> None:
        super().__init__()
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size not in KERNEL_SIZES:
            raise ValueError(
                f"SpatialAttention: kernel_size must be one of {list(KERNEL_SIZES)} (odd, as in the "
                f"paper), got {kernel_size!r}"
            )
        self.kernel_size = kernel_size
        self.padding = kernel_size // 2
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=self.padding, bias=False)  # f^{k x k}
        self.bn = nn.BatchNorm2d(1) if bn else None
        self.sigmoid = nn.Sigmoid()

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, bn={self.bn is not None}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        _common.check_spatial(self, x)
        d = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), 1)  # [mean_c F; max_c F]
        a = self.conv1(d)  # f^{k x k}(...), (B, 1, H, W)
        if self.bn is not None:
            a = self.bn(a)
        return self.sigmoid(a)  # M_s(F)


class CBAM(AttentionModule):
    """Convolutional Block Attention Module: channel then spatial attention.

    The default is the reference ``cbam_block`` of the YOLOv4-tiny project (ratio 8, 7x7 conv, no
    BN, channel -> spatial) with its ``state_dict`` keys (``channelattention.fc1.weight``,
    ``channelattention.fc2.weight``, ``spatialattention.conv1.weight``).

    Args:
        channels: input channels ``C``.
        ratio: channel-MLP reduction ratio (default 8).
        kernel_size: spatial conv size, 7 (default) or 3.
        pool: channel descriptors, ``"both"`` (default), ``"avg"`` or ``"max"``.
        order: ``"channel-spatial"`` (default), ``"spatial-channel"`` or ``"parallel"``.
        spatial_bn: BatchNorm after the spatial conv (default False).
        bias: biases in the channel MLP (default False).
        min_hidden: smallest hidden width of the channel MLP (default 1; warns when used).

    Example:
        >>> import torch
        >>> cbam = CBAM(64)  # fc1: (8, 64, 1, 1), conv1: (1, 2, 7, 7)
        >>> cbam(torch.randn(2, 64, 16, 16)).shape
        torch.Size([2, 64, 16, 16])
    """

    def __init__(
        self,
        channels: int,
        ratio: int = 8,
        kernel_size: int = 7,
        *,
        pool: str = "both",
        order: str = "channel-spatial",
        spatial_bn: bool = False,
        bias: bool = False,
        min_hidden: int = 1,
    ) -> None:
        super().__init__()
        self.channels = check_channels("CBAM", channels)
        self.order = check_choice("CBAM", "order", order, ORDERS)
        self.channelattention = ChannelAttention(channels, ratio, pool=pool, bias=bias, min_hidden=min_hidden)
        self.spatialattention = SpatialAttention(kernel_size, bn=spatial_bn)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, order={self.order!r}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        if self.order == "channel-spatial":
            mc = self.channelattention(x)  # M_c(F)
            y = x * mc  # F' = M_c(F) (x) F
            ms = self.spatialattention(y)  # M_s(F')
            out = y * ms  # F'' = M_s(F') (x) F'
        elif self.order == "spatial-channel":
            ms = self.spatialattention(x)  # M_s(F)
            y = x * ms  # F' = M_s(F) (x) F
            mc = self.channelattention(y)  # M_c(F')
            out = y * mc  # F'' = M_c(F') (x) F'
        else:  # parallel: both maps from the input
            mc, ms = self.channelattention(x), self.spatialattention(x)
            out = x * mc * ms  # F'' = M_c(F) (x) M_s(F) (x) F
        if _common._ACTIVE is not None:
            self._record({"channel": mc, "spatial": ms})
        return out
