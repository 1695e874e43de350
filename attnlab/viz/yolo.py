"""Figures for the YOLOv4-tiny chapters (Part II), drawn with matplotlib from computed values.

Diagrams:

- :func:`draw_yolov4_tiny`: the whole network as a block diagram; tensor shapes are *recorded*
  from a forward pass of the model you pass (so the figure cannot disagree with the code), the
  attention slots are highlighted.
- :func:`draw_csp_block`: one CSP block of CSPDarknet53-tiny with its channel split.
- :func:`draw_head_layout`: what the ``A * (5 + K)`` channels of one output cell mean.

Illustrations on images:

- :func:`draw_grid`: the output grid of one head over an image, one cell and its anchors.
- :func:`draw_decoding`: one cell's raw numbers turned into a box (sigmoid offset, exp scale).
- :func:`draw_letterbox`: an image before and after letterboxing, with a box mapped across.
- :func:`draw_nms`: candidate boxes before and after non-maximum suppression.

Results:

- :func:`plot_history`: loss (and validation) curves of a training run.
- :func:`plot_reference_comparison`: this run's mAP per variant beside a reference run's.

Every function draws on an ``Axes`` it is given (or makes one) and returns it. Nothing here
trains or downloads anything.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

__all__ = [
    "record_shapes",
    "draw_yolov4_tiny",
    "draw_csp_block",
    "draw_head_layout",
    "draw_grid",
    "draw_decoding",
    "draw_letterbox",
    "draw_nms",
    "plot_history",
    "plot_reference_comparison",
    "COLORS",
]

#: colours of the block kinds in the diagrams
COLORS: dict[str, str] = {
    "input": "#e8eef7",
    "backbone": "#dbe9f6",
    "neck": "#e6dcf5",
    "head": "#fde9c9",
    "attention": "#f4a6a6",
    "output": "#dff0d8",
    "op": "#eeeeee",
}


def _new_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, dpi=100)
    return ax


def _box(ax: Axes, x: float, y: float, w: float, h: float, title: str, sub: str = "", kind: str = "op",
         fontsize: float = 7.5, dashed: bool = False) -> tuple[float, float, float, float]:
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", facecolor=COLORS.get(kind, kind),
            edgecolor="black", lw=0.9, linestyle="--" if dashed else "-",
        )
    )
    ax.text(x + w / 2, y + h / 2 + (0.13 if sub else 0), title, ha="center", va="center", fontsize=fontsize,
            weight="bold")
    if sub:
        ax.text(x + w / 2, y + h / 2 - 0.16, sub, ha="center", va="center", fontsize=fontsize - 1)
    return x, y, w, h


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str = "black",
           style: str = "-|>", connection: str = "arc3") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, lw=0.9, color=color,
                                 connectionstyle=connection))


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------


def record_shapes(model: Any, input_size: int | tuple[int, int] = 416, names: Iterable[str] | None = None
                  ) -> dict[str, list[tuple[int, ...]]]:
    """Output shapes of named sub-modules during one forward pass of a zero image.

    Args:
        model: a :class:`~attnlab.models.YoloV4Tiny` (any module works).
        input_size: side or ``(height, width)`` of the input.
        names: dotted module names to record (default: the blocks :func:`draw_yolov4_tiny` shows).

    Returns:
        ``name -> [shape, ...]`` (one shape per tensor the module returned), batch size 1.
    """
    import torch

    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    if names is None:
        names = _DIAGRAM_MODULES
    shapes: dict[str, list[tuple[int, ...]]] = {}
    handles = []
    for name in names:
        module = model.get_submodule(name)

        def hook(_m: Any, _i: Any, out: Any, name: str = name) -> None:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            shapes[name] = [tuple(int(s) for s in o.shape) for o in outs if hasattr(o, "shape")]

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return shapes


_DIAGRAM_MODULES = (
    "backbone.conv1", "backbone.conv2", "backbone.resblock_body1", "backbone.resblock_body2",
    "backbone.resblock_body3", "backbone.conv3", "feat1_att", "feat2_att", "conv_for_P5", "yolo_headP5",
    "upsample", "upsample_att", "yolo_headP4",
)


def _chw(shape: Sequence[int]) -> str:
    return f"{shape[1]}x{shape[2]}x{shape[3]}" if len(shape) == 4 else "x".join(map(str, shape))


def draw_yolov4_tiny(model: Any, input_size: int | tuple[int, int] = 416, *, ax: Axes | None = None,
                     highlight_backbone: bool = False, title: str | None = None) -> Axes:
    """YOLOv4-tiny as a block diagram with shapes recorded from ``model``.

    Args:
        model: a :class:`~attnlab.models.YoloV4Tiny`; its attention name labels the red slots.
        input_size: the input side used to record the shapes.
        ax: draw here (default: a new 12 x 4.6 figure).
        highlight_backbone: frame the backbone as "pretrained weights" (chapter 7's point: the
            attention slots sit outside it, so its checkpoints still load).
        title: axes title (default names the attention).
    """
    shapes = record_shapes(model, input_size)
    att = getattr(model, "attention", "none")
    ax = _new_ax(ax, (12, 4.6))
    h = 0.62
    bw = 1.25
    # backbone row (y = 3)
    y0 = 3.0
    size = input_size if isinstance(input_size, int) else f"{input_size[0]}x{input_size[1]}"
    _box(ax, 0.0, y0, 1.0, h, "input", f"3x{size}x{size}" if isinstance(size, int) else f"3x{size}", "input")
    stages = [
        ("backbone.conv1", "conv1 3x3/2"), ("backbone.conv2", "conv2 3x3/2"),
        ("backbone.resblock_body1", "CSP block 1"), ("backbone.resblock_body2", "CSP block 2"),
        ("backbone.resblock_body3", "CSP block 3"), ("backbone.conv3", "conv3 3x3"),
    ]
    xs = []
    x = 1.35
    for name, label in stages:
        _box(ax, x, y0, bw, h, label, _chw(shapes[name][0]), "backbone")
        xs.append(x)
        x += bw + 0.35
    for i in range(len(xs)):
        start = (xs[i - 1] + bw, y0 + h / 2) if i else (1.0, y0 + h / 2)
        _arrow(ax, start, (xs[i], y0 + h / 2))
    if highlight_backbone:
        ax.add_patch(Rectangle((1.2, y0 - 0.22), xs[-1] + bw - 1.05, h + 0.5, fill=False, lw=1.6,
                               edgecolor="#1f4e79", linestyle="--"))
        ax.text(1.25, y0 + h + 0.32, "CSPDarknet53-tiny: pretrained weights load unchanged", fontsize=8,
                color="#1f4e79", va="bottom")
    else:
        ax.text(1.35, y0 + h + 0.12, "backbone: CSPDarknet53-tiny", fontsize=8, va="bottom")
    att_label = "identity" if att == "none" else att.upper()
    # feat2 path (right column): feat2 -> att -> conv_for_P5 -> head P5 -> out0
    xr = xs[-1]
    _box(ax, xr, 1.95, bw, h, "feat2_att", att_label + " " + _chw(shapes["feat2_att"][0]), "attention")
    _arrow(ax, (xr + bw / 2, y0), (xr + bw / 2, 1.95 + h))
    _box(ax, xr, 0.9, bw, h, "conv_for_P5", "1x1 " + _chw(shapes["conv_for_P5"][0]), "neck")
    _arrow(ax, (xr + bw / 2, 1.95), (xr + bw / 2, 0.9 + h))
    _box(ax, xr + bw + 0.45, 0.9, bw, h, "head P5", "3x3 + 1x1", "head")
    _arrow(ax, (xr + bw, 0.9 + h / 2), (xr + bw + 0.45, 0.9 + h / 2))
    o0 = shapes["yolo_headP5"][0]
    _box(ax, xr + bw + 0.45, -0.25, bw, h, "out0 (stride 32)", _chw(o0), "output")
    _arrow(ax, (xr + bw * 1.5 + 0.45, 0.9), (xr + bw * 1.5 + 0.45, -0.25 + h))
    # feat1 path: the CSP block 3's pre-pool feature -> att -> concat
    x3 = xs[4]
    _box(ax, x3, 1.95, bw, h, "feat1_att", att_label + " " + _chw(shapes["feat1_att"][0]), "attention")
    _arrow(ax, (x3 + bw / 2, y0), (x3 + bw / 2, 1.95 + h))
    ax.text(x3 + bw / 2 + 0.05, y0 - 0.17, "feat1", fontsize=6.5, ha="left", va="center", style="italic")
    ax.text(xr + bw / 2 + 0.05, y0 - 0.17, "feat2", fontsize=6.5, ha="left", va="center", style="italic")
    # upsample path: conv_for_P5 -> upsample -> att -> concat with feat1 -> head P4 -> out1
    _box(ax, xr, -0.25, bw, h, "upsample", "1x1, x2 " + _chw(shapes["upsample"][0]), "neck")
    _arrow(ax, (xr + bw / 2, 0.9), (xr + bw / 2, -0.25 + h))
    _box(ax, x3, -0.25, bw, h, "upsample_att", att_label + " " + _chw(shapes["upsample_att"][0]), "attention")
    _arrow(ax, (xr, -0.25 + h / 2), (x3 + bw, -0.25 + h / 2))
    cat_c = shapes["upsample_att"][0][1] + shapes["feat1_att"][0][1]
    _box(ax, x3, 0.9, bw, h, "concat", f"{cat_c} channels", "op")
    _arrow(ax, (x3 + bw / 2, 1.95), (x3 + bw / 2, 0.9 + h))
    _arrow(ax, (x3 + bw / 2, -0.25 + h), (x3 + bw / 2, 0.9))
    x2 = xs[3]
    _box(ax, x2, 0.9, bw, h, "head P4", "3x3 + 1x1", "head")
    _arrow(ax, (x3, 0.9 + h / 2), (x2 + bw, 0.9 + h / 2))
    o1 = shapes["yolo_headP4"][0]
    _box(ax, x2, -0.25, bw, h, "out1 (stride 16)", _chw(o1), "output")
    _arrow(ax, (x2 + bw / 2, 0.9), (x2 + bw / 2, -0.25 + h))
    ax.set_xlim(-0.1, xr + 2 * bw + 0.6)
    ax.set_ylim(-0.45, y0 + h + 0.75)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"YOLOv4-tiny, attention = {att!r} (red: the three attention slots)", fontsize=10)
    return ax


def draw_csp_block(in_channels: int = 64, out_channels: int = 64, size: int = 104, *, ax: Axes | None = None) -> Axes:
    """One CSP block (``ResblockBody``) with its channel counts.

    Args:
        in_channels: channels entering the block.
        out_channels: channels of its first convolution; the block returns ``2 * out_channels``
            at half the resolution.
        size: spatial side of the input (for the labels).
    """
    ax = _new_ax(ax, (11, 3.2))
    c, half = out_channels, out_channels // 2
    h, bw = 0.62, 1.35
    y = 1.3
    _box(ax, 0, y, 1.1, h, "input", f"{in_channels}x{size}x{size}", "input")
    _box(ax, 1.5, y, bw, h, "conv1 3x3", f"{c} ch", "backbone")
    _arrow(ax, (1.1, y + h / 2), (1.5, y + h / 2))
    _box(ax, 3.25, y - 0.9, bw, h, "split", f"keep ch {half}..{c - 1}", "op")
    _arrow(ax, (1.5 + bw, y + h / 4), (3.25, y - 0.9 + h / 2), connection="arc3,rad=-0.2")
    _box(ax, 5.0, y - 0.9, bw, h, "conv2 3x3", f"{half} ch", "backbone")
    _arrow(ax, (3.25 + bw, y - 0.9 + h / 2), (5.0, y - 0.9 + h / 2))
    _box(ax, 6.75, y - 0.9, bw, h, "conv3 3x3", f"{half} ch", "backbone")
    _arrow(ax, (5.0 + bw, y - 0.9 + h / 2), (6.75, y - 0.9 + h / 2))
    _box(ax, 8.5, y - 0.9, bw, h, "concat", f"{c} ch", "op")
    _arrow(ax, (6.75 + bw, y - 0.9 + h / 2), (8.5, y - 0.9 + h / 2))
    _arrow(ax, (5.0 + bw / 2, y - 0.9), (8.5 + bw / 2, y - 0.9), connection="arc3,rad=0.3")
    _box(ax, 10.25, y - 0.9, bw, h, "conv4 1x1", f"{c} ch  (feat)", "backbone")
    _arrow(ax, (8.5 + bw, y - 0.9 + h / 2), (10.25, y - 0.9 + h / 2))
    _box(ax, 10.25, y + 0.55, bw, h, "concat", f"{2 * c} ch", "op")
    _arrow(ax, (10.25 + bw / 2, y - 0.9 + h), (10.25 + bw / 2, y + 0.55))
    _arrow(ax, (1.5 + bw, y + h * 0.8), (10.25, y + 0.55 + h / 2), color="#1f4e79", connection="arc3,rad=-0.08")
    ax.text(6.2, y + 1.05, f"route: all {c} channels skip the convolutions", fontsize=7.5, color="#1f4e79",
            ha="center")
    _box(ax, 12.0, y + 0.55, bw, h, "max-pool 2x2", f"{2 * c}x{size // 2}x{size // 2}", "output")
    _arrow(ax, (10.25 + bw, y + 0.55 + h / 2), (12.0, y + 0.55 + h / 2))
    ax.set_xlim(-0.1, 13.5)
    ax.set_ylim(-0.45, y + 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A CSP block: half the channels go through the 3x3 convolutions, all of them reach the output",
                 fontsize=9.5)
    return ax


def draw_head_layout(num_classes: int = 20, num_anchors: int = 3, grid: int = 13, *, ax: Axes | None = None) -> Axes:
    """The channel layout of one output: ``num_anchors`` groups of ``4 + 1 + num_classes``.

    Draws the ``grid x grid`` map with one cell picked out and, beside it, the vector of
    ``num_anchors * (5 + num_classes)`` numbers that cell holds, split into box offsets
    ``t_x, t_y, t_w, t_h``, objectness ``t_o`` and class logits.
    """
    ax = _new_ax(ax, (11, 3.0))
    per = 5 + num_classes
    total = num_anchors * per
    # grid
    gs = 2.4 / grid
    for i in range(grid + 1):
        ax.plot([0, 2.4], [i * gs, i * gs], color="0.6", lw=0.5)
        ax.plot([i * gs, i * gs], [0, 2.4], color="0.6", lw=0.5)
    ci, cj = grid // 3, grid // 2
    ax.add_patch(Rectangle((cj * gs, 2.4 - (ci + 1) * gs), gs, gs, facecolor="#d62728"))
    ax.text(1.2, -0.18, f"{grid} x {grid} cells", ha="center", va="top", fontsize=8)
    # vector
    x0, width = 3.2, 7.6
    unit = width / total
    colors = {"box": "#1f77b4", "obj": "#2ca02c", "cls": "#ff7f0e"}
    for a in range(num_anchors):
        base = x0 + a * per * unit
        ax.add_patch(Rectangle((base, 0.9), 4 * unit, 0.6, facecolor=colors["box"], edgecolor="white", lw=0.3))
        ax.add_patch(Rectangle((base + 4 * unit, 0.9), unit, 0.6, facecolor=colors["obj"], edgecolor="white", lw=0.3))
        ax.add_patch(Rectangle((base + 5 * unit, 0.9), num_classes * unit, 0.6, facecolor=colors["cls"],
                               edgecolor="white", lw=0.3))
        ax.text(base + per * unit / 2, 1.62, f"anchor {a} ({per})", ha="center", fontsize=7.5)
        ax.plot([base, base], [0.8, 1.6], color="black", lw=1.2)
    ax.plot([x0 + total * unit] * 2, [0.8, 1.6], color="black", lw=1.2)
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=colors["box"], label=r"box offsets $t_x, t_y, t_w, t_h$ (4)"),
        Patch(facecolor=colors["obj"], label=r"objectness $t_o$ (1)"),
        Patch(facecolor=colors["cls"], label=f"class logits ({num_classes})"),
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=((x0 + width / 2 + 0.1) / (x0 + width + 0.3), -0.02),
              ncol=3, fontsize=7.5, frameon=False)
    ax.text(x0 + width / 2, 2.15, f"{num_anchors} x (4 + 1 + {num_classes}) = {total} channels per cell",
            ha="center", fontsize=9, weight="bold")
    _arrow(ax, ((cj + 1) * gs, 2.4 - (ci + 0.5) * gs), (x0 - 0.1, 1.2), color="#d62728",
           connection="arc3,rad=-0.2")
    ax.set_xlim(-0.1, x0 + width + 0.2)
    ax.set_ylim(-0.4, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


# --------------------------------------------------------------------------------------------
# on images
# --------------------------------------------------------------------------------------------


def draw_grid(image: np.ndarray, stride: int, *, cell: tuple[int, int] | None = None,
              anchors: Any = None, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The output grid of a head with ``stride`` drawn over ``image``; one cell and its anchors.

    Args:
        image: ``(H, W, 3)`` image at the network's input size.
        stride: pixels per cell (32 or 16).
        cell: ``(row, column)`` of a cell to pick out.
        anchors: ``(A, 2)`` anchor widths and heights in pixels, drawn centred on ``cell``.
    """
    ax = _new_ax(ax, (4, 4))
    ax.imshow(image)
    hgt, wid = image.shape[:2]
    for x in range(0, wid + 1, stride):
        ax.axvline(x - 0.5, color="white", lw=0.5, alpha=0.7)
    for y in range(0, hgt + 1, stride):
        ax.axhline(y - 0.5, color="white", lw=0.5, alpha=0.7)
    if cell is not None:
        r, c = cell
        ax.add_patch(Rectangle((c * stride - 0.5, r * stride - 0.5), stride, stride, fill=False, edgecolor="red", lw=2))
        if anchors is not None:
            cx, cy = (c + 0.5) * stride, (r + 0.5) * stride
            palette = ["#ffdd00", "#00e5ff", "#ff66cc", "#66ff66", "#ffffff", "#ff8800"]
            for k, (aw, ah) in enumerate(np.asarray(anchors, dtype=float).reshape(-1, 2)):
                ax.add_patch(Rectangle((cx - aw / 2, cy - ah / 2), aw, ah, fill=False, lw=1.4,
                                       edgecolor=palette[k % len(palette)], linestyle="--"))
    ax.set_xlim(-0.5, wid - 0.5)
    ax.set_ylim(hgt - 0.5, -0.5)
    ax.set_axis_off()
    ax.set_title(title or f"stride {stride}: {hgt // stride} x {wid // stride} cells", fontsize=9)
    return ax


def draw_decoding(cell: tuple[int, int], stride: int, anchor: Sequence[float], t: Sequence[float], *,
                  ax: Axes | None = None, context: int = 3) -> Axes:
    """One prediction decoded: the cell, the anchor and the box ``t = (t_x, t_y, t_w, t_h)`` gives.

    ``cx = (sigmoid(t_x) + column) * stride``, ``w = exp(t_w) * anchor_w`` (and the same for y, h):
    the centre can move anywhere inside its cell, the size scales the anchor.
    """
    ax = _new_ax(ax, (4.2, 4.2))
    r, c = cell
    aw, ah = float(anchor[0]), float(anchor[1])
    tx, ty, tw, th = (float(v) for v in t)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    cx, cy = (sig(tx) + c) * stride, (sig(ty) + r) * stride
    bw, bh = np.exp(tw) * aw, np.exp(th) * ah
    for k in range(-context, context + 2):
        ax.axvline((c + k) * stride, color="0.85", lw=0.6)
        ax.axhline((r + k) * stride, color="0.85", lw=0.6)
    ax.add_patch(Rectangle((c * stride, r * stride), stride, stride, facecolor="#fdd", edgecolor="red", lw=1.5))
    ax.add_patch(Rectangle(((c + 0.5) * stride - aw / 2, (r + 0.5) * stride - ah / 2), aw, ah, fill=False,
                           edgecolor="0.4", lw=1.2, linestyle="--", label=f"anchor {aw:g} x {ah:g}"))
    ax.add_patch(Rectangle((cx - bw / 2, cy - bh / 2), bw, bh, fill=False, edgecolor="#1f77b4", lw=2,
                           label=f"box {bw:.0f} x {bh:.0f}"))
    ax.plot([c * stride], [r * stride], "ks", ms=4)
    ax.plot([cx], [cy], "o", color="#1f77b4", ms=5)
    ax.annotate("cell corner", (c * stride, r * stride), xytext=(-40, -14), textcoords="offset points",
                fontsize=7, arrowprops=dict(arrowstyle="-", lw=0.6))
    span = max(bw, bh, aw, ah, stride * (2 * context)) / 2 + stride
    mx, my = (c + 0.5) * stride, (r + 0.5) * stride
    ax.set_xlim(mx - span, mx + span)
    ax.set_ylim(my + span, my - span)
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(f"cell (row {r}, col {c}), stride {stride}", fontsize=9)
    return ax


def draw_letterbox(image: np.ndarray, boxed: np.ndarray, lb: Any, boxes: Any = None, *, axes: Any = None) -> Any:
    """``image`` and its letterboxed version side by side; ``boxes`` (``xyxy``, original pixels)
    drawn on both (mapped with ``lb.apply_boxes``), the padding hatched."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=100)
    a0, a1 = axes
    a0.imshow(image)
    a0.set_title(f"original {image.shape[1]} x {image.shape[0]}", fontsize=9)
    a1.imshow(boxed)
    a1.set_title(f"letterboxed {boxed.shape[1]} x {boxed.shape[0]} (scale {lb.scale:.3f})", fontsize=9)
    if lb.pad_y:
        for y in (0, lb.pad_y + lb.new_h):
            a1.add_patch(Rectangle((-0.5, y - 0.5), lb.out_w, lb.pad_y, fill=False, hatch="///", edgecolor="0.3", lw=0))
    if lb.pad_x:
        for x in (0, lb.pad_x + lb.new_w):
            a1.add_patch(Rectangle((x - 0.5, -0.5), lb.pad_x, lb.out_h, fill=False, hatch="///", edgecolor="0.3", lw=0))
    if boxes is not None:
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        mapped = np.asarray(lb.apply_boxes(b.copy()))
        for ax, bb in ((a0, b), (a1, mapped)):
            for x1, y1, x2, y2 in bb:
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="#ffdd00", lw=2))
    for ax in axes:
        ax.set_axis_off()
    return axes


def draw_nms(image: np.ndarray, boxes: Any, scores: Any, keep: Any, *, axes: Any = None,
             threshold: float | None = None) -> Any:
    """Candidate boxes (left, thin, coloured by score) and the boxes NMS keeps (right)."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.6), dpi=100)
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    s = np.asarray(scores, dtype=float).reshape(-1)
    k = np.asarray(keep, dtype=int).reshape(-1)
    cmap = plt.get_cmap("viridis")
    for ax in axes:
        ax.imshow(image)
        ax.set_axis_off()
    for (x1, y1, x2, y2), sc in zip(b, s):
        axes[0].add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=cmap(sc), lw=1.0))
    for i in k:
        x1, y1, x2, y2 = b[i]
        axes[1].add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=cmap(s[i]), lw=2.2))
        axes[1].text(x1, y1, f"{s[i]:.2f}", fontsize=7, color="white", va="bottom",
                     bbox=dict(facecolor="black", alpha=0.6, pad=0.8, edgecolor="none"))
    axes[0].set_title(f"{len(b)} candidates", fontsize=9)
    axes[1].set_title(f"{len(k)} kept by NMS" + (f" (IoU > {threshold:g} suppressed)" if threshold is not None else ""),
                      fontsize=9)
    return axes


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


def plot_history(history: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None, *,
                 ax: Axes | None = None, title: str | None = None) -> Axes:
    """Curves of numeric history entries (one dict per epoch) against the epoch.

    ``keys`` defaults to every key starting with ``loss`` or ``train_loss``.
    """
    ax = _new_ax(ax, (6, 3))
    if not history:
        raise ValueError("plot_history: empty history")
    if keys is None:
        keys = [k for k in history[0] if k.startswith(("loss", "train_loss"))]
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    for key in keys:
        vals = [h.get(key) for h in history]
        if all(v is None for v in vals):
            continue
        ax.plot(epochs, [np.nan if v is None else float(v) for v in vals], marker="o", ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_reference_comparison(mine: Mapping[str, Sequence[float]], reference: Mapping[str, Sequence[float]] | None,
                              *, order: Sequence[str] | None = None, metric: str = "mAP@0.5 (%)",
                              labels: tuple[str, str] = ("this run", "reference run"),
                              ax: Axes | None = None) -> Axes:
    """Per-variant values of this run (dots, mean tick) beside a reference run's, if any.

    Args:
        mine: ``variant -> [value per seed]`` (already in the unit to show).
        reference: the same for a committed reference run, or ``None``.
        order: variants left to right (default: the order of ``mine``).
    """
    from attnlab.viz.comparison import color_for

    ax = _new_ax(ax, (8, 3))
    names = list(order) if order is not None else list(mine)
    rng = np.random.default_rng(0)
    offsets = (-0.18, 0.18) if reference else (0.0,)
    sources = [(mine, labels[0], "o")] + ([(reference, labels[1], "D")] if reference else [])
    for (data, label, marker), off in zip(sources, offsets):
        first = True
        for i, name in enumerate(names):
            vals = np.asarray(data.get(name, []), dtype=float)
            if vals.size == 0:
                continue
            col = color_for(name)
            ax.scatter(i + off + rng.uniform(-0.05, 0.05, vals.size), vals, color=col, marker=marker, s=20,
                       alpha=0.85 if marker == "o" else 0.6, edgecolor="black" if marker == "D" else "white",
                       linewidth=0.5, label=label if first else None)
            ax.hlines(vals.mean(), i + off - 0.12, i + off + 0.12, color=col, lw=2.2)
            first = False
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel(metric)
    ax.grid(axis="y", alpha=0.3)
    if reference:
        ax.legend(fontsize=7, loc="best")
    ax.set_title("Each marker is one seed; tick = mean", fontsize=9)
    return ax
