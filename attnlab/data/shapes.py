"""Synthetic shapes: a deterministic generator of classification and detection images.

Six shape classes (:data:`CLASS_NAMES`) are drawn with random size, colour, rotation and position
on a textured background among *distractors* that resemble them (ellipses, bars, arcs and random
pentagons drawn from the same colour distribution). Colour never tells the class: only shape does,
so a model has to look at the right pixels, which is what attention is meant to help with.

Two modes:

* :func:`make_classification` (Part I): one object per image, a label per image; returned as a
  :class:`ShapesClassification` holding all images as one float tensor. Fully vectorised: 2,000
  images of 32x32 take a fraction of a second.
* :class:`ShapesDetection` (Part II): several objects per image, possibly overlapping (each stays
  at least 60 % visible), boxes and labels. A ``torch`` Dataset whose item is
  ``(image, boxes)`` with ``image`` a float tensor ``(3, H, W)`` in ``[0, 1]`` and ``boxes`` a
  float32 tensor ``(N, 5)`` ``[x1, y1, x2, y2, class]`` in pixels (corner convention: the box of
  an object whose visible pixels span columns ``a..b`` has ``x1 = a, x2 = b + 1``). The box is
  the tight box of the object's *visible* pixels, as in VOC.

Determinism: every image is generated from its own random stream seeded by
``(seed, split, index, mode)``, so the same arguments give byte-identical data, image ``i`` does
not depend on ``n``, and the ``train``/``val``/``test`` splits never share a stream.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from attnlab.data.images import to_tensor  # re-exported: attnlab.data.shapes.to_tensor still works

__all__ = [
    "CLASS_NAMES",
    "SPLITS",
    "ShapesClassification",
    "ShapesDetection",
    "make_classification",
    "make_detection_image",
    "image_rng",
]

CLASS_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")
SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
_MODES = {"classification": 1, "detection": 2, "decoys": 3}


def image_rng(seed: int, split: str, index: int, mode: str = "detection") -> np.random.Generator:
    """The random stream of one image: a function of ``(seed, split, index, mode)`` only."""
    if split not in SPLITS:
        raise ValueError(f"shapes: split must be one of {list(SPLITS)}, got {split!r}")
    if seed < 0 or index < 0:
        raise ValueError(f"shapes: seed and index must be >= 0, got seed={seed}, index={index}")
    return np.random.default_rng([int(seed), SPLITS[split], int(index), _MODES[mode]])


# --------------------------------------------------------------------------------------------
# Geometry: every shape is a predicate on coordinates (u, v) in a unit frame (radius 1), so one
# call draws one shape or a whole batch (u, v of shape (n, S, S)).


def _regular(k: int, r: float = 1.0, phase: float = math.pi / 2) -> np.ndarray:
    a = phase + 2 * math.pi * np.arange(k) / k
    return np.stack([r * np.cos(a), -r * np.sin(a)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    a = math.pi / 2 + math.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(a), -r * np.sin(a)], axis=1)


_W = 0.34  # half width of the cross's arms
_POLYS = {
    "square": np.array([[-0.72, -0.72], [0.72, -0.72], [0.72, 0.72], [-0.72, 0.72]]),
    "triangle": _regular(3),
    "star": _star(),
    "cross": np.array(
        [[-_W, -1], [_W, -1], [_W, -_W], [1, -_W], [1, _W], [_W, _W], [_W, 1], [-_W, 1],
         [-_W, _W], [-1, _W], [-1, -_W], [-_W, -_W]]
    ),
}


def _inside(u: np.ndarray, v: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over the points.

    ``poly`` is ``(K, 2)`` (one polygon for all points) or ``(n, K, 2)`` (one per leading index of
    ``u``/``v``, which are then ``(n, ...)``).
    """
    inside = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    extra = (None,) * (u.ndim - 1)
    k = poly.shape[-2]
    for i in range(k):
        xi, yi = poly[..., i, 0], poly[..., i, 1]
        xj, yj = poly[..., i - 1, 0], poly[..., i - 1, 1]
        if poly.ndim == 3:
            xi, yi, xj, yj = (a[(slice(None),) + extra] for a in (xi, yi, xj, yj))
        crosses = (yi > v) != (yj > v)
        dy = np.where(yj - yi == 0, 1e-12, yj - yi)
        x_at = (xj - xi) * (v - yi) / dy + xi
        inside ^= crosses & (u < x_at)
    return inside


def _class_mask(cls: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    name = CLASS_NAMES[cls]
    if name == "circle":
        return u * u + v * v < 0.85 * 0.85
    if name == "ring":
        r2 = u * u + v * v
        return (r2 < 1.0) & (r2 > 0.52 * 0.52)
    return _inside(u, v, _POLYS[name])


# distractor kinds; params p (..., 3) in [0, 1) set the per-instance variation
_DISTRACTORS = ("ellipse", "bar", "arc", "blob")


def _distractor_mask(kind: int, u: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
    extra = (None,) * (u.ndim - p.ndim + 1)
    col = lambda j: p[..., j][(Ellipsis,) + extra]  # noqa: E731
    name = _DISTRACTORS[kind]
    if name == "ellipse":
        a = 0.3 + 0.3 * col(0)
        return u * u + (v / a) ** 2 < 1.0
    if name == "bar":
        w = 0.08 + 0.14 * col(0)
        return (np.abs(u) < 1.0) & (np.abs(v) < w)
    if name == "arc":
        r2 = u * u + v * v
        span = 0.6 + 1.6 * col(0)
        return (r2 < 1.0) & (r2 > 0.62 * 0.62) & (np.abs(np.arctan2(v, u)) < span)
    # blob: an irregular pentagon (vertex radii 0.45..1, angles jittered)
    k = 5
    ang = 2 * math.pi * np.arange(k) / k
    seeds = p[..., :1] * 7.31 + p[..., 1:2] * 3.17 + np.arange(k) * 1.618
    frac = (np.sin(seeds * 12.9898) * 43758.5453) % 1.0  # deterministic pseudo-random in [0, 1)
    rad = 0.45 + 0.55 * frac
    a = ang + 0.5 * (p[..., 2:3] - 0.5)
    poly = np.stack([rad * np.cos(a), rad * np.sin(a)], axis=-1)
    return _inside(u, v, poly)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, all in [0, 1]; returns (..., 3)."""
    i = np.floor(h * 6.0).astype(np.int64) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [
        np.stack([v, t, p], -1), np.stack([q, v, p], -1), np.stack([p, v, t], -1),
        np.stack([p, q, v], -1), np.stack([t, p, v], -1), np.stack([v, p, q], -1),
    ]
    out = np.zeros(h.shape + (3,))
    for k in range(6):
        out = np.where((i == k)[..., None], choices[k], out)
    return out


def _random_colour(u3: np.ndarray) -> np.ndarray:
    """Object/distractor colour from 3 uniforms: any hue, fairly saturated, not too dark."""
    return _hsv_to_rgb(u3[..., 0], 0.45 + 0.55 * u3[..., 1], 0.45 + 0.55 * u3[..., 2])


def _interp_matrix(n: int, g: int) -> np.ndarray:
    """(n, g) bilinear interpolation weights from g cell centres spread over n pixels."""
    pos = (np.arange(n) + 0.5) / n * (g - 1)
    i0 = np.clip(np.floor(pos).astype(int), 0, g - 2)
    f = (pos - i0).astype(np.float32)
    m = np.zeros((n, g), np.float32)
    m[np.arange(n), i0] = 1 - f
    m[np.arange(n), i0 + 1] = f
    return m


_GRID = 4  # background colour cells per side


def _background_params(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The random numbers of one background: cells (g, g, 3), stripes (4,), noise (h, w)."""
    cells = rng.random((_GRID, _GRID, 3), dtype=np.float32)
    stripes = rng.random(4, dtype=np.float32)
    noise = rng.standard_normal((h, w), dtype=np.float32)
    return cells, stripes, noise


def _render_backgrounds(
    cells: np.ndarray, stripes: np.ndarray, noise: np.ndarray, texture: float = 1.0
) -> np.ndarray:
    """Muted, smoothly varying backgrounds with faint stripes and fine noise: float32 (n, h, w, 3).

    Vectorised over the batch: bilinear upsampling and the stripes are separable (matrix products).
    """
    n, h, w = noise.shape
    base_v = 0.25 + 0.5 * stripes[:, 3]
    c = base_v[:, None, None, None] + texture * 0.35 * (cells - 0.5)
    grey = c.mean(-1, keepdims=True)
    c = grey + 0.5 * (c - grey)  # muted: less saturated than the objects
    my, mx = _interp_matrix(h, _GRID), _interp_matrix(w, _GRID)
    b = np.einsum("wj,nijc->niwc", mx, c)  # (n, g, w, 3): small
    # sum over the g cell rows by broadcasting (not BLAS: multi-threaded BLAS thrashes when the
    # loader's workers or other processes share the cores)
    img = my[None, :, 0, None, None] * b[:, None, 0]
    for i in range(1, _GRID):
        img += my[None, :, i, None, None] * b[:, None, i]
    ang = stripes[:, 0] * math.pi
    freq = 4 + 12 * stripes[:, 1]
    amp = texture * 0.06 * stripes[:, 2]
    L = max(h, w)
    ax = (2 * math.pi * freq * np.cos(ang))[:, None] * (np.arange(w, dtype=np.float32) / L)[None]
    ay = (2 * math.pi * freq * np.sin(ang))[:, None] * (np.arange(h, dtype=np.float32) / L)[None]
    # sin(ax + ay) = sin(ax) cos(ay) + cos(ax) sin(ay)
    stripe = np.sin(ay)[:, :, None] * np.cos(ax)[:, None, :] + np.cos(ay)[:, :, None] * np.sin(ax)[:, None, :]
    img += (amp[:, None, None] * stripe + texture * 0.03 * noise)[..., None]
    return img.astype(np.float32, copy=False)


def _background(rng: np.random.Generator, h: int, w: int, *, texture: float = 1.0) -> np.ndarray:
    cells, stripes, noise = _background_params(rng, h, w)
    return _render_backgrounds(cells[None], stripes[None], noise[None], texture)[0]


# --------------------------------------------------------------------------------------------
# Classification


class ShapesClassification(torch.utils.data.Dataset):
    """Single-object shape images with one label each, held in memory.

    Attributes:
        images: float32 tensor ``(n, 3, S, S)`` in ``[0, 1]``.
        labels: int64 tensor ``(n,)``, indices into ``class_names``.
        class_names: the class names, :data:`CLASS_NAMES`.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str]):
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"ShapesClassification: {images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels
        self.class_names = tuple(class_names)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)``: the whole dataset, e.g. for a ``TensorDataset``."""
        return self.images, self.labels

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        return f"ShapesClassification(n={n}, image_size={h}x{w}, classes={list(self.class_names)})"


def make_classification(
    n: int,
    image_size: int = 32,
    seed: int = 0,
    *,
    split: str = "train",
    n_distractors: tuple[int, int] = (0, 2),
    size_range: tuple[float, float] = (0.28, 0.4),
    occluder_prob: float = 0.2,
    texture: float = 1.0,
    rotation: float = 20.0,
    position_jitter: float = 0.15,
    distractor_size: tuple[float, float] = (0.08, 0.2),
    classes: Sequence[str] | None = None,
    hue: tuple[float, float] | None = None,
    decoys: int = 0,
    decoy_hue: tuple[float, float] = (0.3, 0.7),
) -> ShapesClassification:
    """Generate ``n`` single-object images: one shape per image among distractors.

    Difficulty. With the defaults, a 3-layer CNN (16-32-64 channels, batch norm, Adam 3e-3,
    batch 64) reaches about 90 % validation accuracy at 32x32 after ~400 steps (5,000 images x 5
    epochs) and about 50 % after ~100 steps (1,200 x 5): it needs steps more than epochs. Colour
    says nothing about the class. Harder: ``rotation=180``, ``position_jitter=0.5``,
    ``n_distractors=(1, 3)``, ``distractor_size=(0.12, 0.37)``; easier: ``n_distractors=(0, 0)``,
    ``texture=0``, ``rotation=0``.

    Args:
        n: number of images.
        image_size: side ``S`` of the square images.
        seed: base seed; with ``split`` and the image index it seeds each image's stream.
        split: ``"train"``, ``"val"`` or ``"test"`` (never share a stream).
        n_distractors: inclusive range of distractor shapes per image (ellipses, bars, arcs,
            random pentagons in object-like colours, drawn under the object).
        size_range: object radius as a fraction of ``S`` (min, max).
        occluder_prob: chance that a thin bar is drawn *over* the object (partial occlusion).
        texture: background texture strength (0 gives a smooth, plain background).
        rotation: the object is rotated by up to this many degrees either way.
        position_jitter: the object's centre lies within this fraction of ``S`` of the image
            centre (either way, and always at least 60 % of its radius from the border).
        distractor_size: distractor radius as a fraction of ``S`` (min, max).
        classes: a subset of :data:`CLASS_NAMES` to use (labels are indices into this subset).
        hue: the object's hue band ``(low, high)`` in turns of the colour wheel (red is 0 or 1;
            ``(0.96, 1.04)`` is red); ``None``: any hue.
        decoys: shapes of *other* classes drawn under the object, anywhere in the image, at the
            object's sizes, in hues from ``decoy_hue`` (default greens to blues). With ``hue`` set
            away from ``decoy_hue``, only the colour tells the labelled shape from the decoys:
            :func:`attnlab.data.tasks.make_task` ``("what")``. Decoys come from their own random
            stream, so the rest of each image is the same with or without them.

    Returns:
        A :class:`ShapesClassification` (images float32 ``(n, 3, S, S)`` in ``[0, 1]``).
    """
    names = tuple(CLASS_NAMES if classes is None else classes)
    unknown = [c for c in names if c not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"make_classification: unknown classes {unknown}; known: {list(CLASS_NAMES)}")
    if n < 0 or image_size < 8:
        raise ValueError(f"make_classification: need n >= 0 and image_size >= 8, got {n}, {image_size}")
    lo_d, hi_d = n_distractors
    if not 0 <= lo_d <= hi_d:
        raise ValueError(f"make_classification: bad n_distractors {n_distractors}")
    if isinstance(decoys, bool) or not isinstance(decoys, int) or decoys < 0:
        raise ValueError(f"make_classification: decoys must be an integer >= 0, got {decoys!r}")
    if decoys and len(names) < 2:
        raise ValueError(f"make_classification: decoys need at least 2 classes (a decoy is another class), got {list(names)}")
    for arg, band in (("hue", hue), ("decoy_hue", decoy_hue)):
        if band is not None and (len(band) != 2 or not band[0] <= band[1]):
            raise ValueError(f"make_classification: {arg} must be a band (low, high) with low <= high, got {band!r}")
    S = int(image_size)
    D = hi_d + 1  # distractor slots (last one reserved for the occluder)
    P = 10 + 9 * D
    params = np.empty((n, P), np.float32)
    cells = np.empty((n, _GRID, _GRID, 3), np.float32)
    stripes = np.empty((n, 4), np.float32)
    noise = np.empty((n, S, S), np.float32)
    for i in range(n):
        rng = image_rng(seed, split, i, "classification")
        params[i] = rng.random(P, dtype=np.float32)
        cells[i], stripes[i], noise[i] = _background_params(rng, S, S)
    backgrounds = _render_backgrounds(cells, stripes, noise, texture)
    k = len(names)
    labels = np.minimum((params[:, 0] * k).astype(np.int64), k - 1)
    class_ids = np.array([CLASS_NAMES.index(c) for c in names])[labels]

    ys, xs = (np.mgrid[0:S, 0:S] + 0.5).astype(np.float32)
    img = backgrounds

    def frame(cx, cy, r, ang):
        dx = xs[None] - cx[:, None, None]
        dy = ys[None] - cy[:, None, None]
        c, s = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
        inv = 1.0 / r[:, None, None]
        return (dx * c + dy * s) * inv, (-dx * s + dy * c) * inv

    # distractors (under the object); slot j is used when j < count
    count = lo_d + np.minimum((params[:, 1] * (hi_d - lo_d + 1)).astype(int), hi_d - lo_d)
    for j in range(hi_d):
        q = params[:, 10 + 9 * j : 10 + 9 * (j + 1)]
        use = np.nonzero(j < count)[0]
        if use.size == 0:
            continue
        r = S * (distractor_size[0] + (distractor_size[1] - distractor_size[0]) * q[use, 0])
        u, v = frame(S * q[use, 1], S * q[use, 2], r, 2 * math.pi * q[use, 3])
        kind = np.minimum((q[use, 4] * len(_DISTRACTORS)).astype(int), len(_DISTRACTORS) - 1)
        colour = _random_colour(q[use, 5:8])
        mask = np.zeros(u.shape, bool)
        for kk in range(len(_DISTRACTORS)):
            sel = kind == kk
            if sel.any():
                extra = np.stack([q[use, 8], q[use, 1], q[use, 2]], -1)[sel]
                mask[sel] = _distractor_mask(kk, u[sel], v[sel], extra)
        img[use] = np.where(mask[..., None], colour[:, None, None, :], img[use])

    # decoys: shapes of other classes, under the object, from their own stream
    lo_s, hi_s = size_range
    if decoys:
        dq = np.stack([image_rng(seed, split, i, "decoys").random((decoys, 8)) for i in range(n)])
        for j in range(decoys):
            q = dq[:, j]
            other = (labels + 1 + np.minimum((q[:, 0] * (k - 1)).astype(int), k - 2)) % k
            r_d = S * (lo_s + (hi_s - lo_s) * q[:, 1])
            u, v = frame(r_d + (S - 2 * r_d) * q[:, 2], r_d + (S - 2 * r_d) * q[:, 3], r_d,
                         2 * math.pi * q[:, 4])
            ids = np.array([CLASS_NAMES.index(c) for c in names])[other]
            mask = np.zeros(u.shape, bool)
            for c in np.unique(ids):
                sel = ids == c
                mask[sel] = _class_mask(int(c), u[sel], v[sel])
            h = decoy_hue[0] + (decoy_hue[1] - decoy_hue[0]) * q[:, 5]
            colour = _hsv_to_rgb(h % 1.0, 0.45 + 0.55 * q[:, 6], 0.45 + 0.55 * q[:, 7])
            img = np.where(mask[..., None], colour[:, None, None, :], img)

    # the object
    r = S * (lo_s + (hi_s - lo_s) * params[:, 2])
    # centre: within position_jitter * S of the image centre, and the object mostly inside
    reach = np.minimum(position_jitter * S, np.maximum(S / 2 - 0.6 * r, 0))
    cx = S / 2 + reach * (2 * params[:, 3] - 1)
    cy = S / 2 + reach * (2 * params[:, 4] - 1)
    u, v = frame(cx, cy, r, math.radians(rotation) * (2 * params[:, 5] - 1))
    colour = _random_colour(params[:, 6:9])
    if hue is not None:     # the same saturation and value, the hue within the band
        h = hue[0] + (hue[1] - hue[0]) * params[:, 6]
        colour = _hsv_to_rgb(h % 1.0, 0.45 + 0.55 * params[:, 7], 0.45 + 0.55 * params[:, 8])
    mask = np.zeros(u.shape, bool)
    for c in np.unique(class_ids):
        sel = class_ids == c
        mask[sel] = _class_mask(int(c), u[sel], v[sel])
    img = np.where(mask[..., None], colour[:, None, None, :], img)

    # occluder: a thin bar across part of the object
    q = params[:, 10 + 9 * hi_d : 10 + 9 * (hi_d + 1)]
    use = np.nonzero(q[:, 0] < occluder_prob)[0]
    if use.size:
        ro = r[use] * (0.5 + 0.5 * q[use, 1])
        ox = cx[use] + r[use] * (q[use, 2] - 0.5)
        oy = cy[use] + r[use] * (q[use, 3] - 0.5)
        u, v = frame(ox, oy, ro, 2 * math.pi * q[use, 4])
        om = _distractor_mask(1, u, v, np.zeros((use.size, 3)))
        oc = _random_colour(q[use, 5:8])
        img[use] = np.where(om[..., None], oc[:, None, None, :], img[use])

    images = torch.from_numpy(np.clip(img, 0.0, 1.0).astype(np.float32)).permute(0, 3, 1, 2).contiguous()
    return ShapesClassification(images, torch.from_numpy(labels), names)


# --------------------------------------------------------------------------------------------
# Detection


def _frame_patch(cx, cy, r, ang, x0, y0, x1, y1):
    xs = np.arange(x0, x1) + 0.5 - cx
    ys = np.arange(y0, y1) + 0.5 - cy
    c, s = math.cos(ang), math.sin(ang)
    u = (xs[None, :] * c + ys[:, None] * s) / r
    v = (-xs[None, :] * s + ys[:, None] * c) / r
    return u, v


def make_detection_image(
    rng: np.random.Generator,
    image_size: int | tuple[int, int],
    *,
    max_objects: int = 6,
    min_objects: int = 1,
    n_distractors: tuple[int, int] = (2, 6),
    size_range: tuple[float, float] = (0.05, 0.18),
    max_occlusion: float = 0.4,
    texture: float = 1.0,
    n_classes: int = len(CLASS_NAMES),
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one detection image from ``rng``.

    Returns:
        ``(image, boxes)``: uint8 ``(H, W, 3)`` and float32 ``(N, 5)`` ``[x1, y1, x2, y2, class]``
        (tight boxes of the visible pixels; objects are kept at least ``1 - max_occlusion``
        visible, and always whole inside the image).
    """
    if isinstance(image_size, (int, np.integer)):
        H = W = int(image_size)
    else:
        H, W = (int(s) for s in image_size)
    side = min(H, W)
    img = _background(rng, H, W, texture=texture)
    # distractors
    nd = int(rng.integers(n_distractors[0], n_distractors[1] + 1))
    for _ in range(nd):
        q = rng.random(9)
        r = side * (size_range[0] + (size_range[1] - size_range[0]) * q[0]) * 1.2
        cx, cy = W * q[1], H * q[2]
        x0, x1 = max(0, int(cx - r) - 1), min(W, int(cx + r) + 2)
        y0, y1 = max(0, int(cy - r) - 1), min(H, int(cy + r) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        u, v = _frame_patch(cx, cy, r, 2 * math.pi * q[3], x0, y0, x1, y1)
        kind = min(int(q[4] * len(_DISTRACTORS)), len(_DISTRACTORS) - 1)
        m = _distractor_mask(kind, u, v, np.array([q[8], q[1], q[2]]))
        img[y0:y1, x0:x1][m] = _random_colour(q[5:8])
    # objects
    labels = np.zeros((H, W), np.int16)  # 0 = none, k = object k-1
    n_obj = int(rng.integers(min_objects, max_objects + 1))
    classes: list[int] = []
    areas: list[int] = []
    visible: list[int] = []
    patches: list[tuple[int, int, int, int]] = []
    for _ in range(n_obj):
        q = rng.random(8)
        cls = min(int(q[0] * n_classes), n_classes - 1)
        r = side * (size_range[0] + (size_range[1] - size_range[0]) * q[1])
        ang = 2 * math.pi * q[2]
        colour = _random_colour(q[5:8])
        for attempt in range(4):
            if attempt:
                q[3:5] = rng.random(2)
            cx = r + (W - 2 * r) * q[3]
            cy = r + (H - 2 * r) * q[4]
            x0, x1 = max(0, int(cx - r) - 1), min(W, int(cx + r) + 2)
            y0, y1 = max(0, int(cy - r) - 1), min(H, int(cy + r) + 2)
            u, v = _frame_patch(cx, cy, r, ang, x0, y0, x1, y1)
            m = _class_mask(cls, u, v)
            area = int(m.sum())
            if area < 4:
                break
            lost = np.bincount(labels[y0:y1, x0:x1][m], minlength=len(classes) + 1)[1:]
            vis = np.asarray(visible, dtype=np.int64) - lost
            if (vis >= (1.0 - max_occlusion) * np.asarray(areas)).all():
                labels[y0:y1, x0:x1][m] = len(classes) + 1
                img[y0:y1, x0:x1][m] = colour
                classes.append(cls)
                areas.append(area)
                visible[:] = vis.tolist()
                visible.append(area)
                patches.append((x0, y0, x1, y1))
                break
    boxes = np.zeros((len(classes), 5), np.float32)
    keep = np.ones(len(classes), bool)
    for k, cls in enumerate(classes):
        x0, y0, x1, y1 = patches[k]
        ys, xs = np.nonzero(labels[y0:y1, x0:x1] == k + 1)
        if ys.size == 0:
            keep[k] = False
            continue
        boxes[k] = (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1, cls)
    img *= 255.0
    img += 0.5
    image = np.clip(img, 0, 255, out=img).astype(np.uint8)
    return image, boxes[keep]


class ShapesDetection(torch.utils.data.Dataset):
    """Synthetic detection dataset: ``dataset[i] -> (image, boxes)``.

    ``image`` is a float32 tensor ``(3, H, W)`` in ``[0, 1]``; ``boxes`` a float32 tensor
    ``(N, 5)`` ``[x1, y1, x2, y2, class]`` in pixels (``N`` may be 0). With a ``transform``
    (a callable ``(image uint8 HWC, boxes (N, 5), rng) -> (image, boxes)`` from
    :mod:`attnlab.data.transforms`), the item is transformed with a random stream that depends on
    ``(aug_seed, epoch, index)``; :meth:`set_epoch` (called by :func:`attnlab.data.make_loader`'s
    loader at each epoch) changes the augmentation from one epoch to the next.

    Args:
        n: number of images.
        image_size: side (or ``(height, width)``) of the generated images.
        seed: base seed (see the module docstring for determinism).
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform: optional augmentation.
        cache: keep generated images in memory. ``None`` (default) caches when all images fit in
            ``cache_limit_mb``.
        aug_seed: seed of the augmentation streams (default: ``seed``).
        **options: passed to :func:`make_detection_image` (``max_objects``, ``n_distractors``,
            ``size_range``, ``max_occlusion``, ``texture``).
    """

    def __init__(
        self,
        n: int,
        image_size: int | tuple[int, int] = 416,
        seed: int = 0,
        split: str = "train",
        *,
        transform: Callable[..., Any] | None = None,
        cache: bool | None = None,
        cache_limit_mb: float = 1024.0,
        aug_seed: int | None = None,
        **options: Any,
    ):
        if split not in SPLITS:
            raise ValueError(f"ShapesDetection: split must be one of {list(SPLITS)}, got {split!r}")
        if n < 0:
            raise ValueError(f"ShapesDetection: n must be >= 0, got {n}")
        self.n = int(n)
        self.image_size = image_size
        self.seed = int(seed)
        self.split = split
        self.transform = transform
        self.options = dict(options)
        self.class_names = CLASS_NAMES[: self.options.get("n_classes", len(CLASS_NAMES))]
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        if cache is None:
            cache = self.n * h * w * 3 / 2**20 <= cache_limit_mb
        self.cache = bool(cache)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.aug_seed = self.seed if aug_seed is None else int(aug_seed)
        self.epoch = 0

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        """Choose the augmentation streams of this epoch."""
        self.epoch = int(epoch)

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The untransformed item: uint8 ``(H, W, 3)`` and float32 ``(N, 5)`` numpy arrays.

        The arrays may be shared with the cache: copy before modifying them in place.
        """
        if not 0 <= index < self.n:
            raise IndexError(f"ShapesDetection: index {index} out of range for {self.n} images")
        hit = self._cache.get(index)
        if hit is not None:
            return hit
        item = make_detection_image(image_rng(self.seed, self.split, index), self.image_size, **self.options)
        if self.cache:
            self._cache[index] = item
        return item

    def aug_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.aug_seed, self.epoch, int(index), 7])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = int(index)
        if index < 0:
            index += self.n
        image, boxes = self.raw(index)
        if self.transform is not None:
            image, boxes = self.transform(image.copy(), boxes.copy(), self.aug_rng(index))
        return to_tensor(image), torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float32)).reshape(-1, 5)

    def to_voc(self, root: Any, *, image_format: str = "png", **kwargs: Any) -> list[str]:
        """Write the (untransformed) images as a VOC tree (see :func:`attnlab.data.voc.write_voc`).

        Ids are ``<split>_<index>``; the split file is ``ImageSets/Main/<split>.txt``. PNG by
        default so that images read back byte-identical.
        """
        from attnlab.data.voc import write_voc

        ids = [f"{self.split}_{i:06d}" for i in range(self.n)]
        samples = (self.raw(i) for i in range(self.n))
        return write_voc(root, samples, self.class_names, split=self.split, ids=ids,
                         image_format=image_format, **kwargs)

    def __repr__(self) -> str:
        return (
            f"ShapesDetection(n={self.n}, image_size={self.image_size}, seed={self.seed}, "
            f"split={self.split!r}, cache={self.cache})"
        )
