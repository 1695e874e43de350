"""Plots for the attention chapters: feature maps, channel gates, spatial maps, block diagrams.

All functions draw with matplotlib onto an ``ax`` (or a new figure) and return what they drew on,
so a notebook can arrange panels freely. Inputs may be numpy arrays or torch tensors (detached and
moved to the CPU here).

- :func:`feature_grid`    a grid of a feature map's channels (``(C, H, W)``)
- :func:`gate_bars`       a channel gate as a bar chart (values in (0, 1))
- :func:`gates_by_class`  the average gate per class against channel index (like Fig. 6 of the
                          SE paper)
- :func:`overlay`         a spatial map upsampled and laid over a photo
- :func:`draw_pipeline`   a left-to-right block diagram (boxes, arrows, an optional skip path
                          into a multiply node), for SE, CBAM and friends
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

__all__ = ["to_numpy", "image_hwc", "feature_grid", "gate_bars", "gates_by_class", "overlay",
           "upsample", "draw_pipeline"]


def to_numpy(x) -> np.ndarray:
    """A numpy copy of a tensor or array-like (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def image_hwc(img) -> np.ndarray:
    """An image as ``(H, W, 3)`` floats in [0, 1], from ``(3, H, W)`` / ``(H, W, 3)`` / uint8."""
    a = to_numpy(img)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"image_hwc: expected an image (3, H, W) or (H, W, 3), got shape {a.shape}")
    if a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    a = a.astype(np.float32)
    if a.max() > 1.0 + 1e-6:
        a = a / 255.0
    return np.clip(a, 0.0, 1.0)


def feature_grid(fmap, *, channels: Sequence[int] | None = None, ncols: int = 8, axes=None,
                 cmap: str = "viridis", titles: bool = True, size: float = 1.1, shared_scale=False):
    """Show channels of one feature map ``(C, H, W)`` as small images.

    Args:
        fmap: a ``(C, H, W)`` map (or ``(1, C, H, W)``).
        channels: which channels (default the first ``ncols`` * 2, at most ``C``).
        ncols: panels per row. ``axes``: an array of axes to draw into (else a new figure).
        cmap: colour map. ``titles``: write "ch k" over each panel.
        shared_scale: one colour scale for all panels (so brightness compares across channels);
            by default each panel is scaled to its own range.

    Returns:
        the array of axes.
    """
    a = to_numpy(fmap)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"feature_grid: expected (C, H, W), got shape {a.shape}")
    if channels is None:
        channels = list(range(min(a.shape[0], 2 * ncols)))
    channels = list(channels)
    nrows = max(1, -(-len(channels) // ncols))
    if axes is None:
        _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.2), squeeze=False)
    axes = np.atleast_1d(axes).ravel()
    vmin, vmax = (float(a[channels].min()), float(a[channels].max())) if shared_scale else (None, None)
    for ax in axes:
        ax.axis("off")
    for ax, c in zip(axes, channels):
        ax.imshow(a[c], cmap=cmap, vmin=vmin, vmax=vmax)
        if titles:
            ax.set_title(f"ch {c}", fontsize=8)
    return axes


def gate_bars(gate, *, ax=None, color: str = "tab:blue", highlight: Sequence[int] = (),
              title: str | None = None, ylabel: str = "gate"):
    """A channel gate (``C`` values, any shape that squeezes to ``(C,)``) as a bar chart in [0, 1]."""
    g = to_numpy(gate).reshape(-1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.2))
    colors = [("tab:orange" if i in set(highlight) else color) for i in range(len(g))]
    ax.bar(np.arange(len(g)), g, color=colors, width=0.85)
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.8, len(g) - 0.2)
    ax.set_xlabel("channel")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def gates_by_class(gates, class_names: Sequence[str], *, ax=None, title: str | None = None,
                   sort_by: int | None = None):
    """Average channel gate per class against channel index, one line per class.

    Args:
        gates: ``(K, C)`` array, row ``k`` the mean gate over the images of class ``k``.
        class_names: ``K`` names for the legend.
        sort_by: if given, order the channels by the gate of this class (row), which makes the
            differences between classes easier to see.
    """
    g = to_numpy(gates)
    if g.ndim != 2 or g.shape[0] != len(class_names):
        raise ValueError(f"gates_by_class: expected ({len(class_names)}, C), got shape {g.shape}")
    order = np.argsort(g[sort_by]) if sort_by is not None else np.arange(g.shape[1])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.6))
    for k, name in enumerate(class_names):
        ax.plot(np.arange(g.shape[1]), g[k, order], lw=1.3, label=str(name))
    ax.set_ylim(0, 1)
    ax.set_xlabel("channel index" + (" (sorted)" if sort_by is not None else ""))
    ax.set_ylabel("mean excitation")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=min(4, len(class_names)), loc="lower right", frameon=False)
    return ax


def upsample(heat, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a 2-D map to ``size = (H, W)`` (pure numpy)."""
    h = to_numpy(heat).astype(np.float32)
    h = np.squeeze(h)
    if h.ndim != 2:
        raise ValueError(f"upsample: expected a 2-D map, got shape {h.shape}")
    H, W = size
    ys = (np.arange(H) + 0.5) * h.shape[0] / H - 0.5
    xs = (np.arange(W) + 0.5) * h.shape[1] / W - 0.5
    ys, xs = np.clip(ys, 0, h.shape[0] - 1), np.clip(xs, 0, h.shape[1] - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h.shape[0] - 1), np.minimum(x0 + 1, h.shape[1] - 1)
    wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = h[y0][:, x0] * (1 - wx) + h[y0][:, x1] * wx
    bottom = h[y1][:, x0] * (1 - wx) + h[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def overlay(image, heat, *, ax=None, alpha: float = 0.5, cmap: str = "jet", title: str | None = None,
            vmin: float | None = 0.0, vmax: float | None = 1.0, colorbar: bool = False):
    """Lay a spatial map (``(h, w)``, e.g. a CBAM gate) over an image, upsampled to its size."""
    img = image_hwc(image)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    heat_up = upsample(heat, img.shape[:2])
    ax.imshow(img)
    im = ax.imshow(heat_up, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


_COLORS = {"data": "#e8eef7", "op": "#fde9c9", "gate": "#f7d4d4", "pool": "#dff0d8", "conv": "#e6dcf5"}


def draw_pipeline(steps: Sequence[tuple[str, str, str]], *, ax=None, skip: tuple[int, int] | None = None,
                  title: str | None = None, box_width: float = 1.5, gap: float = 0.55,
                  fontsize: int = 8):
    """Draw a left-to-right block diagram.

    Args:
        steps: ``(label, sublabel, kind)`` per box, in order. ``kind`` picks the colour: one of
            ``"data"`` (a tensor), ``"op"``, ``"gate"``, ``"pool"``, ``"conv"`` or ``"mul"``
            (drawn as a circle with a multiplication sign).
        skip: ``(i, j)`` draws an arrow from box ``i`` over the top into box ``j`` (the
            identity path that carries the input to the multiplication); a list of such pairs
            draws several.
        title: optional title over the diagram.

    Returns:
        the axes.
    """
    n = len(steps)
    if n == 0:
        raise ValueError("draw_pipeline: no steps")
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.0 + 1.25 * n, 14), 1.9))
    xs = [i * (box_width + gap) for i in range(n)]
    h = 0.9
    for (label, sub, kind), x in zip(steps, xs):
        cx = x + box_width / 2
        if kind == "mul":
            ax.add_patch(Circle((cx, 0), 0.28, facecolor="white", edgecolor="black", lw=1.2))
            ax.text(cx, 0, r"$\times$", ha="center", va="center", fontsize=fontsize + 5)
            if label:
                ax.text(cx, -0.55, label, ha="center", va="top", fontsize=fontsize)
            continue
        ax.add_patch(FancyBboxPatch((x, -h / 2), box_width, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    facecolor=_COLORS.get(kind, "#eeeeee"), edgecolor="black", lw=1.0))
        ax.text(cx, 0.12 if sub else 0, label, ha="center", va="center", fontsize=fontsize + 1, weight="bold")
        if sub:
            ax.text(cx, -0.2, sub, ha="center", va="center", fontsize=fontsize - 1)
    for i in range(n - 1):
        r = 0.28 if steps[i][2] == "mul" else box_width / 2
        l = 0.28 if steps[i + 1][2] == "mul" else box_width / 2
        start = xs[i] + box_width / 2 + r
        end = xs[i + 1] + box_width / 2 - l
        ax.add_patch(FancyArrowPatch((start, 0), (end, 0), arrowstyle="-|>", mutation_scale=10, lw=1.0))
    skips = [] if skip is None else ([skip] if isinstance(skip[0], int) else list(skip))
    for i, j in skips:
        x0, x1 = xs[i] + box_width / 2, xs[j] + box_width / 2
        top_j = 0.28 if steps[j][2] == "mul" else h / 2
        ax.add_patch(FancyArrowPatch((x0, h / 2), (x0, h / 2 + 0.45), arrowstyle="-", lw=1.0, color="0.35"))
        ax.add_patch(FancyArrowPatch((x0, h / 2 + 0.45), (x1, h / 2 + 0.45), arrowstyle="-", lw=1.0, color="0.35"))
        ax.add_patch(FancyArrowPatch((x1, h / 2 + 0.45), (x1, top_j), arrowstyle="-|>", mutation_scale=10,
                                     lw=1.0, color="0.35"))
    ax.set_xlim(-0.2, xs[-1] + box_width + 0.2)
    ax.set_ylim(-1.0, 1.3 if skips else 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=fontsize + 2)
    return ax
