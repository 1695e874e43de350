"""Draw detections on an image with matplotlib."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["draw_detections", "class_colors"]


def class_colors(num_classes: int) -> list[tuple[float, float, float, float]]:
    """One distinct RGBA colour per class (matplotlib's tab10/tab20, cycled)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if num_classes <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(max(num_classes, 1))]


def _as_numpy(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v)


def draw_detections(
    image: Any,
    result: Any,
    ax: Any = None,
    *,
    class_names: Sequence[str] | None = None,
    score_threshold: float = 0.0,
    show_scores: bool = True,
    linewidth: float = 2.0,
    fontsize: float = 8.0,
    title: str | None = None,
):
    """Draw boxes, class names and scores on ``image``; returns the matplotlib ``Axes``.

    Args:
        image: anything :func:`attnlab.detection.predictor.load_image` accepts (path, PIL image,
            numpy array), in the same pixel coordinates as the boxes.
        result: a :class:`~attnlab.detection.predictor.PredictionResult`, a
            :class:`~attnlab.detection.decode.Detections`, or a dict with ``boxes`` (``xyxy``),
            ``scores`` and ``labels`` (and optionally ``class_names``).
        ax: axes to draw on (a new figure when ``None``).
        class_names: names for the labels when ``result`` has none.
        score_threshold: hide detections scoring below this.
        show_scores: append the score to each label.
        title: axes title (default: the number of detections shown).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from attnlab.detection.predictor import load_image

    rgb = load_image(image)
    get = (lambda k: result.get(k)) if isinstance(result, dict) else (lambda k: getattr(result, k, None))
    boxes = _as_numpy(get("boxes")).reshape(-1, 4).astype(float)
    scores = get("scores")
    scores = np.ones(len(boxes)) if scores is None else _as_numpy(scores).reshape(-1).astype(float)
    labels = get("labels")
    labels = np.zeros(len(boxes), dtype=int) if labels is None else _as_numpy(labels).reshape(-1).astype(int)
    names = get("class_names")
    if names is None or len(names) != len(boxes):
        names = [
            (class_names[i] if class_names is not None and 0 <= i < len(class_names) else f"class{i}") for i in labels
        ]
    if not (len(boxes) == len(scores) == len(labels)):
        raise ValueError(
            f"draw_detections: {len(boxes)} boxes, {len(scores)} scores and {len(labels)} labels do not match"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * rgb.shape[0] / max(rgb.shape[1], 1)), dpi=100)
    ax.imshow(rgb)
    n_colors = max(int(labels.max()) + 1 if len(labels) else 1, len(class_names or []))
    colors = class_colors(n_colors)
    shown = 0
    for (x1, y1, x2, y2), s, l, n in zip(boxes, scores, labels, names):
        if s < score_threshold:
            continue
        shown += 1
        c = colors[l % len(colors)]
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=c, linewidth=linewidth))
        text = f"{n} {s:.2f}" if show_scores else str(n)
        ax.text(
            x1, y1, text, fontsize=fontsize, color="white", va="bottom", ha="left",
            bbox=dict(facecolor=c, edgecolor="none", pad=1.0, alpha=0.85), clip_on=True,
        )
    ax.set_xlim(0, rgb.shape[1])
    ax.set_ylim(rgb.shape[0], 0)
    ax.set_axis_off()
    ax.set_title(f"{shown} detection{'s' if shown != 1 else ''}" if title is None else title)
    return ax
