"""A per-block summary of YOLOv4-tiny (parameters, output shapes) with the attention slots marked.

::

    >>> from attnlab.models import YoloV4Tiny, summarize
    >>> print(summarize(YoloV4Tiny(attention="se"), input_size=416))   # doctest: +SKIP

Built on torchinfo (which runs one forward pass to record the shapes); the full torchinfo table is
kept in :attr:`ModelSummary.stats` for readers who want every layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

__all__ = ["summarize", "ModelSummary", "SummaryRow"]


@dataclass
class SummaryRow:
    """One block of the summary."""

    name: str
    kind: str
    params: int
    output_shape: list[Any]
    attention: bool
    depth: int

    @property
    def shape_text(self) -> str:
        s = self.output_shape
        if s and isinstance(s[0], (list, tuple)):
            return " & ".join(str(list(x)) for x in s)
        return str(list(s))


@dataclass
class ModelSummary:
    """The result of :func:`summarize`; ``str()`` gives the table.

    Attributes:
        rows: one :class:`SummaryRow` per block (top-level modules and the backbone's stages).
        total_params: parameters of the whole model.
        attention_params: parameters inside the attention slots.
        mult_adds: multiply-adds of one forward pass (torchinfo's count: convolutions and linear
            layers).
        input_size: the input shape the summary ran with.
        stats: the torchinfo ``ModelStatistics`` (``print(summary.stats)`` for every layer).
    """

    rows: list[SummaryRow]
    total_params: int
    attention_params: int
    mult_adds: int
    input_size: tuple[int, ...]
    stats: Any = field(default=None, repr=False)

    def table(self) -> str:
        head = ("block", "type", "params", "output shape")
        body = [
            (("  " * (r.depth - 1)) + r.name + (" *" if r.attention else ""), r.kind, f"{r.params:,}", r.shape_text)
            for r in self.rows
        ]
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        fmt = lambda cells: "  ".join(c.ljust(w) if i != 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
        lines = [fmt(head), fmt(tuple("-" * w for w in widths)), *(fmt(b) for b in body)]
        lines += [
            "",
            f"input {list(self.input_size)}; total parameters {self.total_params:,}, of which attention "
            f"{self.attention_params:,} ({100 * self.attention_params / max(self.total_params, 1):.2f}%); "
            f"{self.mult_adds / 1e9:.2f} G multiply-adds",
            "* = attention slot",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(self.table())


def _is_attention_slot(name: str, module: nn.Module) -> bool:
    if name.endswith("_att"):
        return True
    try:
        from attnlab.attention._common import AttentionModule
    except ImportError:  # pragma: no cover - attention package missing
        return False
    return isinstance(module, AttentionModule) and not type(module).__name__ == "NoAttention"


def summarize(
    model: nn.Module,
    input_size: int | Sequence[int] | None = None,
    *,
    expand: Sequence[str] = ("backbone",),
    device: str | torch.device = "cpu",
) -> ModelSummary:
    """Summarise ``model`` block by block, marking the attention slots.

    Args:
        model: usually a :class:`~attnlab.models.YoloV4Tiny` (any module works).
        input_size: an int side (batch 1, 3 channels), ``(H, W)``, or a full ``(B, C, H, W)``
            shape. Default: the model's ``input_size`` (416).
        expand: top-level modules whose children get their own rows too.
        device: where the forward pass for the shapes runs.
    """
    import torchinfo

    if input_size is None:
        input_size = getattr(model, "input_size", 416)
    if isinstance(input_size, int):
        shape: tuple[int, ...] = (1, 3, input_size, input_size)
    else:
        shape = tuple(int(v) for v in input_size)
        if len(shape) == 2:
            shape = (1, 3, *shape)
        elif len(shape) != 4:
            raise ValueError(f"summarize: input_size must be an int, (H, W) or (B, C, H, W), got {input_size}")
    # Rows: top-level children, and the children of those named in ``expand``; shapes and the
    # order of the rows come from hooks that fire during torchinfo's forward pass.
    targets: list[tuple[str, nn.Module, int]] = []
    for name, child in model.named_children():
        targets.append((name, child, 1))
        if name in expand:
            targets.extend((sub_name, sub, 2) for sub_name, sub in child.named_children())
    shapes: dict[int, list[Any]] = {}
    order: dict[int, int] = {}

    def hook(i: int):
        def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if i in order:
                return
            order[i] = len(order)
            if isinstance(output, torch.Tensor):
                shapes[i] = list(output.shape)
            elif isinstance(output, (tuple, list)):
                shapes[i] = [list(o.shape) for o in output if isinstance(o, torch.Tensor)]
        return record

    handles = [m.register_forward_hook(hook(i)) for i, (_, m, _) in enumerate(targets)]
    was_training = model.training
    try:
        stats = torchinfo.summary(
            model, input_size=shape, depth=3, verbose=0, device=device,
            col_names=("output_size", "num_params"), mode="eval",
        )
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()

    rows: list[SummaryRow] = []
    # top-level blocks in the order they ran; expanded children right after their parent
    top = [i for i, t in enumerate(targets) if t[2] == 1]
    top.sort(key=lambda i: order.get(i, len(targets) + i))
    for i in top:
        name, module, _ = targets[i]
        group = [i]
        if name in expand:
            kids = [j for j, t in enumerate(targets) if t[2] == 2 and any(t[1] is c for c in module.children())]
            group += sorted(kids, key=lambda j: order.get(j, len(targets) + j))
        for j in group:
            n, m, depth = targets[j]
            rows.append(
                SummaryRow(
                    name=n,
                    kind=type(m).__name__,
                    params=sum(p.numel() for p in m.parameters()),
                    output_shape=shapes.get(j, []),
                    attention=_is_attention_slot(n, m),
                    depth=depth,
                )
            )
    attention_params = sum(r.params for r in rows if r.attention and r.depth == 1)
    return ModelSummary(
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()),
        attention_params=attention_params,
        mult_adds=int(stats.total_mult_adds),
        input_size=shape,
        stats=stats,
    )
