"""Image in, boxes out: the YOLOv4-tiny predictor.

::

    from skimage import data
    predictor = Predictor(model, class_names, input_size=416, conf_threshold=0.5, nms_iou=0.3)
    result = predictor(data.astronaut())          # a path, a PIL image or a numpy array
    result.boxes        # (N, 4) xyxy in the ORIGINAL image's pixels
    result.scores, result.labels, result.class_names

The pipeline: :func:`load_image` (any of the accepted inputs -> ``(H, W, 3)`` uint8 RGB) ->
:func:`attnlab.data.transforms.letterbox` (resize keeping the aspect ratio, grey padding) ->
model -> :func:`attnlab.detection.decode.decode` -> boxes mapped back through the letterbox and
clipped to the image.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from attnlab.detection.decode import Detections, decode

__all__ = ["Predictor", "PredictionResult", "load_image", "image_to_tensor"]


def load_image(image: Any) -> np.ndarray:
    """Turn a path, PIL image or numpy array into an ``(H, W, 3)`` uint8 RGB array.

    Accepted: file paths (``str`` / ``Path``); PIL images in any mode (grayscale, palette, RGBA,
    CMYK, ...); numpy arrays ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (alpha
    dropped), ``uint8``, ``bool`` or floats in ``[0, 1]`` (as scikit-image returns them).

    Raises:
        FileNotFoundError: a path that does not exist.
        IsADirectoryError: a path to a folder.
        TypeError: an object that is not an image (e.g. a list or a torch tensor).
        ValueError: an array whose shape or values are not an image's.
    """
    from PIL import Image, ImageOps

    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if path.is_dir():
            raise IsADirectoryError(f"load_image: {path} is a folder; expected an image file (PNG, JPEG, ...)")
        if not path.is_file():
            raise FileNotFoundError(f"load_image: no such file: {path}")
        with Image.open(path) as im:
            im.load()
            image = ImageOps.exif_transpose(im) or im
            return _pil_to_rgb(image)
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    if isinstance(image, torch.Tensor):
        raise TypeError(
            "load_image: got a torch.Tensor; pass the image as a numpy (H, W, 3) uint8 array "
            "(e.g. tensor.permute(1, 2, 0).mul(255).byte().numpy()) or call the model directly"
        )
    if not isinstance(image, np.ndarray):
        raise TypeError(f"load_image: expected a path, a PIL image or a numpy array, got {type(image).__name__}")
    arr = image
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] > 4:
        raise ValueError(
            f"load_image: array of shape {arr.shape} looks channels-first; images must be (H, W, C) "
            "(use arr.transpose(1, 2, 0))"
        )
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"load_image: an image needs 1 (gray), 3 (RGB) or 4 (RGBA) channels, got {arr.shape[2]} "
            f"(array shape {arr.shape})"
        )
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"load_image: not an image array: shape {arr.shape}; expected (H, W) grayscale, (H, W, 1), "
            "(H, W, 3) RGB or (H, W, 4) RGBA"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"load_image: empty image of shape {arr.shape}")
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("load_image: float image contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"load_image: float images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; "
                "for 0..255 data use arr.astype(np.uint8)"
            )
        arr = np.round(arr * 255.0).astype(np.uint8)
    else:
        raise ValueError(
            f"load_image: unsupported dtype {arr.dtype}; expected uint8 (0..255), bool or float in [0, 1]"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def _pil_to_rgb(im: Any) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        a = a / max(a.max(), 1.0)
        return load_image(a.astype(np.float32))
    return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float tensor in ``[0, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0).unsqueeze(0)


@dataclass(frozen=True)
class PlainResize:
    """The map of a plain resize to the network's input (no padding; the aspect ratio is not kept),
    as the reference project's predictor does by default (``letterbox_image=False``)."""

    orig_w: int
    orig_h: int
    out_w: int
    out_h: int

    def invert_boxes(self, boxes_xyxy: torch.Tensor, *, clip: bool = False) -> torch.Tensor:
        """Boxes in network-input pixels -> boxes in the original image's pixels."""
        out = torch.as_tensor(boxes_xyxy, dtype=torch.float32).clone()
        out[:, [0, 2]] *= self.orig_w / self.out_w
        out[:, [1, 3]] *= self.orig_h / self.out_h
        if clip:
            out[:, [0, 2]] = out[:, [0, 2]].clamp(0, self.orig_w)
            out[:, [1, 3]] = out[:, [1, 3]].clamp(0, self.orig_h)
        return out


@dataclass
class PredictionResult:
    """Detections of one image, in the original image's pixels.

    Attributes:
        boxes: ``(N, 4)`` float ``xyxy`` boxes in the original image's pixel coordinates.
        scores: ``(N,)`` confidences (objectness x class probability), decreasing.
        labels: ``(N,)`` int64 class indices.
        class_names: ``N`` class names, one per detection.
        image_size: ``(height, width)`` of the original image.
        letterbox: the :class:`~attnlab.data.transforms.Letterbox` (or :class:`PlainResize`) that
            mapped it to the network.
        detections: the raw :class:`~attnlab.detection.decode.Detections` in network-input pixels
            (with each detection's candidate index, used by Grad-CAM).
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    image_size: tuple[int, int]
    letterbox: Any = None
    detections: Detections | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.scores)

    def to_records(self, decimals: int = 1) -> list[dict[str, Any]]:
        """One dict per detection: ``{"label", "name", "score", "box": [x1, y1, x2, y2]}``."""
        return [
            {
                "label": int(l),
                "name": n,
                "score": round(float(s), 4),
                "box": [round(float(v), decimals) for v in b],
            }
            for b, s, l, n in zip(self.boxes, self.scores, self.labels, self.class_names)
        ]

    def __repr__(self) -> str:
        h, w = self.image_size
        lines = [f"PredictionResult({len(self)} detections in a {w}x{h} image)"]
        records = self.to_records()
        for r in records[:10]:
            lines.append(f"  {r['name']:<12} {r['score']:.3f}  {r['box']}")
        if len(records) > 10:
            lines.append(f"  ... and {len(records) - 10} more")
        return "\n".join(lines)


class Predictor:
    """Run a YOLOv4-tiny model on images and return boxes in the original image's coordinates.

    Args:
        model: a :class:`~attnlab.models.YoloV4Tiny` (or a fused copy of one; anything with
            ``num_classes``, ``anchors`` and ``anchors_mask`` attributes returning its two outputs).
        class_names: one name per class (default ``"class0"``, ``"class1"``, ...).
        input_size: network input side or ``(height, width)``, multiples of 32 (default: the
            model's ``input_size``, 416 unless set).
        conf_threshold: minimum ``objectness * class probability`` (reference default 0.5).
        nms_iou: IoU above which NMS suppresses a box of the same class (reference default 0.3).
        device: where to run (default: where the model's parameters are).
        max_detections: at most this many detections per image.
        letterbox: fit each image into the input keeping its aspect ratio, padding with grey
            (default, as training does); ``False`` resizes it plainly to the input size
            (:class:`PlainResize`), the reference project's predictor default.

    The model is put in eval mode for each call and its previous mode restored afterwards.
    """

    def __init__(
        self,
        model: nn.Module,
        class_names: Sequence[str] | None = None,
        input_size: int | tuple[int, int] | None = None,
        conf_threshold: float = 0.5,
        nms_iou: float = 0.3,
        *,
        device: torch.device | str | None = None,
        max_detections: int = 300,
        letterbox: bool = True,
    ):
        from attnlab.models.yolo import _check_size

        for attr in ("num_classes", "anchors", "anchors_mask"):
            if not hasattr(model, attr):
                raise TypeError(f"Predictor: model must have a {attr!r} attribute (a YoloV4Tiny), got {type(model).__name__}")
        self.model = model
        self.num_classes = int(model.num_classes)
        if class_names is None:
            class_names = [f"class{i}" for i in range(self.num_classes)]
        class_names = [str(c) for c in class_names]
        if len(class_names) != self.num_classes:
            raise ValueError(
                f"Predictor: {len(class_names)} class names for a model with {self.num_classes} classes"
            )
        self.class_names = class_names
        self.input_size = _check_size(getattr(model, "input_size", 416) if input_size is None else input_size)
        for name, value in (("conf_threshold", conf_threshold), ("nms_iou", nms_iou)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
                raise ValueError(f"Predictor: {name} must be a number in [0, 1], got {value!r}")
        if isinstance(max_detections, bool) or not isinstance(max_detections, numbers.Integral) or max_detections < 1:
            raise ValueError(f"Predictor: max_detections must be an int >= 1, got {max_detections!r}")
        self.conf_threshold = float(conf_threshold)
        self.nms_iou = float(nms_iou)
        self.max_detections = int(max_detections)
        if not isinstance(letterbox, bool):
            raise TypeError(f"Predictor: letterbox must be True or False, got {letterbox!r}")
        self.letterbox = letterbox
        if device is None:
            p = next(model.parameters(), None)
            device = p.device if p is not None else "cpu"
        self.device = torch.device(device)

    # ------------------------------------------------------------------ steps
    def preprocess(self, image: Any) -> tuple[torch.Tensor, Any, np.ndarray]:
        """``image`` -> ``(input tensor (1, 3, H, W) on the device, Letterbox, RGB uint8 original)``."""
        from attnlab.data.transforms import letterbox

        rgb = load_image(image)
        if not self.letterbox:
            from PIL import Image

            h, w = self.input_size
            stretched = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC))
            return image_to_tensor(stretched).to(self.device), PlainResize(rgb.shape[1], rgb.shape[0], w, h), rgb
        boxed, lb = letterbox(rgb, self.input_size)
        return image_to_tensor(boxed).to(self.device), lb, rgb

    def detections_to_result(self, det: Detections, lb: Any) -> PredictionResult:
        """Map network-input detections back to the original image through ``lb``."""
        boxes = det.boxes.detach().float().cpu()
        boxes = lb.invert_boxes(boxes, clip=True) if len(boxes) else boxes.reshape(0, 4)
        labels = det.labels.detach().cpu()
        return PredictionResult(
            boxes=boxes,
            scores=det.scores.detach().float().cpu(),
            labels=labels,
            class_names=[self.class_names[int(i)] for i in labels],
            image_size=(lb.orig_h, lb.orig_w),
            letterbox=lb,
            detections=det.to("cpu"),
        )

    def decode(self, outputs: Sequence[torch.Tensor]) -> list[Detections]:
        """Raw outputs of a batch -> detections in network-input pixels."""
        return decode(
            outputs,
            self.num_classes,
            self.input_size,
            self.model.anchors,
            self.model.anchors_mask,
            conf_threshold=self.conf_threshold,
            nms_iou=self.nms_iou,
            max_detections=self.max_detections,
        )

    # ------------------------------------------------------------------ API
    def predict(self, image: Any) -> PredictionResult:
        """Detect objects in one image (path, PIL image or numpy array)."""
        return self.predict_batch([image])[0]

    __call__ = predict

    def predict_batch(self, images: Sequence[Any]) -> list[PredictionResult]:
        """Detect objects in several images at once (one forward pass)."""
        if isinstance(images, (np.ndarray, str, os.PathLike)) or not isinstance(images, Sequence):
            raise TypeError("predict_batch: pass a list of images (use predict for a single one)")
        if len(images) == 0:
            return []
        prepared = [self.preprocess(im) for im in images]
        x = torch.cat([p[0] for p in prepared])
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                outputs = self.model(x)
        finally:
            self.model.train(was_training)
        dets = self.decode(outputs)
        return [self.detections_to_result(d, p[1]) for d, p in zip(dets, prepared)]
