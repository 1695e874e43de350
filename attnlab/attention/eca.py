r"""Efficient Channel Attention (Wang, Wu, Zhu, Li, Zuo and Hu, "ECA-Net", CVPR 2020).

SE without the bottleneck: the pooled descriptor goes through one 1-D convolution across
channels, so each channel's weight depends on its :math:`k` neighbours:

.. math::

    y_c = \frac{1}{HW}\sum_{i,j} x_c(i, j), \qquad
    \omega = \sigma\big(\mathrm{C1D}_k(y)\big), \qquad \tilde{x}_c = \omega_c\, x_c

The kernel size adapts to the channel count (paper, eq. 12):

.. math::

    k = \psi(C) = \left|\frac{\log_2 C}{\gamma} + \frac{b}{\gamma}\right|_{odd},
    \qquad \gamma = 2,\; b = 1

where :math:`|t|_{odd}` is "the nearest odd number of t". The YOLOv4-tiny reference project's
``eca_block`` (and much third-party code) computes ``t = int(abs((log2(C) + b) / gamma))`` and
adds 1 when ``t`` is even. The two agree except where ``t`` is an even integer, where "nearest odd" is a tie
(e.g. C = 128: t = 4, the reference takes 5). :func:`eca_kernel_size` offers both:
``rule="reference"`` (default; what published weights were trained with) and ``rule="paper"``
(nearest odd to the real-valued t, a tie broken towards the smaller kernel, so 3 at C = 128;
also C = 8 and 2048 with the defaults). Parameters: :math:`k`.

The authors' code (https://github.com/BangguWu/ECANet, ``eca_layer(channel, k_size=3)``) takes
``k`` explicitly (``kernel_size=`` here); their released models use fixed kernels (3, 5, 5, 7 over
ResNet-50's stages). The adaptive rule as the default is the reference YOLOv4-tiny project's
(``eca_block``), whose layout and key (``conv.weight``) this block keeps.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, check_choice

RULES = ("reference", "paper")


def eca_kernel_size(channels: int, gamma: float = 2, b: float = 1, rule: str = "reference") -> int:
    """ECA's adaptive kernel size for ``channels``.

    Args:
        channels: channel count ``C`` (> 0).
        gamma, b: the mapping's constants (paper: 2 and 1); ``gamma`` must be non-zero.
        rule: ``"reference"``: ``t = int(abs((log2(C) + b) / gamma))``, then ``t + 1`` if ``t`` is
            even, as the reference code; ``"paper"``: the odd number nearest to
            ``abs((log2(C) + b) / gamma)``, ties going to the smaller one (never below 1).

    Example:
        >>> [eca_kernel_size(c) for c in (64, 128, 256, 512)]
        [3, 5, 5, 5]
        >>> eca_kernel_size(128, rule="paper")
        3
    """
    check_channels("eca_kernel_size", channels)
    check_choice("eca_kernel_size", "rule", rule, RULES)
    if gamma == 0:
        raise ValueError("eca_kernel_size: gamma must be non-zero, got 0")
    t = abs((math.log2(channels) + b) / gamma)
    if rule == "reference":
        k = int(t)
        return k if k % 2 else k + 1
    # nearest odd: odd numbers are 2m + 1; m = (t - 1) / 2 rounded, half down
    m = math.ceil((t - 1) / 2 - 0.5)
    return max(2 * m + 1, 1)


class ECA(AttentionModule):
    """Efficient Channel Attention: a k-tap 1-D conv across pooled channels, then a sigmoid.

    Layout and key as the reference ``eca_block``: ``conv``, a bias-free
    ``Conv1d(1, 1, k, padding=(k - 1) // 2)`` (``conv.weight`` of shape (1, 1, k)).

    Args:
        channels: input channels ``C``.
        kernel_size: a fixed odd ``k``, or None (default) for :func:`eca_kernel_size`.
        gamma, b: constants of the adaptive size (defaults 2 and 1).
        rule: ``"reference"`` (default) or ``"paper"``, see :func:`eca_kernel_size`.

    Example:
        >>> import torch
        >>> eca = ECA(256)                      # k = 5: conv.weight (1, 1, 5)
        >>> eca(torch.randn(2, 256, 13, 13)).shape
        torch.Size([2, 256, 13, 13])
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int | None = None,
        *,
        gamma: float = 2,
        b: float = 1,
        rule: str = "reference",
    ) -> None:
        super().__init__()
        self.channels = check_channels("ECA", channels)
        if kernel_size is None:
            kernel_size = eca_kernel_size(channels, gamma, b, rule)
        elif isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"ECA: kernel_size must be a positive odd int or None (adaptive), got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.padding = (kernel_size - 1) // 2
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=self.padding, bias=False)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        b, c = x.shape[0], x.shape[1]
        y = x.mean((2, 3))  # y_c = 1/(HW) sum_ij x_c(i, j), (B, C)
        a = self.conv(y.view(b, 1, c))  # C1D_k(y): the channels as a 1-D signal, (B, 1, C)
        w = torch.sigmoid(a).view(b, c, 1, 1)  # omega = sigma(C1D_k(y))
        out = x * w  # x~_c = omega_c x_c
        if _common._ACTIVE is not None:
            self._record({"channel": w})
        return out

    def channel_gate(self, x: Tensor) -> Tensor:
        """The channel weights ``omega`` (B, C, 1, 1) of ``x``: :meth:`forward` without the scale."""
        b, c = x.shape[0], x.shape[1]
        return torch.sigmoid(self.conv(x.mean((2, 3)).view(b, 1, c))).view(b, c, 1, 1)
