"""Image arrays to tensors: the one conversion every dataset of :mod:`attnlab.data` shares.

A leaf module (numpy and torch only), so that :mod:`attnlab.data.shapes` and
:mod:`attnlab.data.voc` can both use it without importing each other the other way round.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_tensor"]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` -> float32 ``(3, H, W)`` in ``[0, 1]``."""
    image = np.ascontiguousarray(image)
    if not image.flags.writeable:
        image = image.copy()
    return torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0)
