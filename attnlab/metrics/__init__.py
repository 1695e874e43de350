"""Detection metrics: mAP in the PASCAL VOC (11-point and all-point) and COCO conventions.

See :mod:`attnlab.metrics.map`. ``python -m attnlab bench map`` times it against pycocotools.
"""

from attnlab.metrics.map import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_MAX_DETS,
    COCO_RECALL_THRESHOLDS,
    COCO_STATS,
    DetectionMetrics,
    box_iou,
    evaluate_detections,
    voc_ap,
)

__all__ = [
    "DetectionMetrics",
    "evaluate_detections",
    "box_iou",
    "voc_ap",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "COCO_AREA_RANGES",
    "COCO_MAX_DETS",
    "COCO_STATS",
]
