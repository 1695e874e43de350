"""Image transforms that move boxes with the pixels: letterbox (and its inverse) and augmentation.

Conventions used throughout :mod:`attnlab.data`:

* images are ``uint8`` numpy arrays of shape ``(H, W, 3)`` (RGB) while they are being transformed;
  datasets turn them into float tensors ``(3, H, W)`` in ``[0, 1]`` at the very end;
* boxes are ``(N, 5)`` float arrays ``[x1, y1, x2, y2, class]`` in *pixel* coordinates of the
  image they belong to (corner convention: a box covering pixel columns ``0..w-1`` has
  ``x1 = 0, x2 = w``);
* every random transform is a callable ``t(image, boxes, rng) -> (image, boxes)`` that takes a
  :class:`numpy.random.Generator`, so a pipeline is reproducible from one seed.

Box drop rule (all augmentations): after a transform the boxes are clipped to the image; a box is
dropped when either clipped side is shorter than ``min_side`` pixels (default 2) or when the
clipped area is less than ``min_visible`` (default 0.25) of the area the box would have had in the
transformed image without clipping. Dropped boxes are silently removed (no warning: that is
augmentation, not bad data).

:func:`letterbox` follows the reference YOLOv4-tiny project (bubbliiiing/yolov4-tiny-pytorch):
resize with PIL bicubic keeping the aspect ratio, centre the result on a canvas filled with grey
``fill``. The returned :class:`Letterbox` maps boxes both ways exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import numpy as np
import torch
from PIL import Image

BoxesLike = Union[np.ndarray, torch.Tensor]
Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator], "tuple[np.ndarray, np.ndarray]"]

MIN_SIDE = 2.0
MIN_VISIBLE = 0.25

__all__ = [
    "Letterbox",
    "letterbox",
    "clip_boxes",
    "filter_boxes",
    "Compose",
    "LetterboxResize",
    "RandomScaleAspect",
    "HorizontalFlip",
    "HSVJitter",
    "mosaic",
    "mixup",
    "Mosaic",
    "MixUp",
    "train_transform",
    "MIN_SIDE",
    "MIN_VISIBLE",
]


def _as_hw(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        if len(size) != 2:
            raise ValueError(f"letterbox: size must be an int or (height, width), got {size!r}")
        h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise ValueError(f"letterbox: size must be positive, got {size!r}")
    return h, w


def _float_copy(boxes: BoxesLike) -> BoxesLike:
    """A floating-point copy of ``boxes`` (same container type)."""
    if isinstance(boxes, torch.Tensor):
        return boxes.clone() if boxes.is_floating_point() else boxes.to(torch.float32)
    arr = np.asarray(boxes)
    return arr.astype(arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32, copy=True)


def _check_boxes(boxes: BoxesLike, where: str) -> None:
    if boxes.ndim != 2 or boxes.shape[1] < 4:
        raise ValueError(f"{where}: boxes must have shape (N, 4) (or (N, >=4)), got {tuple(boxes.shape)}")


@dataclass(frozen=True)
class Letterbox:
    """How an image was letterboxed: ``x_out = x_orig * scale + pad_x`` (same for y).

    Attributes:
        scale: resize factor applied to both axes (``min(out_w / orig_w, out_h / orig_h)``).
        pad_x, pad_y: left and top padding in output pixels (integers).
        orig_h, orig_w: size of the original image.
        out_h, out_w: size of the letterboxed image.

    Boxes are ``(N, 4)`` ``[x1, y1, x2, y2]`` in pixels (extra columns, e.g. a class in column 4,
    are carried through unchanged). Numpy in, numpy out; tensor in, tensor out.
    """

    scale: float
    pad_x: int
    pad_y: int
    orig_h: int
    orig_w: int
    out_h: int
    out_w: int

    @property
    def new_w(self) -> int:
        """Width of the resized image inside the canvas."""
        return _resized(self.orig_w, self.scale, self.out_w)

    @property
    def new_h(self) -> int:
        """Height of the resized image inside the canvas."""
        return _resized(self.orig_h, self.scale, self.out_h)

    def apply_boxes(self, boxes_xyxy: BoxesLike) -> BoxesLike:
        """Boxes in the original image's pixels -> boxes in letterboxed pixels."""
        _check_boxes(boxes_xyxy, "Letterbox.apply_boxes")
        out = _float_copy(boxes_xyxy)
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.pad_y
        return out

    def invert_boxes(self, boxes_xyxy: BoxesLike, *, clip: bool = False) -> BoxesLike:
        """Boxes in letterboxed pixels -> boxes in the original image's pixels.

        The exact inverse of :meth:`apply_boxes`. With ``clip=True`` the result is also clipped
        to the original image ``[0, orig_w] x [0, orig_h]`` (useful for predictions that reach
        into the padding).
        """
        _check_boxes(boxes_xyxy, "Letterbox.invert_boxes")
        out = _float_copy(boxes_xyxy)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        if clip:
            if isinstance(out, torch.Tensor):
                out[:, [0, 2]] = out[:, [0, 2]].clamp(0, self.orig_w)
                out[:, [1, 3]] = out[:, [1, 3]].clamp(0, self.orig_h)
            else:
                out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.orig_w)
                out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.orig_h)
        return out


def _resized(orig: int, scale: float, out: int) -> int:
    return max(1, min(out, int(round(orig * scale))))


def letterbox(
    image: np.ndarray, size: int | Sequence[int], fill: int = 128
) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` to fit ``size`` keeping its aspect ratio, centred on a ``fill`` canvas.

    The resized size is ``round(orig * scale)`` (the reference project floors it; the difference is
    under one pixel) and the padding is split with the extra pixel on the right/bottom.

    Args:
        image: ``(H, W, 3)`` uint8 RGB array (a PIL image is accepted too).
        size: output side (square) or ``(height, width)``.
        fill: grey level of the padding (128 as in the reference project).

    Returns:
        ``(out, lb)``: the ``(out_h, out_w, 3)`` uint8 image and the :class:`Letterbox` that maps
        boxes to it (``lb.apply_boxes``) and back (``lb.invert_boxes``).
    """
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"letterbox: image must have shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"letterbox: image must be uint8, got {image.dtype}")
    out_h, out_w = _as_hw(size)
    ih, iw = image.shape[:2]
    if ih < 1 or iw < 1:
        raise ValueError(f"letterbox: empty image {image.shape}")
    scale = min(out_w / iw, out_h / ih)
    nw, nh = _resized(iw, scale, out_w), _resized(ih, scale, out_h)
    pad_x, pad_y = (out_w - nw) // 2, (out_h - nh) // 2
    canvas = np.full((out_h, out_w, 3), int(fill), dtype=np.uint8)
    if (nw, nh) == (iw, ih):
        resized = image
    else:
        resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BICUBIC))
    canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = resized
    return canvas, Letterbox(float(scale), int(pad_x), int(pad_y), ih, iw, out_h, out_w)


# --------------------------------------------------------------------------------------------
# Boxes: clip and drop (the rule stated in the module docstring)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip ``(N, >=4)`` pixel boxes to ``[0, width] x [0, height]`` (a copy)."""
    boxes = np.asarray(boxes)
    out = np.array(boxes, dtype=np.float32, copy=True).reshape(-1, boxes.shape[-1] if boxes.ndim == 2 else 5)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def filter_boxes(
    boxes: np.ndarray,
    width: int,
    height: int,
    *,
    min_side: float = MIN_SIDE,
    min_visible: float = MIN_VISIBLE,
) -> np.ndarray:
    """Clip transformed boxes to the image and drop the ones too little left of (see module doc).

    Args:
        boxes: ``(N, 5)`` boxes after a geometric transform, *before* clipping.
        width, height: the transformed image's size.
        min_side: a box whose clipped width or height is below this (pixels) is dropped.
        min_visible: a box whose clipped area is below this fraction of its unclipped area is
            dropped.

    Returns:
        The kept, clipped boxes ``(M, 5)`` float32.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
    full = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    clipped = clip_boxes(boxes, width, height)
    w = clipped[:, 2] - clipped[:, 0]
    h = clipped[:, 3] - clipped[:, 1]
    keep = (w >= min_side) & (h >= min_side) & (w * h >= min_visible * full)
    return clipped[keep]


def _affine_boxes(boxes: np.ndarray, sx: float, sy: float, dx: float, dy: float) -> np.ndarray:
    out = np.array(boxes, dtype=np.float32, copy=True).reshape(-1, 5)
    out[:, [0, 2]] = out[:, [0, 2]] * sx + dx
    out[:, [1, 3]] = out[:, [1, 3]] * sy + dy
    return out


def _paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    """Paste ``image`` on ``canvas`` with its top-left at ``(x, y)`` (may be partly outside)."""
    H, W = canvas.shape[:2]
    h, w = image.shape[:2]
    cx0, cy0 = max(0, x), max(0, y)
    cx1, cy1 = min(W, x + w), min(H, y + h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    canvas[cy0:cy1, cx0:cx1] = image[cy0 - y : cy1 - y, cx0 - x : cx1 - x]


def _resize(image: np.ndarray, w: int, h: int) -> np.ndarray:
    if (h, w) == image.shape[:2]:
        return image
    return np.asarray(Image.fromarray(image).resize((int(w), int(h)), Image.BICUBIC))


# --------------------------------------------------------------------------------------------
# Composable transforms: t(image uint8 HWC, boxes (N, 5), rng) -> (image, boxes)


class Compose:
    """Apply transforms in order: ``Compose([a, b])(img, boxes, rng) == b(*a(img, boxes, rng), rng)``."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, image, boxes, rng):
        for t in self.transforms:
            image, boxes = t(image, boxes, rng)
        return image, boxes

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class LetterboxResize:
    """Deterministic :func:`letterbox` to ``size`` as a transform (validation / inference)."""

    def __init__(self, size: int | Sequence[int], fill: int = 128):
        self.size, self.fill = size, fill

    def __call__(self, image, boxes, rng=None):
        out, lb = letterbox(image, self.size, self.fill)
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
        return out, filter_boxes(lb.apply_boxes(boxes), lb.out_w, lb.out_h)

    def __repr__(self) -> str:
        return f"LetterboxResize({self.size!r}, fill={self.fill})"


class RandomScaleAspect:
    """Random scale and aspect jitter onto a fixed canvas, as the reference project trains.

    The image is resized to a random aspect ratio ``ar * U(1-j, 1+j) / U(1-j, 1+j)`` and a random
    scale in ``scale`` (relative to the canvas), then placed at a random position on a canvas of
    ``size`` filled with ``fill`` (it may be cropped). Boxes follow and are clipped/dropped.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        jitter: float = 0.3,
        scale: tuple[float, float] = (0.25, 2.0),
        fill: int = 128,
        **drop: float,
    ):
        self.out_h, self.out_w = _as_hw(size)
        self.jitter, self.scale, self.fill, self.drop = jitter, scale, fill, drop

    def sample(self, ih: int, iw: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """The random draw for an ``ih`` x ``iw`` image: ``(new_w, new_h, dx, dy)``."""
        H, W = self.out_h, self.out_w
        j = self.jitter
        ar = iw / ih * rng.uniform(1 - j, 1 + j) / rng.uniform(1 - j, 1 + j)
        s = rng.uniform(*self.scale)
        if ar < 1:
            nh = max(1, int(s * H))
            nw = max(1, int(nh * ar))
        else:
            nw = max(1, int(s * W))
            nh = max(1, int(nw / ar))
        dx = int(rng.uniform(min(0, W - nw), max(0, W - nw)))
        dy = int(rng.uniform(min(0, H - nh), max(0, H - nh)))
        return nw, nh, dx, dy

    def __call__(self, image, boxes, rng):
        ih, iw = image.shape[:2]
        nw, nh, dx, dy = self.sample(ih, iw, rng)
        canvas = np.full((self.out_h, self.out_w, 3), self.fill, np.uint8)
        _paste(canvas, _resize(image, nw, nh), dx, dy)
        moved = _affine_boxes(boxes, nw / iw, nh / ih, dx, dy)
        return canvas, filter_boxes(moved, self.out_w, self.out_h, **self.drop)

    def __repr__(self) -> str:
        return f"RandomScaleAspect(({self.out_h}, {self.out_w}), jitter={self.jitter}, scale={self.scale})"


class HorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, image, boxes, rng):
        if rng.random() >= self.p:
            return image, boxes
        w = image.shape[1]
        out = np.array(boxes, dtype=np.float32, copy=True).reshape(-1, 5)
        out[:, [0, 2]] = w - out[:, [2, 0]]
        return np.ascontiguousarray(image[:, ::-1]), out

    def __repr__(self) -> str:
        return f"HorizontalFlip(p={self.p})"


class HSVJitter:
    """Random hue, saturation and value gains (``1 + U(-g, g)`` each), as in the reference project.

    Works through PIL's HSV mode (hue 0..255 wraps around). Boxes are unchanged.
    """

    def __init__(self, hue: float = 0.1, sat: float = 0.7, val: float = 0.4):
        self.gains = np.array([hue, sat, val])

    def __call__(self, image, boxes, rng):
        r = rng.uniform(-1, 1, 3) * self.gains + 1
        hsv = np.asarray(Image.fromarray(image).convert("HSV"))
        x = np.arange(256, dtype=np.float64)
        lut_h = ((x * r[0]) % 256).astype(np.uint8)
        lut_s = np.clip(x * r[1], 0, 255).astype(np.uint8)
        lut_v = np.clip(x * r[2], 0, 255).astype(np.uint8)
        hsv = np.stack([lut_h[hsv[..., 0]], lut_s[hsv[..., 1]], lut_v[hsv[..., 2]]], axis=-1)
        return np.asarray(Image.fromarray(hsv, "HSV").convert("RGB")), boxes

    def __repr__(self) -> str:
        return f"HSVJitter(hue={self.gains[0]}, sat={self.gains[1]}, val={self.gains[2]})"


def mosaic(
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    size: int | Sequence[int],
    rng: np.random.Generator,
    *,
    fill: int = 128,
    scale: tuple[float, float] = (0.4, 1.0),
    centre: tuple[float, float] = (0.3, 0.7),
    **drop: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Four images in the four quadrants around a random centre.

    Each image keeps its aspect ratio, is resized so its longer side is ``U(*scale)`` of the
    canvas, and is placed with one corner on the centre point (top-left image: bottom-right
    corner, and so on); what falls outside its quadrant is cropped. Boxes follow, are clipped to
    the quadrant and dropped by the usual rule.
    """
    if len(samples) != 4:
        raise ValueError(f"mosaic: needs 4 samples, got {len(samples)}")
    H, W = _as_hw(size)
    cx = int(W * rng.uniform(*centre))
    cy = int(H * rng.uniform(*centre))
    canvas = np.full((H, W, 3), fill, np.uint8)
    quadrants = [(0, 0, cx, cy), (cx, 0, W, cy), (0, cy, cx, H), (cx, cy, W, H)]
    kept = []
    for k, ((image, boxes), (qx0, qy0, qx1, qy1)) in enumerate(zip(samples, quadrants)):
        ih, iw = image.shape[:2]
        s = rng.uniform(*scale) * max(H, W) / max(ih, iw)
        nw, nh = max(1, int(round(iw * s))), max(1, int(round(ih * s)))
        x = cx - nw if k in (0, 2) else cx
        y = cy - nh if k in (0, 1) else cy
        region = np.full((qy1 - qy0, qx1 - qx0, 3), fill, np.uint8)
        _paste(region, _resize(image, nw, nh), x - qx0, y - qy0)
        canvas[qy0:qy1, qx0:qx1] = region
        moved = _affine_boxes(boxes, nw / iw, nh / ih, x - qx0, y - qy0)
        inside = filter_boxes(moved, qx1 - qx0, qy1 - qy0, **drop)
        kept.append(_affine_boxes(inside, 1.0, 1.0, qx0, qy0))
    return canvas, np.concatenate(kept, axis=0) if kept else np.zeros((0, 5), np.float32)


def mixup(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], lam: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Blend two images of the same size (``lam * a + (1 - lam) * b``); keep both sets of boxes."""
    (ia, ba), (ib, bb) = a, b
    if ia.shape != ib.shape:
        raise ValueError(f"mixup: images must have the same shape, got {ia.shape} and {ib.shape}")
    img = np.rint(ia.astype(np.float32) * lam + ib.astype(np.float32) * (1 - lam)).astype(np.uint8)
    boxes = np.concatenate([np.asarray(ba, np.float32).reshape(-1, 5), np.asarray(bb, np.float32).reshape(-1, 5)])
    return img, boxes


class _Source:
    """Draws extra raw samples from a dataset with ``raw(i)`` and ``len``."""

    def __init__(self, source: Any):
        if not (hasattr(source, "raw") and hasattr(source, "__len__")):
            raise TypeError("mosaic/mixup: source must have raw(index) and __len__ (a ShapesDetection or VOCDetection)")
        self.source = source

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        image, boxes = self.source.raw(int(rng.integers(len(self.source))))
        return image.copy(), np.array(boxes, np.float32).reshape(-1, 5)


class Mosaic:
    """With probability ``p``: :func:`mosaic` of the incoming sample and 3 others from ``source``.

    Each of the four is first passed through ``each`` (e.g. flip and HSV jitter). Otherwise the
    sample goes through ``otherwise`` (e.g. :class:`RandomScaleAspect`), so the output always has
    the canvas ``size``.
    """

    def __init__(self, source: Any, size: int | Sequence[int], p: float = 0.5, *, each: Transform | None = None,
                 otherwise: Transform | None = None, fill: int = 128, **drop: float):
        self.source = _Source(source)
        self.size, self.p, self.each, self.fill, self.drop = size, p, each, fill, drop
        self.otherwise = otherwise if otherwise is not None else LetterboxResize(size, fill)

    def __call__(self, image, boxes, rng):
        if rng.random() >= self.p:
            return self.otherwise(image, boxes, rng)
        samples = [(image, np.asarray(boxes, np.float32).reshape(-1, 5))] + [self.source.draw(rng) for _ in range(3)]
        if self.each is not None:
            samples = [self.each(i, b, rng) for i, b in samples]
        return mosaic(samples, self.size, rng, fill=self.fill, **self.drop)

    def __repr__(self) -> str:
        return f"Mosaic(size={self.size!r}, p={self.p}, each={self.each!r}, otherwise={self.otherwise!r})"


class MixUp:
    """With probability ``p``: blend with another sample from ``source`` passed through ``transform``.

    ``transform`` must produce images of the same size as the incoming one (e.g. the same
    :class:`RandomScaleAspect` or :class:`LetterboxResize`).
    """

    def __init__(self, source: Any, transform: Transform, p: float = 0.5, lam: float = 0.5):
        self.source, self.transform, self.p, self.lam = _Source(source), transform, p, lam

    def __call__(self, image, boxes, rng):
        if rng.random() >= self.p:
            return image, boxes
        other = self.transform(*self.source.draw(rng), rng)
        return mixup((image, boxes), other, self.lam)

    def __repr__(self) -> str:
        return f"MixUp(p={self.p}, lam={self.lam}, transform={self.transform!r})"


def train_transform(
    size: int | Sequence[int],
    source: Any = None,
    *,
    mosaic_p: float = 0.5,
    mixup_p: float = 0.0,
    flip_p: float = 0.5,
    hsv: tuple[float, float, float] = (0.1, 0.7, 0.4),
    jitter: float = 0.3,
    scale: tuple[float, float] = (0.25, 2.0),
    fill: int = 128,
) -> Compose:
    """The reference project's training augmentation as one transform.

    Without ``source`` (or with ``mosaic_p = mixup_p = 0``): random scale/aspect, flip, HSV. With a
    ``source`` dataset: mosaic (each part flipped at random) with probability ``mosaic_p``,
    otherwise random scale/aspect and flip; then HSV jitter; then mixup with probability
    ``mixup_p`` (the other image through random scale/aspect, flip and HSV).
    """
    geometric = Compose([RandomScaleAspect(size, jitter, scale, fill), HorizontalFlip(flip_p)])
    single = Compose([*geometric.transforms, HSVJitter(*hsv)])
    if source is None or (mosaic_p <= 0 and mixup_p <= 0):
        return single
    steps: list[Transform] = []
    if mosaic_p > 0:
        # HSV once on the finished canvas (4x cheaper than on each part; PIL's HSV round trip is
        # the most expensive step of the pipeline)
        steps.append(Mosaic(source, size, mosaic_p, each=HorizontalFlip(flip_p), otherwise=geometric, fill=fill))
        steps.append(HSVJitter(*hsv))
    else:
        steps.append(single)
    if mixup_p > 0:
        steps.append(MixUp(source, single, mixup_p))
    return Compose(steps)
