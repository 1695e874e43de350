"""The reference project's published YOLOv4-tiny weights: download, check, load.

The reference implementation (bubbliiiing/yolov4-tiny-pytorch) publishes five checkpoints in its
``v1.0`` release, listed in its README with the mAP it reports for each::

    from attnlab.detection.published import load_published
    model, info = load_published("voc-se")          # downloads once, then reads the local copy
    info.class_names[:3], info.sha256[:12]           # ('aeroplane', 'bicycle', 'bird'), ...

The files are plain state_dicts in the reference's layout, which attnlab's
:class:`~attnlab.models.YoloV4Tiny` matches key for key. No checksums are published upstream, so
every file is read with ``torch.load(weights_only=True)`` (no code runs), checked for the expected
layout (every key and shape, strictly), and its SHA-256 is computed and returned so that a reader
can record which file they used.

Without a network the download fails with :class:`PublishedWeightsUnavailable`, one line that says
so; a notebook catches it and goes on.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["RELEASE_URL", "PUBLISHED", "COCO_CLASSES", "PublishedWeights", "PublishedInfo",
           "PublishedWeightsUnavailable", "download_published", "load_published", "weights_folder"]

#: the reference project's release with its trained weights (from its README)
RELEASE_URL = "https://github.com/bubbliiiing/yolov4-tiny-pytorch/releases/download/v1.0/"

#: the 80 COCO classes, in the order of the reference's ``coco_classes.txt``
COCO_CLASSES = (
    "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa", "pottedplant", "bed",
    "diningtable", "toilet", "tvmonitor", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)


@dataclass(frozen=True)
class PublishedWeights:
    """One published checkpoint and what its README reports for it."""

    name: str
    file: str
    attention: str
    dataset: str  # "voc" (20 classes) or "coco" (80 classes)
    reported: str  # the README's result, quoted


PUBLISHED: dict[str, PublishedWeights] = {
    w.name: w for w in (
        PublishedWeights("voc", "yolov4_tiny_weights_voc.pth", "none", "voc", "VOC07 test mAP@0.5 77.8"),
        PublishedWeights("voc-se", "yolov4_tiny_weights_voc_SE.pth", "se", "voc", "VOC07 test mAP@0.5 78.4"),
        PublishedWeights("voc-cbam", "yolov4_tiny_weights_voc_CBAM.pth", "cbam", "voc", "VOC07 test mAP@0.5 78.6"),
        PublishedWeights("voc-eca", "yolov4_tiny_weights_voc_ECA.pth", "eca", "voc", "VOC07 test mAP@0.5 77.6"),
        PublishedWeights("coco", "yolov4_tiny_weights_coco.pth", "none", "coco",
                         "COCO val2017 mAP@[.5:.95] 21.5, mAP@0.5 41.0"),
    )
}


class PublishedWeightsUnavailable(ConnectionError):
    """The weights could not be downloaded (no network, or the server refused)."""


@dataclass(frozen=True)
class PublishedInfo:
    """What :func:`load_published` read: the entry, the local file and its SHA-256."""

    weights: PublishedWeights
    path: Path
    sha256: str
    class_names: tuple[str, ...]


def class_names(dataset: str) -> tuple[str, ...]:
    """The class names of ``"voc"`` (20) or ``"coco"`` (80), in the reference's order."""
    if dataset == "voc":
        from attnlab.data.voc import VOC_CLASSES

        return tuple(VOC_CLASSES)
    if dataset == "coco":
        return COCO_CLASSES
    raise ValueError(f"class_names: dataset must be 'voc' or 'coco', got {dataset!r}")


def weights_folder() -> Path:
    """``$ATTNLAB_WEIGHTS_DIR``, else ``~/.cache/attnlab/weights``."""
    env = os.environ.get("ATTNLAB_WEIGHTS_DIR", "").strip()
    return Path(env) if env else Path.home() / ".cache" / "attnlab" / "weights"


def _entry(name: str) -> PublishedWeights:
    if name not in PUBLISHED:
        raise ValueError(f"published weights: name must be one of {sorted(PUBLISHED)}, got {name!r}")
    return PUBLISHED[name]


def download_published(name: str, folder: str | os.PathLike | None = None, *, base_url: str = RELEASE_URL,
                       timeout: float = 60.0) -> Path:
    """The local file of published weights ``name``, downloaded first if it is not there yet.

    The download goes to a ``.part`` file that is renamed only when complete, so an interrupted
    download is never taken for the weights.

    Raises:
        ValueError: unknown ``name``.
        PublishedWeightsUnavailable: the download failed (offline, or an HTTP error).
    """
    entry = _entry(name)
    folder = Path(folder) if folder is not None else weights_folder()
    path = folder / entry.file
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    url = base_url.rstrip("/") + "/" + entry.file
    part = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
            expected = response.headers.get("Content-Length")
        if expected is not None and part.stat().st_size != int(expected):
            raise OSError(f"incomplete download: {part.stat().st_size:,} of {int(expected):,} bytes")
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as e:
        part.unlink(missing_ok=True)
        reason = getattr(e, "reason", None) or e
        raise PublishedWeightsUnavailable(f"could not download {url}: {reason}") from e
    os.replace(part, path)
    return path


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_published(name: str, folder: str | os.PathLike | None = None, *, device: str | torch.device = "cpu",
                   base_url: str = RELEASE_URL) -> tuple[Any, PublishedInfo]:
    """Download (once) and load published weights into a :class:`~attnlab.models.YoloV4Tiny`.

    The model has the checkpoint's attention and class count, the reference anchors and 416 px
    input, and is in eval mode. Every key and shape must match (strict); a file of another
    layout raises :class:`attnlab.models.CheckpointError` naming the differences.

    Returns:
        ``(model, info)``; ``info.sha256`` identifies the file that was read.
    """
    from attnlab.models import YoloV4Tiny, load_checkpoint

    entry = _entry(name)
    path = download_published(name, folder, base_url=base_url)
    names = class_names(entry.dataset)
    model = YoloV4Tiny(len(names), attention=entry.attention)
    load_checkpoint(model, path, strict=True)
    info = PublishedInfo(weights=entry, path=path, sha256=sha256(path), class_names=names)
    return model.to(device).eval(), info
