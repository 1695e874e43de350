"""Show a batch of detection images with their boxes."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

__all__ = ["show_batch"]


def _colours(n: int) -> list:
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(max(n, 1))]


def show_batch(
    images: torch.Tensor | Sequence,
    targets: torch.Tensor | Sequence | None,
    class_names: Sequence[str],
    *,
    ncols: int = 4,
    max_images: int = 16,
    size: float = 2.6,
    scores: Sequence | None = None,
    title: str | None = None,
):
    """A grid of images with labelled boxes; returns the matplotlib Figure.

    Args:
        images: ``(B, 3, H, W)`` float in ``[0, 1]`` (a batch from the loader), or a list of such
            tensors or uint8 ``(H, W, 3)`` arrays.
        targets: the collate's ``(M, 6)`` ``[batch_index, class, x1, y1, x2, y2]`` tensor, or a list
            of per-image ``(N, 5)`` ``[x1, y1, x2, y2, class]`` boxes, or ``None``.
        class_names: names for the class indices.
        ncols, max_images, size: grid layout (inches per image).
        scores: optional per-image confidence lists (drawn after the class name).
        title: figure title.
    """
    import matplotlib.pyplot as plt

    imgs = list(images[:max_images]) if not isinstance(images, torch.Tensor) else list(images[:max_images])
    n = len(imgs)
    if targets is None:
        per_image = [np.zeros((0, 5))] * n
    elif isinstance(targets, torch.Tensor) and targets.ndim == 2 and targets.shape[1] == 6:
        t = targets.detach().cpu().numpy()
        per_image = [np.concatenate([t[t[:, 0] == i][:, 2:6], t[t[:, 0] == i][:, 1:2]], 1) for i in range(n)]
    else:
        per_image = [np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b).reshape(-1, 5) for b in targets]
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    colours = _colours(len(class_names))
    for ax in axes.flat:
        ax.axis("off")
    for i, (img, ax) in enumerate(zip(imgs, axes.flat)):
        if isinstance(img, torch.Tensor):
            arr = img.detach().cpu().float()
            arr = arr.permute(1, 2, 0).clamp(0, 1).numpy() if arr.shape[0] in (1, 3) else arr.numpy()
        else:
            arr = np.asarray(img)
        ax.imshow(arr)
        for j, (x1, y1, x2, y2, c) in enumerate(per_image[i] if i < len(per_image) else []):
            c = int(c)
            col = colours[c % len(colours)]
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=col, linewidth=1.5))
            label = class_names[c] if 0 <= c < len(class_names) else str(c)
            if scores is not None:
                label += f" {float(scores[i][j]):.2f}"
            ax.text(x1, y1, label, fontsize=7, color="white", va="bottom",
                    bbox=dict(facecolor=col, edgecolor="none", pad=1, alpha=0.8))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
