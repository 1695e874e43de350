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
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, tracks_grad, use_fused


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

    def energy_gate(self, x: Tensor, inplace: bool = False) -> Tensor:
        """The (B, C, H, W) sigmoid gate ``sigmoid(E)`` of a checked input.

        ``inplace``: reuse one temporary buffer for every step (only without autograd).
        """
        n = max(x.shape[2] * x.shape[3] - 1, 1)
        d = x - x.mean((2, 3), keepdim=True)
        d = d.square_() if inplace else d.square()
        # 1 / (4 (sum(d) / n + lambda)), per channel: a (B, C, 1, 1) tensor
        inv = (d.sum((2, 3), keepdim=True) * (4.0 / n) + 4.0 * self.e_lambda).reciprocal()
        if inplace:
            return d.mul_(inv).add_(0.5).sigmoid_()
        return (d * inv).add_(0.5).sigmoid_()  # in place on fresh temporaries autograd allows

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        if use_fused(x, self):
            out, g = _SimAMFn.apply(x, self.e_lambda)
            if _common._ACTIVE is not None:
                self._record({"energy": g})
            return out
        inplace = not tracks_grad(x, self)
        g = self.energy_gate(x, inplace)
        if _common._ACTIVE is not None:
            self._record({"energy": g})
            inplace = False  # the recorded gate must stay intact
        return g.mul_(x) if inplace else x * g


class _SimAMFn(torch.autograd.Function):
    """SimAM with a hand-written backward (three full-size temporaries instead of about ten).

    With c = x - mu, d = c^2, inv = 1 / (4 (sum d / n + lambda)), E = d inv + 1/2, s = sigmoid(E):
    gE = g x s (1 - s); dL/dinv = sum gE d; dL/dS = -(4 / n) inv^2 dL/dinv;
    dL/dc = 2 c (gE inv + dL/dS); dL/dx = g s + dL/dc - mean_hw(dL/dc).
    """

    @staticmethod
    def forward(ctx, x, e_lambda):
        n = max(x.shape[2] * x.shape[3] - 1, 1)
        mu = x.mean((2, 3), keepdim=True)
        s = (x - mu).square_()
        inv = (s.sum((2, 3), keepdim=True) * (4.0 / n) + 4.0 * e_lambda).reciprocal()
        s.mul_(inv).add_(0.5).sigmoid_()
        out = x * s
        ctx.n = n
        ctx.save_for_backward(x, s, mu, inv)
        ctx.mark_non_differentiable(s)
        return out, s

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _grad_s):
        x, s, mu, inv = ctx.saved_tensors
        c = x - mu
        a = grad * x
        a.mul_(s)
        a.addcmul_(a, s, value=-1.0)  # gE = g x s (1 - s)
        a.mul_(c)  # gE c
        grad_inv = (a * c).sum((2, 3), keepdim=True)  # sum gE d
        grad_sum = grad_inv * inv.square() * (-4.0 / ctx.n)
        a.mul_(2.0 * inv).addcmul_(c, 2.0 * grad_sum)  # dL/dc
        a.sub_(a.mean((2, 3), keepdim=True))
        return a.addcmul_(grad, s), None
