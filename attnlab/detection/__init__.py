"""Detection: boxes, the IoU family and NMS, anchors, decoding, a predictor and ONNX export.

Public names are imported lazily (on first attribute access): ``import attnlab.detection.boxes``
does not import the model, and ``from attnlab.detection import nms`` only imports ``boxes``.

- boxes:     :func:`box_convert`, :func:`box_area`, :func:`box_iou`, :func:`iou`,
             :func:`generalized_box_iou` / :func:`distance_box_iou` / :func:`complete_box_iou`
             (and ``*_aligned``), :func:`nms`, :func:`batched_nms`
- anchors:   :data:`YOLO_ANCHORS`, :data:`ANCHORS_MASK`, :func:`scale_anchors`
- decode:    :func:`decode`, :func:`decode_outputs`, :func:`postprocess`, :class:`Detections`
- predictor: :class:`Predictor`, :class:`PredictionResult`, :func:`load_image`
- export:    :func:`export_onnx`
"""

from __future__ import annotations

from attnlab._lazy import lazy_exports

_LAZY: dict[str, str] = {}
for _module, _names in {
    "attnlab.detection.boxes": (
        "BOX_FORMATS box_convert box_area clip_boxes box_iou generalized_box_iou distance_box_iou "
        "complete_box_iou box_iou_aligned generalized_box_iou_aligned distance_box_iou_aligned "
        "complete_box_iou_aligned iou nms batched_nms"
    ),
    "attnlab.detection.anchors": "YOLO_ANCHORS ANCHORS_MASK ANCHORS_SIZE STRIDES default_anchors scale_anchors anchors_for_output",
    "attnlab.detection.decode": "Detections decode decode_outputs postprocess make_grid",
    "attnlab.detection.predictor": "Predictor PredictionResult load_image",
    "attnlab.detection.export": "export_onnx",
}.items():
    for _name in _names.split():
        _LAZY[_name] = _module

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


# ``decode`` names both a submodule and a function. Once the submodule is imported (the predictor
# does), Python binds the package attribute ``decode`` to the module and the lazy lookup above
# never runs, so ``from attnlab.detection import decode`` would hand back a module. Importing the
# function eagerly keeps the name pointing at the function; decode.py needs only boxes/anchors.
from attnlab.detection.decode import decode  # noqa: E402
