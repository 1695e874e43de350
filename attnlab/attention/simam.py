r"""SimAM, a simple parameter-free attention module (Yang, Zhang, Li and Xie, ICML 2021).

Each neuron's importance comes from the minimal energy of a linear separability task within its
channel. With :math:`\mu_c` and :math:`\sigma^2_c` the mean and variance of channel :math:`c`
over its :math:`M = HW` positions (variance over :math:`n = M - 1`):

.. math::

    e^*_t = \frac{4(\hat\sigma^2 + \lambda)}{(t - \hat\mu)^2 + 2\hat\sigma^2 + 2\lambda}

Lower energy means a more distinctive neuron; the module scales by :math:`1/e^*` through a
sigmoid. As in the authors' code:

.. math::

    E = \frac{(x - \mu)^2}{4\big(\sum_{i}(x_i - \mu)^2 / n + \lambda\big)} + \frac{1}{2},
    \qquad \tilde X = \sigma(E) \odot X

with :math:`\lambda` = ``e_lambda`` (default :math:`10^{-4}`). No parameters.
The authors' code: https://github.com/ZjjConan/SimAM (the reference YOLOv4-tiny project has no
SimAM block).
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels


class SimAM(AttentionModule):
    """SimAM: parameter-free, energy-based 3-D (per-neuron) weights.

    Args:
        channels: input channels, checked against the input when given (``build`` passes it);
            None accepts any channel count.
        e_lambda: the regulariser ``lambda`` (> 0, default 1e-4).

    An input with a single position (H = W = 1) has no variance estimate (n = 0); the module
    then uses n = 1 (every weight is then ``sigmoid(0.5)``), where the authors' code divides by 0.

    Example:
        >>> import torch
        >>> SimAM(64)(torch.randn(2, 64, 16, 16)).shape
        torch.Size([2, 64, 16, 16])
    """

    def __init__(self, channels: int | None = None, e_lambda: float = 1e-4) -> None:
        super().__init__()
        self.channels = None if channels is None else check_channels("SimAM", channels)
        if not isinstance(e_lambda, (int, float)) or isinstance(e_lambda, bool) or not e_lambda > 0:
            raise ValueError(f"SimAM: e_lambda must be a positive number, got {e_lambda!r}")
        self.e_lambda = float(e_lambda)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, e_lambda={self.e_lambda}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        n = max(x.shape[2] * x.shape[3] - 1, 1)  # n = M - 1 (1 when there is a single position)
        d = (x - x.mean((2, 3), keepdim=True)).square()  # (x - mu)^2
        var = d.sum((2, 3), keepdim=True) / n  # sigma^2 = sum_i (x_i - mu)^2 / n, (B, C, 1, 1)
        e = d / (4 * (var + self.e_lambda)) + 0.5  # E = (x - mu)^2 / (4 (sigma^2 + lambda)) + 1/2
        g = torch.sigmoid(e)  # sigma(E)
        out = x * g  # X~ = sigma(E) (.) X
        if _common._ACTIVE is not None:
            self._record({"energy": g})
        return out

    def energy_gate(self, x: Tensor) -> Tensor:
        """The (B, C, H, W) gate ``sigmoid(E)`` of ``x``: :meth:`forward` without the product."""
        n = max(x.shape[2] * x.shape[3] - 1, 1)
        d = (x - x.mean((2, 3), keepdim=True)).square()
        return torch.sigmoid(d / (4 * (d.sum((2, 3), keepdim=True) / n + self.e_lambda)) + 0.5)
