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

The paper's networks (and its Caffe models) use biases in both fully connected layers; the
reference YOLOv4-tiny project's ``se_block`` has none (``bias=False``, the default here, so its
weights load). The authors' code: https://github.com/hujie-frank/SENet.
"""

from __future__ import annotations

from torch import Tensor, nn

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels, hidden_width, resolve_gate


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

    ``self.fc`` is the excitation ``Sequential(Linear, ReLU, Linear, gate)``; forward hooks on
    ``fc[0]`` (the bottleneck) or ``fc[3]`` (the gate) fire on every call.

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
            nn.Linear(channels, self.hidden, bias=self.bias),  # W1: C -> C/r
            nn.ReLU(),  # delta (not in place: a hook on fc[0] sees W1 z itself)
            nn.Linear(self.hidden, channels, bias=self.bias),  # W2: C/r -> C
            gate_module,  # sigma
        )

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, hidden={self.hidden}, bias={self.bias}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        b, c = x.shape[0], x.shape[1]
        z = x.mean((2, 3))  # squeeze: z_c = 1/(HW) sum_ij x_c(i, j), (B, C)
        s = self.fc(z).view(b, c, 1, 1)  # excitation: s = sigma(W2 delta(W1 z)), (B, C, 1, 1)
        out = x * s  # scale: x~_c = s_c x_c
        if _common._ACTIVE is not None:
            self._record({"channel": s})
        return out

    def channel_gate(self, x: Tensor) -> Tensor:
        """The channel weights ``s`` (B, C, 1, 1) of ``x``: the squeeze and excitation steps of
        :meth:`forward`, without the scale."""
        b, c = x.shape[0], x.shape[1]
        return self.fc(x.mean((2, 3))).view(b, c, 1, 1)


SE = SqueezeExcite
