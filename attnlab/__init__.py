"""attnlab: attention modules for convolutional networks, and YOLOv4-tiny to plug them into.

The package behind the executable textbook. Sub-packages, lowest layer first:

- :mod:`attnlab.attention`  SE, CBAM, ECA, Coordinate Attention, SimAM; ``build`` and ``capture``
- :mod:`attnlab.models`     a small classifier and YOLOv4-tiny with attention slots
- :mod:`attnlab.detection`  boxes, IoU family, NMS, decoding, loss, predictor
- :mod:`attnlab.data`       synthetic shapes, the VOC format, augmentation
- :mod:`attnlab.metrics`    detection mAP (VOC and COCO conventions)
- :mod:`attnlab.train`      a resumable trainer
- :mod:`attnlab.profiles`   "quick" (CPU) or "full" (GPU) experiment sizes

Lower layers never import higher ones.
"""

__version__ = "0.1.0"

from attnlab.profiles import Profile, get_profile  # noqa: E402  (light: no torch model code)

__all__ = ["__version__", "Profile", "get_profile"]
