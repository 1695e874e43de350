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

from attnlab.metrics.map import __all__  # noqa: E402,F401  (one list of public names)
