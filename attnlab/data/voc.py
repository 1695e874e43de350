"""The Pascal VOC format: read and write ``Annotations/*.xml``, ``ImageSets/Main/*.txt`` and
``JPEGImages/``, and a :class:`VOCDetection` dataset with the same item format as
:class:`~attnlab.data.ShapesDetection`.

A VOC tree (``root`` is the folder that holds the three sub-folders, e.g. ``VOCdevkit/VOC2007``)::

    root/Annotations/<id>.xml          one per image: size and objects (name, bndbox, difficult)
    root/ImageSets/Main/<split>.txt    the ids of a split, one per line
    root/JPEGImages/<id>.jpg           the images (``.png`` also read)
    root/classes.txt                   optional: class names, one per line (written by write_voc)

Box convention. VOC ``bndbox`` numbers are 1-based inclusive pixel indices. This package uses
0-based corner boxes (see :mod:`attnlab.data.transforms`), so reading maps
``x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax`` and writing does the reverse (rounding to
whole pixels). A box is valid when ``0 <= x1 < x2 <= width`` and ``0 <= y1 < y2 <= height``.

Bad data. Each problem raises :class:`VOCDataError` naming the file (and the object: its index
in the file and its class name), or, with ``on_error="skip"``, is skipped: object-level problems
(unknown class, box outside the image, zero-area box, missing or non-numeric coordinates) drop the
object; file-level problems (missing or malformed XML, missing, unreadable or truncated image)
drop the image. One warning at the end says how many were skipped; the list is kept in
``dataset.skipped``.
"""

from __future__ import annotations

import math
import os
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from attnlab.data.images import to_tensor

__all__ = [
    "VOC_CLASSES",
    "VOCDataError",
    "VOCAnnotation",
    "VOCDetection",
    "read_class_names",
    "parse_annotation",
    "write_annotation",
    "write_voc",
    "read_image",
]

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


class VOCDataError(ValueError):
    """A problem in a VOC tree; the message names the file (and the object, where one is at fault)."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, level: str = "file"):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.level = level  # "file" or "object"


@dataclass
class VOCAnnotation:
    """One parsed annotation file.

    Attributes:
        path: the XML file.
        filename: the image file name the XML names (may be empty).
        width, height: image size from ``<size>`` (0 when absent).
        boxes: ``(N, 5)`` float32 ``[x1, y1, x2, y2, class]`` (package convention).
        difficult: ``(N,)`` bool.
        names: class name per object.
        skipped: ``(reason, ...)`` for objects dropped with ``on_error="skip"``.
    """

    path: str
    filename: str
    width: int
    height: int
    boxes: np.ndarray
    difficult: np.ndarray
    names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_class_names(source: str | os.PathLike | Sequence[str]) -> tuple[str, ...]:
    """Class names from a list (or tuple), or from a text file (a ``str`` or path) with one name per
    line (blank lines ignored).

    Raises:
        VOCDataError: missing file, no names, or a name listed twice.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise VOCDataError(f"{path}: class names file not found", path) from None
        names = tuple(line.strip() for line in text.splitlines() if line.strip())
        where = str(path)
    else:
        names = tuple(str(s).strip() for s in source)
        where = "class names"
    if not names:
        raise VOCDataError(f"{where}: no class names", where)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise VOCDataError(f"{where}: class names listed more than once: {dup}", where)
    return names


#: how a <difficult> flag may be written (VOC writes 0 or 1; some tools write words)
_FLAGS = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True, "": False}


def _fail(on_error: str, skipped: list[str], message: str, path: Any, level: str) -> None:
    if on_error == "raise":
        raise VOCDataError(message, path, level)
    skipped.append(message)


def parse_annotation(
    path: str | os.PathLike,
    class_names: Sequence[str],
    *,
    on_error: str = "raise",
    check_bounds: bool = True,
) -> VOCAnnotation:
    """Parse one VOC XML file.

    Args:
        path: the XML file.
        class_names: known classes; a class index is a position in this list.
        on_error: ``"raise"`` (default) or ``"skip"`` for object-level problems (file-level
            problems always raise: the caller decides whether to skip the image).
        check_bounds: check boxes against ``<size>`` when it is present.

    Raises:
        VOCDataError: missing or malformed file; with ``on_error="raise"`` also a bad object.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise VOCDataError(f"{path}: annotation file not found", path) from None
    except ET.ParseError as e:
        raise VOCDataError(f"{path}: malformed XML ({e})", path) from None
    if root.tag != "annotation":
        raise VOCDataError(f"{path}: malformed XML (root element is <{root.tag}>, expected <annotation>)", path)
    filename = (root.findtext("filename") or "").strip()
    try:
        width = int(float(root.findtext("size/width") or 0))
        height = int(float(root.findtext("size/height") or 0))
    except (ValueError, OverflowError):  # "abc", "nan", "inf"
        raise VOCDataError(f"{path}: malformed <size> (width/height not finite numbers)", path) from None
    if width < 0 or height < 0:
        raise VOCDataError(f"{path}: malformed <size> (negative width/height: {width}x{height})", path)
    index = {name: i for i, name in enumerate(class_names)}
    boxes, difficult, names, skipped = [], [], [], []
    for k, obj in enumerate(root.findall("object")):
        name = (obj.findtext("name") or "").strip()
        what = f"{path}: object {k} ({name!r})"
        if name not in index:
            _fail(on_error, skipped, f"{what}: unknown class name {name!r}; known: {list(class_names)}", path, "object")
            continue
        try:
            xmin, ymin, xmax, ymax = (float(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            _fail(on_error, skipped, f"{what}: missing or non-numeric <bndbox> coordinates", path, "object")
            continue
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            _fail(on_error, skipped,
                  f"{what}: non-finite <bndbox> coordinate (xmin={xmin:g}, ymin={ymin:g}, xmax={xmax:g}, ymax={ymax:g})",
                  path, "object")
            continue
        flag = (obj.findtext("difficult") or "0").strip().lower()
        if flag not in _FLAGS:
            _fail(on_error, skipped, f"{what}: <difficult> must be 0 or 1, got {flag!r}", path, "object")
            continue
        x1, y1, x2, y2 = xmin - 1, ymin - 1, xmax, ymax
        if not (x2 > x1 and y2 > y1):
            _fail(on_error, skipped,
                  f"{what}: zero-area box (xmin={xmin:g}, ymin={ymin:g}, xmax={xmax:g}, ymax={ymax:g})", path, "object")
            continue
        if check_bounds and width > 0 and height > 0 and (x1 < 0 or y1 < 0 or x2 > width or y2 > height):
            _fail(on_error, skipped,
                  f"{what}: box outside the image (xmin={xmin:g}, ymin={ymin:g}, xmax={xmax:g}, ymax={ymax:g}; "
                  f"image {width}x{height})", path, "object")
            continue
        boxes.append((x1, y1, x2, y2, index[name]))
        difficult.append(_FLAGS[flag])
        names.append(name)
    return VOCAnnotation(
        path=str(path),
        filename=filename,
        width=width,
        height=height,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 5),
        difficult=np.asarray(difficult, bool),
        names=names,
        skipped=skipped,
    )


def write_annotation(
    path: str | os.PathLike,
    filename: str,
    width: int,
    height: int,
    boxes: np.ndarray | torch.Tensor,
    class_names: Sequence[str],
    *,
    difficult: Sequence[bool] | None = None,
    folder: str = "VOC",
) -> None:
    """Write one VOC XML file for ``boxes`` ``(N, 5)`` ``[x1, y1, x2, y2, class]`` (package convention)."""
    boxes = np.asarray(boxes.cpu() if isinstance(boxes, torch.Tensor) else boxes, np.float64).reshape(-1, 5)
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = filename
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(int(width))
    ET.SubElement(size, "height").text = str(int(height))
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for k, (x1, y1, x2, y2, c) in enumerate(boxes):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = class_names[int(c)]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "1" if difficult is not None and difficult[k] else "0"
        bb = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
            ET.SubElement(bb, tag).text = str(int(round(value)))
    ET.indent(root)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=False)


def _to_uint8(image: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.is_floating_point():
            t = (t.clamp(0, 1) * 255).round().to(torch.uint8)
        if t.ndim == 3 and t.shape[0] == 3:
            t = t.permute(1, 2, 0)
        return t.contiguous().numpy()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"write_voc: numpy images must be uint8 (H, W, 3), got {image.dtype}")
    return image


def write_voc(
    root: str | os.PathLike,
    samples: Iterable[tuple[Any, Any]],
    class_names: Sequence[str],
    *,
    split: str = "train",
    ids: Sequence[str] | None = None,
    image_format: str = "jpg",
    quality: int = 95,
    append: bool = False,
) -> list[str]:
    """Write ``(image, boxes)`` samples as a VOC tree under ``root``.

    Args:
        root: the VOC folder (created).
        samples: images (uint8 ``(H, W, 3)`` or float tensor ``(3, H, W)``) with boxes ``(N, 5)``.
        class_names: written to ``root/classes.txt``; box classes index into it.
        split: the ``ImageSets/Main/<split>.txt`` file listing the ids.
        ids: image ids (default ``<split>_000000``, ...).
        image_format: ``"jpg"`` (as VOC; lossy, boxes unaffected) or ``"png"`` (lossless).
        quality: JPEG quality.
        append: add to an existing split file instead of replacing it.

    Returns:
        The ids written.
    """
    if image_format not in ("jpg", "png"):
        raise ValueError(f"write_voc: image_format must be 'jpg' or 'png', got {image_format!r}")
    root = Path(root)
    for sub in ("Annotations", "ImageSets/Main", "JPEGImages"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(class_names) + "\n", encoding="utf-8")
    written: list[str] = []
    for k, (image, boxes) in enumerate(samples):
        image_id = ids[k] if ids is not None else f"{split}_{k:06d}"
        arr = _to_uint8(image)
        fname = f"{image_id}.{image_format}"
        pil = Image.fromarray(arr)
        if image_format == "jpg":
            pil.save(root / "JPEGImages" / fname, quality=quality)
        else:
            pil.save(root / "JPEGImages" / fname)
        b = boxes.cpu().numpy() if isinstance(boxes, torch.Tensor) else np.asarray(boxes)
        write_annotation(root / "Annotations" / f"{image_id}.xml", fname, arr.shape[1], arr.shape[0], b, class_names)
        written.append(image_id)
    list_file = root / "ImageSets" / "Main" / f"{split}.txt"
    with open(list_file, "a" if append else "w", encoding="utf-8") as f:
        f.writelines(i + "\n" for i in written)
    return written


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to uint8 ``(H, W, 3)`` RGB.

    Raises:
        VOCDataError: missing, unreadable or truncated file (the message names it).
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise VOCDataError(f"{path}: image file not found", path) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise VOCDataError(f"{path}: unreadable or truncated image ({e})", path) from None


class VOCDetection(torch.utils.data.Dataset):
    """A VOC tree as a dataset: ``dataset[i] -> (image (3, H, W) float in [0, 1], boxes (N, 5))``.

    Same item format, ``raw``, ``set_epoch`` and ``transform`` behaviour as
    :class:`~attnlab.data.ShapesDetection`. Annotations are parsed (and checked) when the dataset
    is made; images are decoded when read (``check_images=True`` decodes them all up front, so
    unreadable ones can be skipped).

    Args:
        root: the VOC folder (holding ``Annotations``, ``ImageSets``, ``JPEGImages``).
        split: name of ``ImageSets/Main/<split>.txt``.
        class_names: a list, a file, or ``None``: ``root/classes.txt`` if present, else the 20
            :data:`VOC_CLASSES`.
        transform: ``(image uint8 HWC, boxes (N, 5), rng) -> (image, boxes)``.
        on_error: ``"raise"`` or ``"skip"`` (warn once with counts; see the module docstring).
        keep_difficult: keep objects marked difficult (their flags are in ``self.difficult``).
        check_images: decode every image now.
        cache: keep decoded images in memory.
        aug_seed: seed of the augmentation streams.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        class_names: str | os.PathLike | Sequence[str] | None = None,
        *,
        transform: Callable[..., Any] | None = None,
        on_error: str = "raise",
        keep_difficult: bool = True,
        check_images: bool = False,
        cache: bool = False,
        aug_seed: int = 0,
    ):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"VOCDetection: on_error must be 'raise' or 'skip', got {on_error!r}")
        self.root = Path(root)
        self.split = split
        if class_names is None:
            class_names = self.root / "classes.txt" if (self.root / "classes.txt").exists() else VOC_CLASSES
        self.class_names = read_class_names(class_names)
        self.transform = transform
        self.on_error = on_error
        self.cache = cache
        self.aug_seed = int(aug_seed)
        self.epoch = 0
        self.skipped: list[str] = []
        self._cache: dict[int, np.ndarray] = {}

        list_file = self.root / "ImageSets" / "Main" / f"{split}.txt"
        try:
            ids = [line.strip() for line in list_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except FileNotFoundError:
            raise VOCDataError(f"{list_file}: split file not found (split {split!r})", list_file) from None
        skipped_objects = 0
        self.ids: list[str] = []
        self.image_paths: list[Path] = []
        self.annotations: list[VOCAnnotation] = []
        for image_id in ids:
            xml = self.root / "Annotations" / f"{image_id}.xml"
            try:
                ann = parse_annotation(xml, self.class_names, on_error=on_error)
                image_path = self._find_image(image_id, ann, xml)
                if check_images:
                    img = read_image(image_path)
                    if cache:
                        self._cache[len(self.ids)] = img
            except VOCDataError as e:
                if on_error == "raise":
                    raise
                self.skipped.append(str(e))
                continue
            skipped_objects += len(ann.skipped)
            self.skipped.extend(ann.skipped)
            if not keep_difficult and ann.difficult.any():
                ann.boxes, ann.names = ann.boxes[~ann.difficult], [n for n, d in zip(ann.names, ann.difficult) if not d]
                ann.difficult = ann.difficult[~ann.difficult]
            self.ids.append(image_id)
            self.image_paths.append(image_path)
            self.annotations.append(ann)
        skipped_images = len(self.skipped) - skipped_objects
        if self.skipped:
            warnings.warn(
                f"VOCDetection({self.root}, split={split!r}): skipped {skipped_images} image(s) and "
                f"{skipped_objects} object(s) with bad data; first: {self.skipped[0]} "
                f"(all in .skipped)",
                stacklevel=2,
            )
        self.skipped_images, self.skipped_objects = skipped_images, skipped_objects

    def _find_image(self, image_id: str, ann: VOCAnnotation, xml: Path) -> Path:
        folder = self.root / "JPEGImages"
        candidates = []
        if ann.filename:
            candidates.append(folder / ann.filename)
        candidates += [folder / f"{image_id}{ext}" for ext in IMAGE_EXTENSIONS]
        for c in candidates:
            if c.is_file():
                return c
        raise VOCDataError(f"{candidates[0]}: image file not found (referenced by {xml})", candidates[0])

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def difficult(self) -> list[np.ndarray]:
        return [a.difficult for a in self.annotations]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def aug_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.aug_seed, self.epoch, int(index), 7])

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """uint8 ``(H, W, 3)`` image and float32 ``(N, 5)`` boxes (arrays may be shared: copy to modify)."""
        if not 0 <= index < len(self.ids):
            raise IndexError(f"VOCDetection: index {index} out of range for {len(self.ids)} images")
        img = self._cache.get(index)
        if img is None:
            img = read_image(self.image_paths[index])
            if self.cache:
                self._cache[index] = img
        return img, self.annotations[index].boxes

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = int(index)
        if index < 0:
            index += len(self.ids)
        image, boxes = self.raw(index)
        if self.transform is not None:
            image, boxes = self.transform(image.copy(), boxes.copy(), self.aug_rng(index))
        return to_tensor(image), torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float32)).reshape(-1, 5)

    def __repr__(self) -> str:
        return f"VOCDetection({str(self.root)!r}, split={self.split!r}, n={len(self)}, classes={len(self.class_names)})"
