"""Data for the book: synthetic shapes, the VOC format, augmentation, batching.

Item format of every detection dataset here (:class:`ShapesDetection`, :class:`VOCDetection`):
``(image, boxes)`` with ``image`` a float32 tensor ``(3, H, W)`` in ``[0, 1]`` and ``boxes`` a
float32 tensor ``(N, 5)`` ``[x1, y1, x2, y2, class]`` in pixels (0-based corners). A batch from
:func:`make_loader` / :func:`detection_collate` is ``(images (B, 3, H, W), targets (M, 6))`` with
target rows ``[batch_index, class, x1, y1, x2, y2]``.
"""

from attnlab.data.anchors import AnchorResult, dataset_wh, kmeans_anchors, wh_iou
from attnlab.data.download import UnsafeArchiveError, download_voc2007
from attnlab.data.loader import EpochLoader, auto_num_workers, detection_collate, make_loader, seed_worker, split_targets
from attnlab.data.shapes import (
    CLASS_NAMES,
    SPLITS,
    ShapesClassification,
    ShapesDetection,
    image_rng,
    make_classification,
    make_detection_image,
    to_tensor,
)
from attnlab.data.transforms import (
    MIN_SIDE,
    MIN_VISIBLE,
    Compose,
    HorizontalFlip,
    HSVJitter,
    Letterbox,
    LetterboxResize,
    MixUp,
    Mosaic,
    RandomScaleAspect,
    clip_boxes,
    filter_boxes,
    letterbox,
    mixup,
    mosaic,
    train_transform,
)
from attnlab.data.voc import (
    VOC_CLASSES,
    VOCAnnotation,
    VOCDataError,
    VOCDetection,
    parse_annotation,
    read_class_names,
    read_image,
    write_annotation,
    write_voc,
)

__all__ = [
    # shapes
    "CLASS_NAMES", "SPLITS", "ShapesClassification", "ShapesDetection", "image_rng",
    "make_classification", "make_detection_image", "to_tensor",
    # transforms
    "Letterbox", "letterbox", "LetterboxResize", "RandomScaleAspect", "HorizontalFlip", "HSVJitter",
    "Mosaic", "MixUp", "mosaic", "mixup", "Compose", "train_transform", "clip_boxes", "filter_boxes",
    "MIN_SIDE", "MIN_VISIBLE",
    # VOC
    "VOC_CLASSES", "VOCAnnotation", "VOCDataError", "VOCDetection", "parse_annotation",
    "read_class_names", "read_image", "write_annotation", "write_voc",
    # download
    "download_voc2007", "UnsafeArchiveError",
    # loading
    "detection_collate", "make_loader", "EpochLoader", "auto_num_workers", "seed_worker", "split_targets",
    # anchors
    "kmeans_anchors", "wh_iou", "dataset_wh", "AnchorResult",
]
