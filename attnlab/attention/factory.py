"""``build(name, channels, **options)``: one entry point for every attention module, by name or by
the reference project's integer ``phi`` (0 none, 1 SE, 2 CBAM, 3 ECA, 4 CA)."""

from __future__ import annotations

from torch import Tensor, nn

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule, check_channels
from attnlab.attention.cbam import CBAM
from attnlab.attention.coord import CoordAttention
from attnlab.attention.eca import ECA
from attnlab.attention.se import SqueezeExcite
from attnlab.attention.simam import SimAM

ATTENTION_NAMES: tuple[str, ...] = ("none", "se", "cbam", "eca", "ca", "simam")
PHI_NAMES: dict[int, str] = {0: "none", 1: "se", 2: "cbam", 3: "eca", 4: "ca"}


class NoAttention(AttentionModule):
    """The identity, standing in for "no attention" (``phi = 0``) so every slot holds a module.

    Accepts ``channels`` (and checks the input against it when given) for uniformity with the
    other blocks; no parameters, nothing recorded by ``capture``.

    Example:
        >>> import torch
        >>> x = torch.randn(2, 64, 8, 8)
        >>> NoAttention(64)(x) is x
        True
    """

    def __init__(self, channels: int | None = None) -> None:
        super().__init__()
        self.channels = None if channels is None else check_channels("NoAttention", channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def forward(self, x: Tensor) -> Tensor:
        _common.check_input(self, x)
        return x


_CLASSES: dict[str, type[nn.Module]] = {
    "none": NoAttention,
    "se": SqueezeExcite,
    "cbam": CBAM,
    "eca": ECA,
    "ca": CoordAttention,
    "simam": SimAM,
}


def resolve_name(name: str | int) -> str:
    """The canonical name for ``name`` (case-insensitive) or an integer ``phi``."""
    if isinstance(name, bool):
        raise TypeError(f"build: name must be one of {list(ATTENTION_NAMES)} or a phi in {PHI_NAMES}, got {name!r}")
    if isinstance(name, int):
        if name not in PHI_NAMES:
            raise ValueError(f"build: unknown phi {name}; known phi values: {PHI_NAMES}")
        return PHI_NAMES[name]
    if not isinstance(name, str):
        raise TypeError(
            f"build: name must be a str (one of {list(ATTENTION_NAMES)}) or an int phi in {PHI_NAMES}, "
            f"got {type(name).__name__}"
        )
    key = name.strip().lower()
    if key not in _CLASSES:
        raise ValueError(
            f"build: unknown attention name {name!r}; known names: {list(ATTENTION_NAMES)} "
            f"(or an int phi: {PHI_NAMES})"
        )
    return key


def build(name: str | int, channels: int, **options: object) -> nn.Module:
    """Build an attention module for ``channels`` input channels.

    Args:
        name: ``"none"``, ``"se"``, ``"cbam"``, ``"eca"``, ``"ca"``, ``"simam"`` (any case), or an
            int ``phi`` as in the reference project: 0 none, 1 SE, 2 CBAM, 3 ECA, 4 CA.
        channels: input channels (> 0).
        **options: passed to the class (e.g. ``reduction=8`` for SE, ``kernel_size=3`` for CBAM).

    Example:
        >>> build("se", 256).fc[0].weight.shape
        torch.Size([16, 256])
        >>> type(build(3, 128)).__name__
        'ECA'
    """
    key = resolve_name(name)
    check_channels(f"build({key!r})", channels)
    return _CLASSES[key](channels, **options)
