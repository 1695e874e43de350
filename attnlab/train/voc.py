"""Train YOLOv4-tiny on Pascal VOC (or any VOC-format folder): the recipe Chapter 8 runs in Colab.

Readable top to bottom, like :mod:`attnlab.train.recipes`::

    from attnlab.data import download_voc2007
    from attnlab.train.voc import train_on_voc
    root = download_voc2007("data")  # VOCdevkit/VOC2007, checksum-verified
    # on a GPU: about an hour on a T4
    result = train_on_voc(root, attention="se", epochs=50)

It follows the reference project's VOC schedule: its augmentation (:func:`attnlab.data.train_transform`),
SGD with momentum, a warm-up then a cosine decay, no label smoothing (the reference's default;
``label_smoothing=`` sets it); with a ``pretrained`` checkpoint the backbone is frozen for the first
quarter of the epochs, and the prediction heads are kept when the class count matches (fine-tuning
the reference's VOC weights) and start afresh when it does not. After each epoch the trainer writes
``out/last.pt`` atomically and evaluates mAP@0.5 on the test split (:func:`evaluate_voc`: in the
images' own pixels, objects marked *difficult* ignored, as VOC's evaluation does), so a Colab
session that dies loses at most the epoch in progress: call :func:`train_on_voc` again with the
same ``out`` and it resumes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch

__all__ = ["VOCTrainResult", "train_on_voc", "evaluate_voc"]


@dataclass
class VOCTrainResult:
    """What :func:`train_on_voc` returns: the trained model (eval mode), the per-epoch history
    (``train_loss``, ``val_map50``, ...), the test set, and the loading report of ``pretrained``."""

    model: Any
    history: list[dict[str, Any]]
    test_set: Any
    load_report: Any = None


def train_on_voc(
    voc_root: str | os.PathLike,
    attention: str | int = "se",
    *,
    epochs: int = 50,
    batch_size: int = 32,
    image_size: int = 416,
    lr: float = 1e-2,
    pretrained: str | os.PathLike | None = None,
    out: str | os.PathLike = "runs/voc",
    classes: Sequence[str] | None = None,
    train_split: str = "trainval",
    test_split: str = "test",
    device: str | torch.device | None = None,
    num_workers: int | str = "auto",
    progress: bool = True,
    seed: int = 0,
    label_smoothing: float = 0.0,
    mode: str = "auto",
) -> VOCTrainResult:
    """Train (or resume training) YOLOv4-tiny with ``attention`` on a VOC-format folder.

    Args:
        voc_root: the folder holding ``Annotations/``, ``JPEGImages/`` and ``ImageSets/Main/``
            (e.g. what :func:`attnlab.data.download_voc2007` returns).
        attention: ``"none"``, ``"se"``, ``"cbam"``, ``"eca"``, ``"ca"``, ``"simam"`` or a phi.
        epochs, batch_size, lr: the schedule (the reference: 50 epochs from a pretrained backbone
            would be longer; this is sized for a Colab session).
        image_size: the square training and test size (a multiple of 32).
        pretrained: a checkpoint (the reference's ``.pth`` or attnlab's) to start from, loaded
            with ``strict=False``: its prediction heads are kept when their shapes fit (same class
            count) and started afresh otherwise; the backbone is then frozen for ``epochs // 4``.
        out: checkpoint folder (``last.pt``, ``best.pt``, ``history.json``); resumed when present.
        classes: class names (default: the 20 VOC classes).
        train_split, test_split: the ``ImageSets/Main/<split>.txt`` lists to train and test on.
        device: default CUDA when available, else CPU.
        num_workers: data-loading processes (``"auto"``: :func:`attnlab.data.auto_num_workers`).
        progress: show a progress bar.
        seed: seeds the weights' initialisation, the batch order and the augmentation.
        label_smoothing: the loss's label smoothing (the reference's default, 0).
        mode: how the training step runs (the :class:`~attnlab.train.Trainer`'s ``mode``):
            ``"auto"`` (the fastest measured for this device, image and batch size), ``"off"``,
            or one of :data:`attnlab.train.speed.MODES`.

    Returns:
        a :class:`VOCTrainResult`.

    Raises:
        ValueError: ``image_size`` is not a positive multiple of 32, ``epochs`` or ``batch_size``
            is not positive; :class:`attnlab.data.VOCDataError` for a malformed VOC folder.
    """
    from attnlab.data import VOC_CLASSES, LetterboxResize, VOCDetection, make_loader, train_transform
    from attnlab.detection.loss import YoloLoss
    from attnlab.models import YoloV4Tiny, load_checkpoint
    from attnlab.train.trainer import Trainer

    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32 or image_size % 32:
        raise ValueError(f"train_on_voc: image_size must be a positive multiple of 32, got {image_size!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train_on_voc: {name} must be a positive int, got {value!r}")
    classes = tuple(VOC_CLASSES if classes is None else classes)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"

    train_set = VOCDetection(voc_root, train_split, classes, transform=train_transform(image_size))
    test_set = VOCDetection(voc_root, test_split, classes, transform=LetterboxResize(image_size))
    torch.manual_seed(seed)
    model = YoloV4Tiny(num_classes=len(classes), attention=attention)
    report = None
    if pretrained:
        # keep the prediction heads when their shapes fit (same class count); else start them afresh
        report = load_checkpoint(model, pretrained, strict=False)
        heads = [k for k in report.mismatched if k.startswith(("yolo_headP5.1.", "yolo_headP4.1."))]
        if heads:
            report = load_checkpoint(model, pretrained, strict=False, reinit_heads=True)
        if progress:
            print(report.summary())
    # the reference's loss weights at this input size
    loss_fn = YoloLoss(len(classes), model.anchors, model.anchors_mask, image_size, label_smoothing=label_smoothing)
    loader = make_loader(train_set, batch_size, shuffle=True, seed=seed, drop_last=True, num_workers=num_workers)
    trainer = Trainer(
        model,
        loss_fn,
        loader,
        optimizer="sgd",
        lr=lr,
        epochs=epochs,
        warmup_epochs=min(2, epochs),
        freeze="backbone" if pretrained else None,
        freeze_epochs=epochs // 4 if pretrained else 0,
        checkpoint_dir=out,
        val_fn=lambda m: {"map50": evaluate_voc(m, test_set, image_size=image_size, device=device)["map50"]},
        best_metric="val_map50",
        device=device,
        progress=progress,
        seed=seed,
        mode=mode,
        image_size=image_size,
    )
    history = trainer.fit(resume=True)  # a Colab disconnect resumes from out/last.pt
    return VOCTrainResult(model=model.eval(), history=history, test_set=test_set, load_report=report)


def evaluate_voc(
    model: Any,
    dataset: Any,
    *,
    image_size: int = 416,
    conf_threshold: float = 0.001,
    nms_iou: float = 0.5,
    max_detections: int = 100,
    device: str | torch.device | None = None,
    predict: Any = None,
) -> dict[str, Any]:
    """VOC-style mAP of ``model`` on a :class:`~attnlab.data.VOCDetection`, as VOC evaluates.

    Each image is letterboxed to ``image_size``, detected (confidence above ``conf_threshold``,
    class-aware NMS at ``nms_iou``, at most ``max_detections``), and its boxes mapped back to the
    image's own pixels, where they meet the annotation's boxes unchanged (no box is clipped or
    dropped by a resize) with their *difficult* flags: a difficult object neither counts as missed
    nor makes a detection of it a false positive.

    Args:
        predict: for tests, a callable ``image (H, W, 3) uint8 -> (boxes xyxy, scores, labels)`` in
            the image's pixels, used instead of ``model``.

    Returns:
        the :class:`attnlab.metrics.DetectionMetrics` dict (``map50`` is VOC's all-point AP,
        ``map50_voc11`` the VOC2007 11-point one).
    """
    from attnlab.detection.predictor import Predictor
    from attnlab.metrics import DetectionMetrics

    for name in ("annotations", "raw", "class_names"):
        if not hasattr(dataset, name):
            raise TypeError(f"evaluate_voc: dataset must be a VOCDetection (it has no {name!r}), got {type(dataset).__name__}")
    metrics = DetectionMetrics(len(dataset.class_names), list(dataset.class_names))
    if predict is None:
        # the predictor letterboxes, decodes, applies NMS and maps the boxes back (clipped)
        predictor = Predictor(model, input_size=image_size, conf_threshold=conf_threshold, nms_iou=nms_iou,
                              device=device, max_detections=max_detections)

        def predict(image):
            result = predictor(image)
            return result.boxes, result.scores, result.labels

    for index, annotation in enumerate(dataset.annotations):
        image, boxes = dataset.raw(index)
        det_boxes, scores, labels = predict(image)
        metrics.update(det_boxes, scores, labels, boxes[:, :4], boxes[:, 4].astype("int64"), annotation.difficult)
    return metrics.compute()
