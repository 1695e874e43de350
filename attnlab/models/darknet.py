"""CSPDarknet53-tiny, the backbone of YOLOv4-tiny.

The layout (module names, channel counts, the order of the layers) follows the public reference
implementation (bubbliiiing/yolov4-tiny-pytorch) exactly, so that its checkpoints load without
renaming keys::

    input 3 x 416 x 416
    conv1            3x3/2 conv-BN-LeakyReLU     32 x 208 x 208
    conv2            3x3/2                       64 x 104 x 104
    resblock_body1   CSP block + 2x2 max-pool   128 x  52 x  52
    resblock_body2                              256 x  26 x  26
    resblock_body3                              512 x  13 x  13   (and feat1: 256 x 26 x 26)
    conv3            3x3                        512 x  13 x  13   (feat2)

A CSP ("cross stage partial") block convolves its input once (``conv1``), keeps the result as
``route``, and sends only the *second half of the channels* through two more 3x3 convolutions
(``conv2`` -> ``conv3``, whose outputs are concatenated and mixed by the 1x1 ``conv4``). The
output is ``cat(route, conv4 output)`` max-pooled by 2: the channel count doubles while the
resolution halves.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["BasicConv", "ResblockBody", "CSPDarknet53Tiny"]


class BasicConv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> LeakyReLU(0.1), "same" padding.

    Attributes ``conv``, ``bn`` and ``activation`` carry the reference names. After
    :meth:`fuse` the batch-norm is folded into the convolution (``bn`` becomes an identity and
    ``conv`` gains a bias); see :func:`attnlab.models.fuse_for_inference`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.activation = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.bn(self.conv(x)))

    @property
    def fused(self) -> bool:
        """True once :meth:`fuse` has folded the batch-norm into the convolution."""
        return isinstance(self.bn, nn.Identity)

    @torch.no_grad()
    def fuse(self) -> "BasicConv":
        """Fold the batch-norm (with its *running* statistics) into the convolution, in place.

        ``y = gamma * (W x - mean) / sqrt(var + eps) + beta`` becomes one convolution with weight
        ``W * gamma / sqrt(var + eps)`` and bias ``beta - mean * gamma / sqrt(var + eps)``. Only
        valid for inference (training would update the running statistics). Returns ``self``.
        """
        if self.fused:
            return self
        conv, bn = self.conv, self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=True,
        ).to(device=conv.weight.device, dtype=conv.weight.dtype)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
        self.conv = fused
        self.bn = nn.Identity()
        return self


class ResblockBody(nn.Module):
    """One CSP block of CSPDarknet53-tiny (reference name ``Resblock_body``).

    Args:
        in_channels: channels of the input.
        out_channels: channels of ``conv1``; the block returns ``2 * out_channels`` channels at half
            the resolution, plus the pre-pooling feature ``feat`` (``out_channels`` channels).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"ResblockBody: out_channels must be even, got {out_channels}")
        self.out_channels = out_channels
        self.conv1 = BasicConv(in_channels, out_channels, 3)
        self.conv2 = BasicConv(out_channels // 2, out_channels // 2, 3)
        self.conv3 = BasicConv(out_channels // 2, out_channels // 2, 3)
        self.conv4 = BasicConv(out_channels, out_channels, 1)
        self.maxpool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv1(x)
        route = x
        # The channel split: only the second half goes through conv2/conv3.
        x = x[:, self.out_channels // 2 :]
        x = self.conv2(x)
        route1 = x
        x = self.conv3(x)
        x = torch.cat([x, route1], dim=1)
        x = self.conv4(x)
        feat = x
        x = torch.cat([route, x], dim=1)
        x = self.maxpool(x)
        return x, feat


class CSPDarknet53Tiny(nn.Module):
    """The CSPDarknet53-tiny backbone; ``forward`` returns ``(feat1, feat2)``.

    ``feat1``: 256 channels at stride 16 (26 x 26 for a 416 input); ``feat2``: 512 channels at
    stride 32 (13 x 13). Weights are initialised like the reference (He-normal convolutions,
    batch-norm weight 1 and bias 0).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = BasicConv(3, 32, kernel_size=3, stride=2)
        self.conv2 = BasicConv(32, 64, kernel_size=3, stride=2)
        self.resblock_body1 = ResblockBody(64, 64)
        self.resblock_body2 = ResblockBody(128, 128)
        self.resblock_body3 = ResblockBody(256, 256)
        self.conv3 = BasicConv(512, 512, kernel_size=3)
        self.num_features = 1
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv1(x)
        x = self.conv2(x)
        x, _ = self.resblock_body1(x)
        x, _ = self.resblock_body2(x)
        x, feat1 = self.resblock_body3(x)
        feat2 = self.conv3(x)
        return feat1, feat2
