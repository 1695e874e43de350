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

where :math:`|t|_{odd}` is "the nearest odd number of t". The reference code (the authors' and
the YOLOv4-tiny project's) computes ``t = int(abs((log2(C) + b) / gamma))`` and adds 1 when ``t``
is even. The two agree except where ``t`` is an even integer, where "nearest odd" is a tie
(e.g. C = 128: t = 4, the reference takes 5). :func:`eca_kernel_size` offers both:
``rule="reference"`` (default; what published weights were trained with) and ``rule="paper"``
(nearest odd to the real-valued t, a tie broken towards the smaller kernel, so 3 at C = 128;
also C = 8 and 2048 with the defaults). Parameters: :math:`k`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, ChannelGateFn, check_channels, check_choice, use_fused

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


def channel_conv(z: Tensor, weight: Tensor, padding: int) -> Tensor:
    """ECA's 1-D convolution across the channels of a (B, C) descriptor, zero-padded to length C.

    ``y_c = sum_j w_j z_{c + j - p}`` for ``weight`` (1, 1, k) and ``padding`` p, computed as the
    (B, C, k) sliding windows of the padded descriptor times the k taps. On a CPU that is several
    times faster than ``F.conv1d``, whose set-up costs far more than the arithmetic on an input
    this small; an ONNX export gets the ``Conv`` itself.
    """
    k = weight.shape[-1]
    if torch.onnx.is_in_onnx_export():
        return F.conv1d(z.unsqueeze(1), weight, None, 1, padding).squeeze(1)
    return channel_windows(z, k, padding).contiguous() @ weight.view(k)


def channel_windows(z: Tensor, k: int, padding: int) -> Tensor:
    """The (B, C, k) sliding windows (a view) of the (B, C) descriptor zero-padded by ``padding``."""
    return F.pad(z, (padding, padding)).unfold(1, k, 1)


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

    def _gate(self, z: Tensor, weight: Tensor) -> Tensor:
        """(B, C) weights from the (B, C) descriptor."""
        return torch.sigmoid(channel_conv(z, weight, self.padding))

    def _gate_backward(self, z, s, grad_s, params, needs):
        """Closed-form gradients of s = sigmoid(conv1d(z, w)) w.r.t. z and w."""
        (weight,) = params
        k, p = self.kernel_size, self.padding
        ga = grad_s * s * (1 - s)  # dL/d(conv output), (B, C)
        # the adjoint of a stride-1 'same' conv is the conv with the flipped kernel
        gz = channel_conv(ga, weight.flip(-1), p)
        gw = None
        if needs[1]:  # dL/dw_j = sum_{b,c} ga[b, c] z[b, c + j - p]
            windows = channel_windows(z, k, p)  # (B, C, k)
            gw = (ga.reshape(1, -1) @ windows.reshape(-1, k)).view(1, 1, k)
        return [gz, gw]

    def channel_gate(self, x: Tensor) -> Tensor:
        """The channel weights as a (B, C, 1, 1) tensor."""
        return self._gate(x.mean((2, 3)), self.conv.weight)[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        if use_fused(x, self):
            out, s = ChannelGateFn.apply(x, self._gate, self._gate_backward, self.conv.weight)
            s = s[:, :, None, None]
        else:
            s = self._gate(x.mean((2, 3)), self.conv.weight)[:, :, None, None]
            out = x * s
        if _common._ACTIVE is not None:
            self._record({"channel": s})
        return out
