"""Plots and diagrams for the chapters that compare attention mechanisms.

Used by the ECA chapter and by the comparison chapter (Coordinate Attention, SimAM, and all
mechanisms side by side). Every function draws on a Matplotlib ``Axes`` it is given (or makes
one) and returns the figure or axes, so a notebook cell stays a single line::

    >>> from attnlab.viz.comparison import plot_seed_spread
    >>> rows = [{"variant": "none", "seed": 0, "val_acc": 0.81},
    ...         {"variant": "none", "seed": 1, "val_acc": 0.83}]
    >>> ax = plot_seed_spread(rows)

Nothing here imports torch: inputs are plain numbers, lists, dicts or NumPy arrays.
"""

from __future__ import annotations

import statistics
from typing import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

__all__ = [
    "MECHANISM_COLORS",
    "color_for",
    "group_by_variant",
    "mean_and_spread",
    "plot_seed_spread",
    "plot_learning_curves",
    "plot_kernel_size_rules",
    "plot_param_growth",
    "plot_effective_maps",
    "plot_comparison",
    "draw_eca_diagram",
    "draw_coord_attention_diagram",
    "plot_pooled_profiles",
]

#: One colour per mechanism, used in every comparison figure so a reader can follow a mechanism
#: from chart to chart (colour-blind-friendly Okabe-Ito palette).
MECHANISM_COLORS: dict[str, str] = {
    "none": "#7f7f7f",
    "se": "#0072B2",
    "cbam": "#E69F00",
    "eca": "#009E73",
    "ca": "#CC79A7",
    "simam": "#D55E00",
}
_EXTRA_COLORS = ("#56B4E9", "#F0E442", "#000000", "#999933", "#882255", "#44AA99")


def color_for(name: str) -> str:
    """The colour of a mechanism (or of a variant such as ``"se-early"``, by its prefix)."""
    key = str(name).lower()
    if key in MECHANISM_COLORS:
        return MECHANISM_COLORS[key]
    for prefix, color in MECHANISM_COLORS.items():
        if key.startswith(prefix + "-") or key.startswith(prefix + "_") or key.startswith(prefix + " "):
            return color
    return _EXTRA_COLORS[sum(map(ord, key)) % len(_EXTRA_COLORS)]


def _new_ax(ax: Axes | None, figsize: tuple[float, float] = (8, 3)) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, dpi=100)
    return ax


# --------------------------------------------------------------------------------------------
# results over seeds
# --------------------------------------------------------------------------------------------


def group_by_variant(rows: Iterable[Mapping[str, object]], metric: str = "val_acc") -> dict[str, list[float]]:
    """``{variant: [metric of each seed, ...]}``, variants in first-seen order.

    Args:
        rows: dicts with at least ``"variant"`` and ``metric`` (one row per variant and seed).
        metric: which key to collect.

    Raises:
        KeyError: a row lacks ``"variant"`` or ``metric``.
    """
    groups: dict[str, list[float]] = {}
    for row in rows:
        if "variant" not in row or metric not in row:
            raise KeyError(f"group_by_variant: each row needs 'variant' and {metric!r}; got keys {sorted(row)}")
        groups.setdefault(str(row["variant"]), []).append(float(row[metric]))  # type: ignore[arg-type]
    return groups


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0.0 for a single value).

    Raises:
        ValueError: ``values`` is empty.
    """
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("mean_and_spread: no values")
    spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return statistics.fmean(vals), spread


def plot_seed_spread(
    rows: Iterable[Mapping[str, object]],
    metric: str = "val_acc",
    *,
    order: Sequence[str] | None = None,
    percent: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """One column per variant: every seed as a dot, the mean as a horizontal tick, one standard
    deviation as a whisker (no bars: bars on a zoomed axis exaggerate small differences). Showing the seeds (not just a bar) is the honest way to compare a handful of runs.

    Args:
        rows: ``{"variant", "seed", metric}`` dicts, as returned by
            :func:`attnlab.experiments.classification.compare`.
        metric: the key to plot (accuracy in [0, 1] by default).
        order: variants left to right (default: first-seen order); unknown names raise.
        percent: multiply values by 100 for display.
        ax: draw here (default: a new 8x3 figure).
        title, ylabel: labels; sensible defaults.

    Raises:
        KeyError: ``order`` names a variant absent from ``rows``.
    """
    groups = group_by_variant(rows, metric)
    names = list(order) if order is not None else list(groups)
    missing = [n for n in names if n not in groups]
    if missing:
        raise KeyError(f"plot_seed_spread: no rows for variants {missing}; have {list(groups)}")
    scale = 100.0 if percent else 1.0
    ax = _new_ax(ax)
    rng = np.random.default_rng(0)  # fixed jitter so the figure is the same on every run
    for i, name in enumerate(names):
        vals = np.asarray(groups[name]) * scale
        mean, spread = mean_and_spread(vals)
        color = color_for(name)
        ax.hlines(mean, i - 0.25, i + 0.25, color=color, lw=2.5)
        ax.errorbar(i, mean, yerr=spread, color=color, capsize=6, lw=1.5)
        jitter = rng.uniform(-0.15, 0.15, size=len(vals))
        ax.scatter(i + jitter, vals, color=color, s=22, zorder=3, alpha=0.8, edgecolor="white", linewidth=0.5)
    ax.set_xticks(range(len(names)), names)
    all_vals = np.concatenate([np.asarray(groups[n]) * scale for n in names]) if names else np.zeros(1)
    lo, hi = float(all_vals.min()), float(all_vals.max())
    pad = max(0.5, 0.2 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(ylabel or (f"{metric} (%)" if percent else metric))
    ax.set_title(title or "Each dot is one seed; tick = mean, whisker = one standard deviation", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_learning_curves(
    rows: Iterable[Mapping[str, object]],
    *,
    order: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Validation accuracy (solid) and training accuracy (dashed) per epoch, each the mean over
    seeds, one colour per variant: has training flattened, and how far apart are the two?

    Args:
        rows: runs with a ``history`` of ``{"epoch", "train_acc", "val_acc"}`` dicts (from
            :func:`attnlab.experiments.classification.compare` or a Part I reference file).
        order: the variants to draw (default: all, first-seen order).
        labels: legend names (default: the variant names).
        ax, title: where to draw and its title.

    Raises:
        KeyError: ``order`` names a variant absent from ``rows``.
        ValueError: a run has no history, or runs of one variant have histories of different
            lengths (they were trained for different numbers of epochs).
    """
    groups: dict[str, list[Sequence[Mapping[str, object]]]] = {}
    for row in rows:
        history = row.get("history")
        if not history:
            raise ValueError(f"plot_learning_curves: the run {row.get('variant')!r} seed {row.get('seed')!r} has no history")
        groups.setdefault(str(row["variant"]), []).append(history)  # type: ignore[arg-type]
    names = list(order) if order is not None else list(groups)
    missing = [n for n in names if n not in groups]
    if missing:
        raise KeyError(f"plot_learning_curves: no runs for variants {missing}; have {list(groups)}")
    ax = _new_ax(ax, figsize=(8, 3.2))
    for name in names:
        lengths = {len(h) for h in groups[name]}
        if len(lengths) != 1:
            raise ValueError(f"plot_learning_curves: runs of {name!r} have {sorted(lengths)} epochs; "
                             "a mean curve needs equal lengths")
        epochs = [int(e["epoch"]) for e in groups[name][0]]  # type: ignore[call-overload]
        for key, style in (("val_acc", "-"), ("train_acc", "--")):
            curve = 100 * np.mean([[float(e[key]) for e in h] for h in groups[name]], axis=0)  # type: ignore[arg-type]
            label = (labels or {}).get(name, name) if key == "val_acc" else None
            ax.plot(epochs, curve, style, color=color_for(name), lw=1.6 if key == "val_acc" else 1.0,
                    label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, title="solid: validation, dashed: training", title_fontsize=8)
    ax.set_title(title or f"Mean over {len(groups[names[0]])} seeds", fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------
# ECA: kernel size and parameter counts
# --------------------------------------------------------------------------------------------


def plot_kernel_size_rules(
    channels: Sequence[int],
    rules: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    highlight: Iterable[int] = (),
) -> Axes:
    """Kernel size against channel count (log2 x-axis), one step line per rule.

    Args:
        channels: channel counts C (increasing).
        rules: ``{label: kernel sizes, one per C}``; a real-valued ``t(C)`` may be included too.
        ax: draw here.
        highlight: channel counts to mark with a vertical dashed line (where rules disagree).

    Raises:
        ValueError: a rule has a different length from ``channels``.
    """
    ax = _new_ax(ax)
    c = np.asarray(channels, dtype=float)
    styles = ["-", "--", ":", "-."]
    for i, (label, ks) in enumerate(rules.items()):
        if len(ks) != len(c):
            raise ValueError(f"plot_kernel_size_rules: rule {label!r} has {len(ks)} values for {len(c)} channels")
        ks = np.asarray(ks, dtype=float)
        integral = bool(np.all(ks == np.round(ks)))
        offset = 0.04 * i if integral else 0.0  # nudge overlapping steps apart
        if integral:  # markers only: joining the sampled C values would invent the in-between steps
            markers = ["o", "s", "^", "D"]
            ax.plot(c, ks + offset, linestyle="none", marker=markers[i % len(markers)], ms=6 - i,
                    label=label)
        else:
            ax.plot(c, ks, styles[i % len(styles)], lw=1.2, label=label)
    for h in highlight:
        ax.axvline(h, color="crimson", ls="--", lw=1, alpha=0.7)
    return _channel_axis(ax, channels, "kernel size k")



def _channel_axis(ax: Axes, channels: Sequence[int], ylabel: str) -> Axes:
    """Channels on a log2 x-axis with one labelled tick per channel count, grid and legend."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(channels), [str(int(v)) for v in channels])
    ax.minorticks_off()
    ax.set_xlabel("channels C")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax

def plot_param_growth(
    channels: Sequence[int],
    counts: Mapping[str, Sequence[int]],
    *,
    ax: Axes | None = None,
) -> Axes:
    """Parameters of one attention block against channels, log-log, one line per mechanism,
    each point labelled with its count (so a flat line of 3s and 5s stays readable)."""
    ax = _new_ax(ax)
    for name, ys in counts.items():
        if len(ys) != len(channels):
            raise ValueError(f"plot_param_growth: {name!r} has {len(ys)} values for {len(channels)} channels")
        ys_plot = [max(y, 1) for y in ys]  # zero parameters sit on the axis floor
        ax.plot(channels, ys_plot, "o-", color=color_for(name), label=name)
        for x, y, yp in zip(channels, ys, ys_plot):
            ax.annotate(f"{y:,}", (x, yp), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_yscale("log")
    return _channel_axis(ax, channels, "parameters per block")


def plot_effective_maps(
    maps: Mapping[str, np.ndarray],
    *,
    fig: Figure | None = None,
    cmap: str = "RdBu_r",
    shared_scale: bool = True,
) -> Figure:
    """Heatmaps of matrices side by side, each colour scale symmetric around zero.

    With ``shared_scale`` (default) all panels use one scale and one colour bar (compare
    magnitudes); without, each panel gets its own (compare structure).

    Used to show the linear map from channel descriptors to gate logits: SE's ``W2 @ W1``
    (dense, low rank) against ECA's banded matrix.
    """
    if not maps:
        raise ValueError("plot_effective_maps: no matrices")
    arrays = {k: np.asarray(v, dtype=float) for k, v in maps.items()}
    for k, a in arrays.items():
        if a.ndim != 2:
            raise ValueError(f"plot_effective_maps: {k!r} is not a matrix (shape {a.shape})")
    fig = fig or plt.figure(figsize=(4 * len(arrays), 3.6), dpi=100)
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    shared = max(float(np.abs(a).max()) for a in arrays.values()) or 1.0
    im = None
    for ax, (title, a) in zip(axes, arrays.items()):
        vmax = shared if shared_scale else (float(np.abs(a).max()) or 1.0)
        im = ax.imshow(a, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input channel j")
        ax.set_ylabel("output channel i")
        if not shared_scale:
            fig.colorbar(im, ax=ax, shrink=0.8)
    if shared_scale:
        fig.colorbar(im, ax=list(axes), shrink=0.8)
    return fig


# --------------------------------------------------------------------------------------------
# the comparison figure
# --------------------------------------------------------------------------------------------


def plot_comparison(
    table: Sequence[Mapping[str, object]],
    panels: Sequence[tuple[str, str, str | None, str]],
    *,
    name_key: str = "variant",
    fig: Figure | None = None,
) -> Figure:
    """Horizontal bar panels, one row per mechanism, one panel per column of ``table``.

    Args:
        table: one dict per mechanism.
        panels: ``(key, title, error_key or None, scale)`` per panel; ``scale`` is ``"linear"``,
            ``"log"`` or ``"symlog"`` (``symlog`` shows zero, e.g. parameter-free SimAM).
        name_key: the key naming each row.
        fig: draw into this figure (default: a new one, 3.2 inches wide per panel).

    Raises:
        KeyError: a row lacks a key a panel needs.
        ValueError: no rows or no panels, or an unknown scale.
    """
    if not table or not panels:
        raise ValueError("plot_comparison: need at least one row and one panel")
    names = [str(r[name_key]) for r in table]
    fig = fig or plt.figure(figsize=(3.2 * len(panels), 0.45 * len(names) + 1.4), dpi=100)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    y = np.arange(len(names))
    for ax, (key, title, err_key, scale) in zip(axes, panels):
        if scale not in ("linear", "log", "symlog"):
            raise ValueError(f"plot_comparison: unknown scale {scale!r}")
        vals = np.array([float(r[key]) for r in table])  # type: ignore[arg-type]
        errs = np.array([float(r[err_key]) for r in table]) if err_key else None  # type: ignore[arg-type]
        colors = [color_for(n) for n in names]
        zoom = False
        if scale == "symlog":
            ax.set_xscale("symlog", linthresh=1.0)
        elif scale == "log":
            ax.set_xscale("log")
        else:
            lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
            zoom = lo > 0 and (hi - lo) < 0.5 * hi
        if zoom:
            # small differences far from zero: dots and whiskers on a zoomed axis (bars that do
            # not start at zero would exaggerate the differences)
            for yi, v, e, col in zip(y, vals, errs if errs is not None else [None] * len(vals), colors):
                ax.errorbar(v, yi, xerr=e, fmt="o", color=col, capsize=4, ms=6)
            lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
            margin = 0.35 * (hi - lo) + (float(np.nanmax(errs)) if errs is not None else 0.0) + 1e-3 * hi
            ax.set_xlim(lo - margin, hi + margin)
        else:
            ax.barh(y, vals, xerr=errs, color=colors, alpha=0.8, capsize=3)
        for yi, v in zip(y, vals):
            label = f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.3g}"
            if zoom:
                ax.annotate(label, (v, yi), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
            else:
                ax.annotate(label, (v, yi), textcoords="offset points", xytext=(3, -3), ha="left", fontsize=7)
        if not zoom:
            left, right = ax.get_xlim()
            ax.set_xlim(left, right * (3.0 if scale != "linear" else 1.15))
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.minorticks_off()
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# diagrams drawn by code
# --------------------------------------------------------------------------------------------


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str = "", color: str = "#dddddd",
         fontsize: int = 8, alpha: float = 1.0) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                facecolor=color, edgecolor="black", lw=0.8, alpha=alpha))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], text: str = "",
           fontsize: int = 7, color: str = "black") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, lw=1, color=color))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center",
                va="bottom", fontsize=fontsize)


def _cuboid(ax: Axes, x: float, y: float, w: float, h: float, d: float, color: str, label: str = "",
            fontsize: int = 8) -> None:
    """A feature map drawn as a pseudo-3D block: front face w x h, depth offset d."""
    front = Rectangle((x, y), w, h, facecolor=color, edgecolor="black", lw=0.8)
    top = plt.Polygon([(x, y + h), (x + d, y + h + d), (x + w + d, y + h + d), (x + w, y + h)],
                      closed=True, facecolor=color, edgecolor="black", lw=0.8, alpha=0.7)
    side = plt.Polygon([(x + w, y), (x + w + d, y + d), (x + w + d, y + h + d), (x + w, y + h)],
                       closed=True, facecolor=color, edgecolor="black", lw=0.8, alpha=0.5)
    for p in (front, top, side):
        ax.add_patch(p)
    if label:
        ax.text(x + w / 2, y - 0.18, label, ha="center", va="top", fontsize=fontsize)


def draw_eca_diagram(channels: int = 12, k: int = 3, *, focus: int = 5, ax: Axes | None = None) -> Axes:
    """ECA as a picture: feature map -> global average pool -> a row of C descriptors -> one
    shared 1-D kernel of size k slides across the row -> sigmoid -> one weight per channel ->
    rescale. The window that produces the weight of channel ``focus`` is highlighted.

    Raises:
        ValueError: ``k`` is even or not smaller than ``channels``, or ``focus`` out of range.
    """
    if k % 2 == 0 or k < 1 or k >= channels:
        raise ValueError(f"draw_eca_diagram: k must be odd and < channels, got k={k}, channels={channels}")
    if not 0 <= focus < channels:
        raise ValueError(f"draw_eca_diagram: focus must be in [0, {channels}), got {focus}")
    ax = _new_ax(ax, figsize=(9, 3.4))
    rng = np.random.default_rng(3)
    desc = rng.uniform(0.15, 0.95, channels)
    gates = 1 / (1 + np.exp(-4 * (np.convolve(desc, np.ones(k) / k, mode="same") - 0.5)))
    cmap = plt.get_cmap("viridis")

    _cuboid(ax, 0.0, 0.9, 1.3, 1.3, 0.5, "#9ecae1", "input X\nC x H x W")
    _arrow(ax, (1.9, 1.6), (2.7, 1.6), "GAP")

    cell = 0.32
    x0_desc, y_desc, y_gate = 2.9, 2.5, 0.6
    half = k // 2
    for i in range(channels):
        ax.add_patch(Rectangle((x0_desc + i * cell, y_desc), cell, cell, facecolor=cmap(desc[i]),
                               edgecolor="black", lw=0.6))
        ax.add_patch(Rectangle((x0_desc + i * cell, y_gate), cell, cell, facecolor=plt.get_cmap("Reds")(gates[i]),
                               edgecolor="black", lw=0.6))
    ax.text(x0_desc - 0.1, y_desc + cell / 2, "y", ha="right", va="center", fontsize=10)
    ax.text(x0_desc - 0.1, y_gate + cell / 2, r"$\omega$", ha="right", va="center", fontsize=10)
    lo = max(0, focus - half)
    hi = min(channels - 1, focus + half)
    ax.add_patch(Rectangle((x0_desc + lo * cell - 0.03, y_desc - 0.03), (hi - lo + 1) * cell + 0.06, cell + 0.06,
                           fill=False, edgecolor="crimson", lw=2.2))
    ax.add_patch(Rectangle((x0_desc + focus * cell - 0.03, y_gate - 0.03), cell + 0.06, cell + 0.06,
                           fill=False, edgecolor="crimson", lw=2.2))
    for j in range(lo, hi + 1):
        _arrow(ax, (x0_desc + (j + 0.5) * cell, y_desc - 0.05), (x0_desc + (focus + 0.5) * cell, y_gate + cell + 0.05),
               color="crimson")
    xr = x0_desc + channels * cell
    ax.text(x0_desc + (hi + 1) * cell + 0.15, (y_desc + y_gate + cell) / 2,
            f"one shared kernel, k = {k}\n(Conv1d, no bias)\nthen sigmoid",
            ha="left", va="center", fontsize=8, color="crimson")
    ax.text(x0_desc + channels * cell / 2, y_desc + cell + 0.12, f"C = {channels} channel descriptors",
            ha="center", va="bottom", fontsize=8)
    ax.text(x0_desc + channels * cell / 2, y_gate - 0.12, "one weight per channel", ha="center", va="top",
            fontsize=8)
    _arrow(ax, (xr + 0.1, y_gate + cell / 2), (xr + 0.9, 1.3), "scale X")
    _cuboid(ax, xr + 1.0, 0.9, 1.3, 1.3, 0.5, "#fdae6b", "output\nX * w")
    ax.set_xlim(-0.2, xr + 3.0)
    ax.set_ylim(0.0, 3.4)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_coord_attention_diagram(ax: Axes | None = None, activation: str = "relu") -> Axes:
    """Coordinate Attention as a flow chart: pool along W and along H, concatenate, shared 1x1
    conv + BN + non-linearity, split, one 1x1 conv and sigmoid per direction, and multiply the
    input by both gates (broadcast along the other axis).

    ``activation`` names the non-linearity as :class:`attnlab.attention.CoordAttention` does:
    ``"relu"`` (its default, the reference project's) or ``"hswish"`` (the authors' code)."""
    labels = {"relu": "ReLU", "hswish": "h-swish"}
    if activation not in labels:
        raise ValueError(f"draw_coord_attention_diagram: activation must be 'relu' or 'hswish', got {activation!r}")
    ax = _new_ax(ax, figsize=(9, 3.8))
    blue, green, orange, grey = "#c6dbef", "#c7e9c0", "#fdd0a2", "#eeeeee"
    fs = 7
    _box(ax, 0.0, 1.6, 1.3, 0.8, "input X\nC x H x W", blue, fs)
    _box(ax, 1.9, 2.8, 2.0, 0.7, "X-pool: average over W\nC x H x 1", grey, fs)
    _box(ax, 1.9, 0.5, 2.0, 0.7, "Y-pool: average over H\nC x 1 x W", grey, fs)
    _arrow(ax, (1.3, 2.2), (1.9, 3.1))
    _arrow(ax, (1.3, 1.8), (1.9, 0.9))
    _box(ax, 4.4, 1.45, 2.2, 1.1, "concat: C x 1 x (H+W)\nshared 1x1 conv C -> C/r\nBN + " + labels[activation], green, fs)
    _arrow(ax, (3.9, 3.1), (4.5, 2.4))
    _arrow(ax, (3.9, 0.9), (4.5, 1.6))
    _box(ax, 7.1, 2.8, 2.2, 0.7, "split, 1x1 conv $F_h$, sigmoid\n$g^h$: C x H x 1", orange, fs)
    _box(ax, 7.1, 0.5, 2.2, 0.7, "split, 1x1 conv $F_w$, sigmoid\n$g^w$: C x 1 x W", orange, fs)
    _arrow(ax, (6.5, 2.4), (7.1, 3.1))
    _arrow(ax, (6.5, 1.6), (7.1, 0.9))
    _box(ax, 9.9, 1.6, 1.5, 0.8, "$y = x \\cdot g^h \\cdot g^w$\nC x H x W", blue, fs)
    _arrow(ax, (9.3, 3.1), (10.2, 2.4))
    _arrow(ax, (9.3, 0.9), (10.2, 1.6))
    ax.annotate("", xy=(10.9, 2.4), xytext=(0.4, 2.4), arrowprops=dict(arrowstyle="-|>", lw=0.8, ls="--",
                connectionstyle="arc3,rad=-0.5", color="#555555"))
    ax.text(5.6, 5.0, "identity: the input is rescaled, not replaced", ha="center", fontsize=7, color="#555555")
    ax.set_xlim(-0.2, 11.6)
    ax.set_ylim(0.3, 5.3)
    ax.axis("off")
    return ax



def plot_pooled_profiles(image: np.ndarray, *, fig: Figure | None = None,
                         channel_names: Sequence[str] = ("R", "G", "B")) -> Figure:
    """What Coordinate Attention's two poolings keep: an image (C, H, W) with, to its right, each
    channel averaged over the width (a profile along the height, :math:`z^h`) and, below it, each
    channel averaged over the height (a profile along the width, :math:`z^w`). Global average
    pooling would keep one number per channel and lose both profiles.

    Raises:
        ValueError: ``image`` is not a (C, H, W) array.
    """
    img = np.asarray(image, dtype=float)
    if img.ndim != 3:
        raise ValueError(f"plot_pooled_profiles: image must be (C, H, W), got shape {img.shape}")
    c, h, w = img.shape
    fig = fig or plt.figure(figsize=(5.5, 4.2), dpi=100)
    grid = fig.add_gridspec(2, 2, width_ratios=(3, 1.3), height_ratios=(3, 1.3), wspace=0.08, hspace=0.08)
    ax_img = fig.add_subplot(grid[0, 0])
    ax_h = fig.add_subplot(grid[0, 1], sharey=ax_img)
    ax_w = fig.add_subplot(grid[1, 0], sharex=ax_img)
    shown = np.clip(img[:3].transpose(1, 2, 0), 0, 1) if c >= 3 else img[0]
    ax_img.imshow(shown, cmap=None if c >= 3 else "gray", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    ax_img.set_title("input", fontsize=9)
    ax_img.tick_params(labelbottom=False)
    colors = ("#d62728", "#2ca02c", "#1f77b4")
    z_h, z_w = img.mean(axis=2), img.mean(axis=1)  # (C, H), (C, W)
    for i in range(c):
        col = colors[i] if i < 3 else None
        name = channel_names[i] if i < len(channel_names) else f"ch {i}"
        ax_h.plot(z_h[i], np.arange(h), color=col, label=name)
        ax_w.plot(np.arange(w), z_w[i], color=col)
    ax_h.set_title("$z^h$: mean over W", fontsize=9)
    ax_h.tick_params(labelleft=False, labelsize=7)
    ax_w.set_ylabel("$z^w$: mean\nover H", fontsize=8)
    ax_w.tick_params(labelsize=7)
    ax_h.legend(fontsize=7, loc="lower right")
    return fig
