"""The reference attention blocks, written the straightforward way.

These are the blocks as the public YOLOv4-tiny project (bubbliiiing/yolov4-tiny-pytorch) writes
SE, CBAM, ECA and CA, and as the SimAM authors write SimAM: pooling layers, ``view``, separate
sigmoids. They are the yardstick of ``python -m attnlab bench attention`` (the package's modules
must not be slower) and of the tests (the package's modules must load their state_dicts and give
the same outputs). They are not meant for use in models: use :mod:`attnlab.attention`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["RefSE", "RefChannelAttention", "RefSpatialAttention", "RefCBAM", "RefECA", "RefCA", "RefSimAM"]


class RefSE(nn.Module):
    def __init__(self, channel: int, ratio: int = 16) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // ratio, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // ratio, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y


class RefChannelAttention(nn.Module):
    def __init__(self, in_planes: int, ratio: int = 8) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc1 = nn.Conv2d(in_planes, in_planes // ratio, 1, bias=False)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Conv2d(in_planes // ratio, in_planes, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        avg_out = self.fc2(self.relu1(self.fc1(self.avg_pool(x))))
        max_out = self.fc2(self.relu1(self.fc1(self.max_pool(x))))
        return self.sigmoid(avg_out + max_out)


class RefSpatialAttention(nn.Module):
    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        padding = 3 if kernel_size == 7 else 1
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=padding, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        avg_out = torch.mean(x, dim=1, keepdim=True)
        max_out, _ = torch.max(x, dim=1, keepdim=True)
        x = torch.cat([avg_out, max_out], dim=1)
        return self.sigmoid(self.conv1(x))


class RefCBAM(nn.Module):
    def __init__(self, channel: int, ratio: int = 8, kernel_size: int = 7) -> None:
        super().__init__()
        self.channelattention = RefChannelAttention(channel, ratio=ratio)
        self.spatialattention = RefSpatialAttention(kernel_size=kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        x = x * self.channelattention(x)
        return x * self.spatialattention(x)


class RefECA(nn.Module):
    def __init__(self, channel: int, b: int = 1, gamma: int = 2) -> None:
        super().__init__()
        kernel_size = int(abs((math.log(channel, 2) + b) / gamma))
        kernel_size = kernel_size if kernel_size % 2 else kernel_size + 1
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        y = self.avg_pool(x)
        y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        y = self.sigmoid(y)
        return x * y.expand_as(x)


class RefCA(nn.Module):
    def __init__(self, channel: int, reduction: int = 16) -> None:
        super().__init__()
        self.conv_1x1 = nn.Conv2d(channel, channel // reduction, kernel_size=1, stride=1, bias=False)
        self.relu = nn.ReLU()
        self.bn = nn.BatchNorm2d(channel // reduction)
        self.F_h = nn.Conv2d(channel // reduction, channel, kernel_size=1, stride=1, bias=False)
        self.F_w = nn.Conv2d(channel // reduction, channel, kernel_size=1, stride=1, bias=False)
        self.sigmoid_h = nn.Sigmoid()
        self.sigmoid_w = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        _, _, h, w = x.size()
        x_h = torch.mean(x, dim=3, keepdim=True).permute(0, 1, 3, 2)
        x_w = torch.mean(x, dim=2, keepdim=True)
        x_cat_conv_relu = self.relu(self.bn(self.conv_1x1(torch.cat((x_h, x_w), 3))))
        split_h, split_w = x_cat_conv_relu.split([h, w], 3)
        s_h = self.sigmoid_h(self.F_h(split_h.permute(0, 1, 3, 2)))
        s_w = self.sigmoid_w(self.F_w(split_w))
        return x * s_h.expand_as(x) * s_w.expand_as(x)


class RefSimAM(nn.Module):
    def __init__(self, channels: int | None = None, e_lambda: float = 1e-4) -> None:
        super().__init__()
        self.activaton = nn.Sigmoid()
        self.e_lambda = e_lambda

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.size()
        n = w * h - 1
        x_minus_mu_square = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
        y = x_minus_mu_square / (4 * (x_minus_mu_square.sum(dim=[2, 3], keepdim=True) / n + self.e_lambda)) + 0.5
        return x * self.activaton(y)
