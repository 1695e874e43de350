"""A small convolutional classifier with an attention slot after every stage.

The network the early chapters train and take apart. It is deliberately plain, so that the only
thing that changes between two variants is the attention block::

    image (B, 3, S, S)
      -> stages.0: conv3x3 -> BN -> ReLU -> attn                (width channels,   S x S)
      -> stages.1: maxpool2 -> conv3x3 -> BN -> ReLU -> attn   (2 * width,        S/2 x S/2)
      -> stages.2: maxpool2 -> conv3x3 -> BN -> ReLU -> attn   (4 * width,        S/4 x S/4)
      -> global average pool -> linear head                   (num_classes logits)

Each ``stages.N.attn`` is built by :func:`attnlab.attention.build` from the ``attention`` name
(``"none"``, ``"se"``, ``"cbam"``, ...) and ``attention_options``, or by a callable
``factory(channels) -> nn.Module`` (handy for a block written longhand in a notebook). With
``attention="none"`` the slot is an :class:`torch.nn.Identity` and the network is the baseline.

Example::

    >>> import torch
    >>> from attnlab.models.classifier import AttentionCNN
    >>> model = AttentionCNN(num_classes=4, attention="none", width=8, seed=0)
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

from typing import Callable, Mapping, Union

import torch
from torch import nn

AttentionSpec = Union[str, int, None, Callable[[int], nn.Module]]

__all__ = ["AttentionCNN", "Stage", "make_attention"]


def make_attention(attention: AttentionSpec, channels: int, options: Mapping | None = None) -> nn.Module:
    """Build the attention block for one slot.

    Args:
        attention: ``None`` or ``"none"`` (identity), a name or phi index understood by
            :func:`attnlab.attention.build`, or a callable ``factory(channels) -> nn.Module``.
        channels: channels of the feature map the block sees.
        options: keyword options for :func:`attnlab.attention.build` (ignored for callables).

    Raises:
        TypeError: ``attention`` is none of the above.
    """
    options = dict(options or {})
    if attention is None or (isinstance(attention, str) and attention.lower() == "none"):
        return nn.Identity()
    if callable(attention) and not isinstance(attention, (str, int)):
        block = attention(channels)
        if not isinstance(block, nn.Module):
            raise TypeError(f"attention factory must return an nn.Module, got {type(block).__name__}")
        return block
    if isinstance(attention, (str, int)) and not isinstance(attention, bool):
        from attnlab.attention import build  # imported here: the layer below, loaded on demand

        return build(attention, channels, **options)
    raise TypeError(
        "attention must be None, a name such as 'se', a phi index, or a callable "
        f"factory(channels) -> nn.Module; got {type(attention).__name__}"
    )


class Stage(nn.Module):
    """One stage: optional 2x2 max-pool, then conv3x3 -> BatchNorm -> ReLU -> attention."""

    def __init__(self, in_channels: int, out_channels: int, *, downsample: bool, attn: nn.Module):
        super().__init__()
        self.pool = nn.MaxPool2d(2) if downsample else nn.Identity()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(self.pool(x))))
        return self.attn(x)


class AttentionCNN(nn.Module):
    """A small CNN for image classification with an attention block after each stage.

    Args:
        num_classes: number of output logits (>= 1).
        attention: what goes in every ``stages.N.attn`` slot: ``"none"`` (default), a name for
            :func:`attnlab.attention.build` (``"se"``, ``"cbam"``, ``"eca"``, ``"ca"``,
            ``"simam"``), or a callable ``factory(channels) -> nn.Module``.
        width: channels of the first stage; stage ``N`` has ``width * 2**N`` (>= 1).
        depth: number of stages (>= 1); every stage after the first halves the resolution.
        attention_options: keyword options passed to ``build`` for every slot, e.g.
            ``{"reduction": 4}``.
        in_channels: channels of the input images (3 for RGB).
        seed: if given, the weights are initialised from ``torch.manual_seed(seed)`` without
            touching the global random state, so the same seed gives the same network.

    Attributes:
        stages: :class:`torch.nn.ModuleList` of :class:`Stage`; the attention blocks are
            ``stages.N.attn`` (these are the module paths :func:`attnlab.attention.capture` reports).
        head: the final :class:`torch.nn.Linear`.
        channels: channels after each stage, e.g. ``[16, 32, 64]``.

    Input ``(B, in_channels, H, W)`` with ``H, W >= 2**(depth-1)``; output logits ``(B, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int,
        attention: AttentionSpec = "none",
        width: int = 16,
        depth: int = 3,
        attention_options: Mapping | None = None,
        in_channels: int = 3,
        *,
        seed: int | None = None,
    ):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("width", width), ("depth", depth),
                            ("in_channels", in_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AttentionCNN: {name} must be an integer >= 1, got {value!r}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.depth = depth
        self.attention = attention if isinstance(attention, (str, int, type(None))) else getattr(
            attention, "__name__", type(attention).__name__)
        self.channels = [width * 2**i for i in range(depth)]
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            stages = []
            c_in = in_channels
            for i, c_out in enumerate(self.channels):
                attn = make_attention(attention, c_out, attention_options)
                stages.append(Stage(c_in, c_out, downsample=i > 0, attn=attn))
                c_in = c_out
            self.stages = nn.ModuleList(stages)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(c_in, num_classes)
            self._init_weights()

    def _init_weights(self) -> None:
        # Kaiming init for the stage convolutions; attention blocks keep their own init.
        for stage in self.stages:
            nn.init.kaiming_normal_(stage.conv.weight, mode="fan_out", nonlinearity="relu")

    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"AttentionCNN expects a tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"AttentionCNN expects input (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        smallest = 2 ** (self.depth - 1)
        if min(x.shape[-2:]) < smallest:
            raise ValueError(
                f"AttentionCNN with depth {self.depth} needs H, W >= {smallest}, got {tuple(x.shape[-2:])}"
            )

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map after every stage (after its attention block), first stage first."""
        self._check(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage_outputs(x)[-1]
        return self.head(torch.flatten(self.pool(x), 1))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, attention={self.attention!r}, channels={self.channels}"
