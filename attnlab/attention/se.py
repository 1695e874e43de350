r"""Squeeze-and-Excitation (Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018).

For a feature map :math:`X \in \mathbb{R}^{C \times H \times W}`:

.. math::

    z_c = \frac{1}{HW} \sum_{i=1}^{H} \sum_{j=1}^{W} x_c(i, j)
    \qquad \text{(squeeze: global average pooling)}

    s = \sigma\big(W_2\, \delta(W_1 z)\big),
    \quad W_1 \in \mathbb{R}^{\frac{C}{r} \times C},\; W_2 \in \mathbb{R}^{C \times \frac{C}{r}}
    \qquad \text{(excitation)}

    \tilde{x}_c = s_c \cdot x_c \qquad \text{(scale)}

with :math:`\delta` the ReLU, :math:`\sigma` the sigmoid and :math:`r` the reduction ratio
(16 in the paper). Parameters: :math:`2 C \lfloor C/r \rfloor` (plus
:math:`\lfloor C/r \rfloor + C` with biases).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from attnlab.attention import _common
from attnlab.attention._common import (
    AttentionModule,
    ChannelGateFn,
    apply_gate,
    check_channels,
    hidden_width,
    resolve_gate,
    use_fused,
)


class SqueezeExcite(AttentionModule):
    """Squeeze-and-Excitation block: channel weights from globally pooled features.

    The default is the reference block of the YOLOv4-tiny project (``se_block``): average pool,
    ``Linear(C, C // 16, bias=False)``, ReLU, ``Linear(C // 16, C, bias=False)``, sigmoid, scale.
    Its ``state_dict`` keys are the same (``fc.0.weight``, ``fc.2.weight``), so its weights load.

    Args:
        channels: input channels ``C`` (> 0).
        reduction: ratio ``r``; the hidden width is ``max(C // r, min_hidden)``.
        min_hidden: smallest hidden width (default 1). When ``r > C`` (so ``C // r == 0``) the
            block uses ``min_hidden`` and warns.
        bias: biases in both linear layers (the paper's Caffe model has them; the reference
            block does not). Default False.
        gate: ``"sigmoid"`` (default), ``"hsigmoid"`` or an ``nn.Module``.

    The forward pass calls ``F.linear`` on ``self.fc``'s weights directly (faster than the
    ``Sequential``), so hooks registered on ``fc[0]`` or ``fc[2]`` do not fire; hook the block.

    Example:
        >>> import torch
        >>> se = SqueezeExcite(64)                  # fc.0: (4, 64), fc.2: (64, 4)
        >>> se(torch.randn(2, 64, 32, 32)).shape
        torch.Size([2, 64, 32, 32])
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        *,
        min_hidden: int = 1,
        bias: bool = False,
        gate: str | nn.Module = "sigmoid",
    ) -> None:
        super().__init__()
        owner = "SqueezeExcite"
        self.channels = check_channels(owner, channels)
        self.reduction = reduction
        self.hidden = hidden_width(owner, channels, reduction, min_hidden)
        self.bias = bool(bias)
        gate_module, self._gate_kind = resolve_gate(owner, gate)
        self.fc = nn.Sequential(
            nn.Linear(channels, self.hidden, bias=self.bias),
            nn.ReLU(inplace=True),
            nn.Linear(self.hidden, channels, bias=self.bias),
            gate_module,
        )

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, hidden={self.hidden}, bias={self.bias}"

    def _gate(self, z: Tensor, w1: Tensor, b1, w2: Tensor, b2) -> Tensor:
        """(B, C) weights from the (B, C) descriptor."""
        return apply_gate(self._gate_kind, self.fc._modules["3"], F.linear(F.relu(F.linear(z, w1, b1)), w2, b2))

    def _params(self) -> list:
        fc = self.fc._modules
        return [fc["0"].weight, fc["0"].bias, fc["2"].weight, fc["2"].bias]

    def channel_gate(self, x: Tensor) -> Tensor:
        """The channel weights ``s`` as a (B, C, 1, 1) tensor."""
        return self._gate(x.mean((2, 3)), *self._params())[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        if self._gate_kind != "module" and use_fused(x, self):
            backward = _se_gate_backward if self._gate_kind == "sigmoid" else None
            out, s = ChannelGateFn.apply(x, self._gate, backward, *self._params())
            s = s[:, :, None, None]
        else:
            b, c = x.shape[0], x.shape[1]
            s = self._gate(x.mean((2, 3)), *self._params()).view(b, c, 1, 1)
            out = x * s
        if _common._ACTIVE is not None:
            self._record({"channel": s})
        return out


def _se_gate_backward(z, s, grad_s, params, needs):
    """Closed-form gradients of s = sigmoid(W2 relu(W1 z + b1) + b2) (cheaper than autograd)."""
    w1, b1, w2, _ = params
    h = F.relu(F.linear(z, w1, b1))
    ga = grad_s * s * (1 - s)  # (B, C)
    gh = (ga @ w2) * (h > 0)  # (B, hidden)
    return [
        gh @ w1,
        gh.t() @ z if needs[1] else None,
        gh.sum(0) if b1 is not None and needs[2] else None,
        ga.t() @ h if needs[3] else None,
        ga.sum(0) if params[3] is not None and needs[4] else None,
    ]


SE = SqueezeExcite
