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

Because :math:`W_1` is linear, :math:`W_1\delta(a) + W_1\delta(m) = W_1(\delta(a) + \delta(m))`:
the module applies :math:`W_0` once to the stacked descriptors and :math:`W_1` once to their sum
(with a bias, :math:`2 b_1` is added, as the reference's two calls do). Parameters:
:math:`2 C \lfloor C/r \rfloor + 2k^2` (plus 2 with spatial BN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, check_choice, SmallGraph, hidden_width, tracks_grad, use_fused

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
        self.fc1 = nn.Conv2d(channels, self.hidden, 1, bias=self.bias)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Conv2d(self.hidden, channels, 1, bias=self.bias)
        self.sigmoid = nn.Sigmoid()

    def extra_repr(self) -> str:
        return f"channels={self.channels}, ratio={self.ratio}, hidden={self.hidden}, pool={self.pool!r}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        return self.gate(x)

    def gate(self, x: Tensor) -> Tensor:
        """(B, C, 1, 1) channel weights of a checked input."""
        b, c = x.shape[0], x.shape[1]
        za = x.mean((2, 3)) if self.pool != "max" else None
        zm = None
        if self.pool != "avg":
            if torch.is_grad_enabled() and x.requires_grad:
                # adaptive_max_pool2d keeps indices: its backward is a cheap scatter
                zm = F.adaptive_max_pool2d(x, 1).view(b, c)
            else:
                zm = x.amax((2, 3))  # no indices: the fastest forward
        return self.mlp(za, zm, *self._params()).view(b, c, 1, 1)

    def _params(self) -> list:
        c, m = self.channels, self.hidden
        return [self.fc1.weight.view(m, c), self.fc1.bias, self.fc2.weight.view(c, m), self.fc2.bias]

    @staticmethod
    def mlp(za, zm, w1, b1, w2, b2) -> Tensor:
        """(B, C) weights from the average and/or max descriptors (B, C) (None when not pooled)."""
        if za is not None and zm is not None:
            h = F.relu(F.linear(torch.stack((za, zm)), w1, b1)).sum(0)  # one MLP call for both
            s = F.linear(h, w2, None if b2 is None else 2 * b2)  # W1 is linear: sum before it
        else:
            s = F.linear(F.relu(F.linear(za if zm is None else zm, w1, b1)), w2, b2)
        return torch.sigmoid(s)


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
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=self.padding, bias=False)
        self.bn = nn.BatchNorm2d(1) if bn else None
        self.sigmoid = nn.Sigmoid()

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, bn={self.bn is not None}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        return self.gate(x)

    def gate(self, x: Tensor) -> Tensor:
        """(B, 1, H, W) spatial map of a checked input."""
        d = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), 1)
        a = F.conv2d(d, self.conv1.weight, None, 1, self.padding)
        if self.bn is not None:
            a = self.bn(a)
        return torch.sigmoid(a)

    def _map(self, mean: Tensor, mx: Tensor, weight: Tensor) -> Tensor:
        """(B, 1, H, W) map from the channel-wise mean and max (B, 1, H, W); no BN."""
        return torch.sigmoid(F.conv2d(torch.cat((mean, mx), 1), weight, None, 1, self.padding))


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
        >>> cbam = CBAM(64)                      # fc1: (8, 64, 1, 1), conv1: (1, 2, 7, 7)
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
        ca, sa = self.channelattention, self.spatialattention
        if self.order == "channel-spatial" and sa.bn is None and use_fused(x, self):
            out, mc, ms = _CBAMFn.apply(x, self, *ca._params(), sa.conv1.weight)
            if _common._ACTIVE is not None:
                self._record({"channel": mc, "spatial": ms})
            return out
        # without autograd, the second product reuses the first one's buffer (never the input's)
        inplace = not tracks_grad(x, self)
        if self.order == "channel-spatial":
            mc = ca.gate(x)
            y = x * mc
            ms = sa.gate(y)
            out = y.mul_(ms) if inplace else y * ms
        elif self.order == "spatial-channel":
            ms = sa.gate(x)
            y = x * ms
            mc = ca.gate(y)
            out = y.mul_(mc) if inplace else y * mc
        else:
            mc = ca.gate(x)
            ms = sa.gate(x)
            y = x * mc
            out = y.mul_(ms) if inplace else y * ms
        if _common._ACTIVE is not None:
            self._record({"channel": mc, "spatial": ms})
        return out


class _CBAMFn(torch.autograd.Function):
    """CBAM (channel -> spatial, no spatial BN) with a hand-fused backward.

    y = x mc, out = y ms. Backward: dL/dms = sum_c g y; dL/dy = g ms + dL/dmean_c / C + the max's
    gradient scattered to its argmax channel; dL/dmc = sum_hw dL/dy x; dL/dx = dL/dy mc +
    dL/dz_avg / HW + the spatial max's gradient scattered to its argmax position, all in dL/dy's
    buffer. The two small maps (MLP, 2-channel conv) are differentiated by autograd.
    """

    @staticmethod
    def forward(ctx, x, module, w1, b1, w2, b2, wconv):
        ca, sa = module.channelattention, module.spatialattention
        b, c, h, w = x.shape
        needs = ctx.needs_input_grad
        za = x.mean((2, 3)) if ca.pool != "max" else None
        zm = idx = None
        if ca.pool != "avg":
            zm, idx = F.adaptive_max_pool2d(x, 1, return_indices=True)
            zm = zm.view(b, c)
        ctx.channel = SmallGraph(ca.mlp, [za, zm, w1, b1, w2, b2], (za is not None, zm is not None, *needs[2:6]))
        (mc,) = ctx.channel.detached()
        mc4 = mc.view(b, c, 1, 1)
        y = x * mc4
        smean = y.mean(1, keepdim=True)
        smax, sidx = y.max(1, keepdim=True)
        ctx.spatial = SmallGraph(sa._map, [smean, smax, wconv], (True, True, needs[6]))
        (ms,) = ctx.spatial.detached()
        out = y * ms
        ctx.save_for_backward(x, y, idx, mc, sidx, ms)
        ctx.mark_non_differentiable(mc4, ms)
        return out, mc4, ms

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _gmc, _gms):
        x, y, idx, mc, sidx, ms = ctx.saved_tensors
        b, c, h, w = x.shape
        # spatial branch
        grad_ms = (grad * y).sum(1, keepdim=True)
        g_mean, g_max, g_wconv = ctx.spatial.grads((grad_ms,))
        gy = grad * ms
        gy.add_(g_mean / c)
        gy.scatter_add_(1, sidx, g_max)
        # channel branch
        grad_mc = (gy * x).sum((2, 3))
        g_za, g_zm, g_w1, g_b1, g_w2, g_b2 = ctx.channel.grads((grad_mc,))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = gy.mul_(mc.view(b, c, 1, 1))
            if g_za is not None:
                grad_x.add_((g_za / (h * w)).view(b, c, 1, 1))
            if g_zm is not None:
                if grad_x.is_contiguous():
                    grad_x.view(b, c, h * w).scatter_add_(2, idx.view(b, c, 1), g_zm.view(b, c, 1))
                else:  # e.g. channels_last: the same scatter through a dense copy of the small map
                    extra = torch.zeros((b, c, h * w), dtype=grad_x.dtype, device=grad_x.device)
                    extra.scatter_(2, idx.view(b, c, 1), g_zm.view(b, c, 1))
                    grad_x.add_(extra.view(b, c, h, w))
        return grad_x, None, g_w1, g_b1, g_w2, g_b2, g_wconv
