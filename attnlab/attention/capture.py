"""``capture(model)``: record the gates of every attention module during a forward pass.

::

    with capture(model) as gates:
        model(x)
    gates["feat1_att"]["channel"]      # (B, C, 1, 1), detached, values in (0, 1)

No hooks and no attributes are added to the model: the attention modules of this package check a
single module-level switch in their ``forward`` and, while a capture is active, hand it their
gates. Outputs are bit-for-bit the same with and without a capture.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

from attnlab.attention import _common
from attnlab.attention._common import AttentionModule

GATE_KEYS: dict[str, tuple[str, ...]] = {
    "SqueezeExcite": ("channel",),
    "ECA": ("channel",),
    "CBAM": ("channel", "spatial"),
    "CoordAttention": ("height", "width"),
    "SimAM": ("energy",),
    "NoAttention": (),
}


@contextlib.contextmanager
def capture(model: nn.Module, *, keep: str = "last") -> Iterator[dict]:
    """Record each attention module's gate tensors while the ``with`` block runs.

    Args:
        model: any module; every attnlab attention block inside it (or ``model`` itself) is
            recorded, keyed by its path from ``model.named_modules()`` (``""`` for ``model``
            itself when it is an attention block, e.g. ``"feat1_att"`` in YOLOv4-tiny).
        keep: ``"last"`` (default): when a block runs more than once inside the ``with`` block
            (called twice in one forward, or several forwards), the entry holds its last call;
            ``"all"``: the entry is a list with one dict per call, in call order.

    Yields:
        A dict, filled in as the model runs: path -> {gate name -> detached tensor}. Gate names:
        SE and ECA ``"channel"`` (B, C, 1, 1); CBAM ``"channel"`` (B, C, 1, 1) and ``"spatial"``
        (B, 1, H, W); Coordinate Attention ``"height"`` (B, C, H, 1) and ``"width"`` (B, C, 1, W);
        SimAM ``"energy"`` (B, C, H, W), its sigmoid gate. ``NoAttention`` records nothing, nor does
        a block that did not run. Tensors are the gates themselves, detached (not copies), in
        the dtype the block computed them in (e.g. bfloat16 under autocast).

    Captures nest: an inner ``capture`` takes over until it exits. Not thread-safe: record from
    one thread at a time. Gates computed inside ``torch.compile``-d code are not recorded
    (the compiled graph was traced without the capture); run the uncompiled model to look inside.

    Example:
        >>> import torch
        >>> from attnlab.attention import SqueezeExcite
        >>> se = SqueezeExcite(64)
        >>> with capture(se) as gates:
        ...     _ = se(torch.randn(2, 64, 8, 8))
        >>> gates[""]["channel"].shape
        torch.Size([2, 64, 1, 1])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"capture: model must be an nn.Module, got {type(model).__name__}")
    if keep not in ("last", "all"):
        raise ValueError(f"capture: keep must be 'last' or 'all', got {keep!r}")
    paths = {id(m): name for name, m in model.named_modules() if isinstance(m, AttentionModule)}
    recorder = _common._Recorder(paths, keep)
    previous = _common._ACTIVE
    _common._ACTIVE = recorder
    try:
        yield recorder.gates
    finally:
        _common._ACTIVE = previous
