"""Train and evaluate YOLOv4-tiny on the synthetic shapes: the recipe behind Part II and the CLI.

Two functions, readable top to bottom::

    from attnlab.train.recipes import train_detector, evaluate_detector
    result = train_detector("se", seed=0)            # sizes from the profile (quick on a CPU)
    result.history[-1]["val_map50"], result.seconds
    evaluate_detector(result.model, result.val_set)  # {"map50": ..., "map50_voc11": ..., ...}

:func:`train_detector` does, in order:

1. picks the recipe for the profile (:data:`RECIPES`, then any ``**overrides``);
2. builds the training and validation :class:`~attnlab.data.ShapesDetection` sets (the data
   depend on ``data_seed`` only, so every attention variant and every training seed sees the same
   images);
3. clusters six anchors on the training boxes at the training size (k-means with the ``1 - IoU``
   distance, :func:`attnlab.data.kmeans_anchors`);
4. seeds torch with ``seed`` and builds :class:`~attnlab.models.YoloV4Tiny` with those anchors;
5. trains it with :class:`~attnlab.train.Trainer` and :class:`~attnlab.detection.loss.YoloLoss`,
   validating (mAP) every ``eval_every`` epochs and after the last one;
6. evaluates the final model once on ``n_test`` held-out images of the ``test`` split: those are
   the run's reported metrics (``TrainResult.metrics``); validation only draws the curves.

Why these recipe values (quick profile: a 2-core CPU, a few minutes). The model is trained from
scratch, so:

- AdamW (much faster than SGD from scratch) with a one-epoch warm-up and a cosine decay;
- small images (128 px): the cost grows with the pixel count, and the shapes stay >= ~12 px wide;
- small batches (8): at a fixed budget of images, more optimiser steps learn faster here;
- more images, fewer epochs (1,280 x 10 rather than 768 x 15 or 384 x 30, about the same cost):
  with few images the training loss goes to almost zero while validation mAP stalls. On the
  development CPU, seed 0, mAP@0.5 went from 0.62 (768 x 15) through 0.65 (1,024 x 12) to 0.72
  (1,280 x 10), and back to 0.69 at 1,536 x 8, where the epochs become too few;
- light augmentation (horizontal flips only): mosaic and strong scale jitter slow learning down in a
  run this short (and cost CPU time: mosaic ~20 ms per 416-px image, HSV jitter ~6 ms, a flip 0.5);
- a larger class weight than the reference (``cls_ratio = 0.5`` instead of ``K / 80 = 0.075``):
  with the reference's weight the class loss hardly moves in a few hundred steps, and telling a
  star from a cross is what the synthetic task is about;
- darknet's multi-anchor assignment (``anchor_threshold = 0.25``: every anchor of a level whose
  shape IoU with a box exceeds 0.25 also learns it), which gives more positives per image;
- anchors clustered on the data at the training size (k-means, ``1 - IoU``), all six used
  (``anchors_mask = [[3, 4, 5], [0, 1, 2]]``; the reference mask ``[[3, 4, 5], [1, 2, 3]]`` leaves
  anchor 0 out and is kept by the model for loading the reference's checkpoints);
- objectness and class biases of the prediction layers initialised to priors
  (:func:`init_prediction_biases`), so the first steps are not spent unlearning "every cell is an
  object".

The full profile keeps the same choices on a GPU at 320 px (3,000 images x 20 epochs), sized so that
one run takes about 4 minutes on a Colab T4 by the estimate of :mod:`attnlab.experiments.budget`
(a FLOP count and an assumed sustained rate; no GPU run has measured it yet), and Chapter 7's fifteen
runs about an hour. Chapters measure a few steps on their own device before training and print the
expected time (:func:`attnlab.experiments.budget.preflight`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "DetectorRecipe",
    "RECIPES",
    "detector_recipe",
    "TrainResult",
    "make_datasets",
    "fit_anchors",
    "build_model",
    "train_detector",
    "evaluate_detector",
    "model_config",
    "model_from_config",
    "load_trained",
]

#: mask that uses all six clustered anchors (the reference's [[3, 4, 5], [1, 2, 3]] leaves one out)
ALL_ANCHORS_MASK: tuple[tuple[int, ...], ...] = ((3, 4, 5), (0, 1, 2))


@dataclass(frozen=True)
class DetectorRecipe:
    """Everything that sizes and tunes one detector training run.

    The first five fields mirror :class:`attnlab.profiles.DetectorSize`.
    """

    image_size: int = 128
    n_train: int = 1280
    n_val: int = 128
    epochs: int = 10
    batch_size: int = 8
    n_test: int = 512  # held-out images of the "test" split: the final metrics of every run
    # optimisation
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.05
    grad_clip: float | None = 10.0
    # loss
    label_smoothing: float = 0.0
    ignore_threshold: float = 0.5
    anchor_threshold: float | None = 0.25
    box_ratio: float | None = None  # None: the reference's weights (see attnlab.detection.loss)
    obj_ratio: float | None = None
    cls_ratio: float | None = 0.5
    # data
    data_seed: int = 0
    flip_p: float = 0.5
    hsv: tuple[float, float, float] | None = None
    mosaic_p: float = 0.0
    anchors: str = "kmeans"  # "kmeans" (clustered on the training boxes) or "reference" (scaled)
    anchors_mask: tuple[tuple[int, ...], ...] = ALL_ANCHORS_MASK
    cache: bool | None = None  # keep generated images in memory (None: when they fit in 1 GiB)
    # evaluation
    eval_every: int = 5  # 0: only after the last epoch
    conf_threshold: float = 0.001
    nms_iou: float = 0.5

    def describe(self) -> str:
        return (
            f"{self.n_train} train / {self.n_val} val / {self.n_test} test images at {self.image_size}px, {self.epochs} epochs, "
            f"batch {self.batch_size}, {self.optimizer} lr {self.lr:g}"
        )


#: the recipe of each profile (``attnlab.get_profile().name``)
RECIPES: dict[str, DetectorRecipe] = {
    "quick": DetectorRecipe(),
    "full": DetectorRecipe(
        image_size=320, n_train=3000, n_val=500, n_test=1000, epochs=20, batch_size=32, lr=2e-3, warmup_epochs=2.0,
        eval_every=5, cache=True,
    ),
}


def detector_recipe(profile: Any = None, **overrides: Any) -> DetectorRecipe:
    """The recipe for ``profile`` (a :class:`~attnlab.profiles.Profile`, a name or ``None`` for
    :func:`attnlab.get_profile`), with ``overrides`` applied (unknown names raise ``TypeError``)."""
    from attnlab.profiles import Profile, get_profile

    if profile is None or isinstance(profile, str):
        profile = get_profile(profile)
    if not isinstance(profile, Profile):
        raise TypeError(f"detector_recipe: profile must be a Profile, a name or None, got {type(profile).__name__}")
    # The profile's detector sizes are the ones every notebook prints, so they are the ones used.
    d = profile.detector
    base = dataclasses.replace(
        RECIPES.get(profile.name, RECIPES["quick"]),
        image_size=d.image_size, n_train=d.n_train, n_val=d.n_val, epochs=d.epochs, batch_size=d.batch_size,
    )
    known = {f.name for f in dataclasses.fields(DetectorRecipe)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"detector_recipe: unknown setting(s) {unknown}; known: {sorted(known)}")
    if "anchors_mask" in overrides and overrides["anchors_mask"] is not None:
        overrides["anchors_mask"] = tuple(tuple(int(i) for i in m) for m in overrides["anchors_mask"])
    if "hsv" in overrides and overrides["hsv"] is not None:
        overrides["hsv"] = tuple(float(v) for v in overrides["hsv"])
    recipe = dataclasses.replace(base, **overrides)
    for name in ("n_train", "n_val", "n_test", "epochs", "batch_size"):
        value = getattr(recipe, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"detector_recipe: {name} must be an int >= 1, got {value!r}")
    size = recipe.image_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 32:
        raise ValueError(f"detector_recipe: image_size must be a positive multiple of 32, got {size!r}")
    return recipe


# --------------------------------------------------------------------------------------------
# pieces
# --------------------------------------------------------------------------------------------


def train_augmentation(recipe: DetectorRecipe, source: Any = None) -> Any:
    """The (light) training augmentation of a recipe: flips, optional HSV and mosaic."""
    from attnlab.data.transforms import Compose, HorizontalFlip, HSVJitter, Mosaic

    each = [HorizontalFlip(recipe.flip_p)] if recipe.flip_p > 0 else []
    if recipe.hsv is not None:
        each.append(HSVJitter(*recipe.hsv))
    single = Compose(each)
    if recipe.mosaic_p > 0 and source is not None:
        return Mosaic(source, recipe.image_size, recipe.mosaic_p, each=single, otherwise=single)
    return single if each else None


def make_datasets(recipe: DetectorRecipe, *, split_val: str = "val") -> tuple[Any, Any]:
    """``(train_set, val_set)`` of synthetic shapes for a recipe (augmentation on train only)."""
    from attnlab.data import ShapesDetection

    train_set = ShapesDetection(recipe.n_train, recipe.image_size, seed=recipe.data_seed, split="train", cache=recipe.cache)
    train_set.transform = train_augmentation(recipe, source=train_set)  # mosaic draws raw() images
    val_set = ShapesDetection(recipe.n_val, recipe.image_size, seed=recipe.data_seed, split=split_val)
    return train_set, val_set


def fit_anchors(dataset: Any, recipe: DetectorRecipe) -> torch.Tensor:
    """Six anchors ``(6, 2)`` in pixels at the recipe's image size.

    ``"kmeans"``: clustered on the dataset's boxes (deterministic); ``"reference"``: the
    reference's 416-pixel anchors scaled to the image size.
    """
    from attnlab.detection.anchors import YOLO_ANCHORS, scale_anchors

    if recipe.anchors == "reference":
        return scale_anchors(YOLO_ANCHORS, recipe.image_size)
    if recipe.anchors != "kmeans":
        raise ValueError(f"recipe.anchors must be 'kmeans' or 'reference', got {recipe.anchors!r}")
    from attnlab.data.anchors import dataset_wh, kmeans_anchors

    wh = dataset_wh(dataset)
    result = kmeans_anchors(wh, 6, seed=0)
    return torch.as_tensor(np.round(result.anchors, 1), dtype=torch.float32)


def model_config(model: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """What it takes to rebuild ``model`` (stored in every checkpoint under ``extra``)."""
    h, w = model.input_size
    return {
        "num_classes": int(model.num_classes),
        "attention": str(model.attention),
        "anchors": [[float(a) for a in row] for row in model.anchors.tolist()],
        "anchors_mask": [list(m) for m in model.anchors_mask],
        "input_size": [int(h), int(w)],
        "class_names": list(class_names),
    }


def model_from_config(config: Mapping[str, Any]) -> Any:
    """A fresh :class:`~attnlab.models.YoloV4Tiny` built from :func:`model_config`'s dict."""
    from attnlab.models import YoloV4Tiny

    size = config.get("input_size", 416)
    return YoloV4Tiny(
        int(config["num_classes"]),
        attention=config.get("attention", "none"),
        anchors=config.get("anchors"),
        anchors_mask=config.get("anchors_mask"),
        input_size=tuple(size) if isinstance(size, (list, tuple)) else int(size),
    )


def build_model(attention: str | int, num_classes: int, anchors: torch.Tensor, recipe: DetectorRecipe) -> Any:
    """YOLOv4-tiny for a recipe; the prediction biases start at a low objectness and an even class
    prior, so that the first steps are not spent unlearning half of the cells being objects."""
    from attnlab.models import YoloV4Tiny

    model = YoloV4Tiny(num_classes, attention=attention, anchors=anchors, anchors_mask=recipe.anchors_mask, input_size=recipe.image_size)
    init_prediction_biases(model)
    return model


def init_prediction_biases(model: Any, objects_per_image: float = 4.0) -> None:
    """Initialise the two prediction layers' biases with priors (as YOLOv5 does).

    Objectness: ``log(p / (1 - p))`` with ``p`` about ``objects_per_image`` over the number of
    cells and anchors of a level; classes: ``log(1 / (K - 1))``, i.e. probability ``1 / K``.
    """
    k = model.num_classes
    h, w = model.input_size
    for layer, stride, mask in zip(model.prediction_layers(), model.strides, model.anchors_mask):
        na = len(mask)
        cells = (h // stride) * (w // stride) * na
        p = min(0.5, objects_per_image / cells)
        with torch.no_grad():
            b = layer.bias.view(na, 5 + k)
            b[:, 4] = float(np.log(p / (1 - p)))
            b[:, 5:] = float(np.log(1.0 / max(k - 1, 1)))


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_detector(
    model: Any,
    dataset: Any,
    *,
    batch_size: int = 32,
    conf_threshold: float = 0.001,
    nms_iou: float = 0.5,
    device: str | torch.device | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """mAP of ``model`` on ``dataset`` (items ``(image (3, H, W), boxes (N, 5))``, one size).

    Detections are decoded with a low confidence threshold (0.001, as mAP needs the whole
    precision-recall curve) and class-aware NMS at IoU 0.5, like the reference's ``get_map.py``.

    Returns:
        the :class:`attnlab.metrics.DetectionMetrics` dict: ``map50`` (VOC all-point),
        ``map50_voc11`` (VOC07 11-point), ``map`` (COCO 0.5:0.95), ``per_class`` and more.
    """
    from attnlab.data.loader import make_loader, split_targets
    from attnlab.detection.decode import decode
    from attnlab.metrics import DetectionMetrics

    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else "cpu"
    device = torch.device(device)
    names = list(class_names or getattr(dataset, "class_names", None) or [str(i) for i in range(model.num_classes)])
    metrics = DetectionMetrics(model.num_classes, names)
    was_training = model.training
    model.eval()
    try:
        for images, targets in make_loader(dataset, batch_size, shuffle=False, num_workers=0):
            images = images.to(device)
            outputs = model(images)
            dets = decode(
                outputs, model.num_classes, tuple(images.shape[-2:]), model.anchors, model.anchors_mask,
                conf_threshold=conf_threshold, nms_iou=nms_iou, max_detections=100,
            )
            for det, gt in zip(dets, split_targets(targets, len(images))):
                metrics.update(det.boxes.cpu(), det.scores.cpu(), det.labels.cpu(), gt[:, :4], gt[:, 4].long())
    finally:
        model.train(was_training)
    return metrics.compute()


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What :func:`train_detector` returns.

    Attributes:
        history: one dict per epoch (``train_loss``, ``train_box``, ``train_obj``, ``train_cls``,
            ``lr``, ``seconds`` and, on evaluated epochs, ``val_map50``, ``val_map50_voc11``,
            ``val_map``).
        model: the trained :class:`~attnlab.models.YoloV4Tiny` (eval mode, on the training device).
        seconds: wall-clock seconds of the whole call (data, anchors, training, evaluation).
        cpu_seconds: CPU seconds this process used meanwhile (all threads).
        metrics: the trained model on the held-out **test** split (``recipe.n_test`` images that
            neither training nor validation saw): the numbers to report (see
            :func:`evaluate_detector`).
        val_metrics: the last evaluation on the validation split, made during training (the
            ``val_*`` entries of ``history`` come from it).
        recipe: the recipe used.
        attention, seed, device: as trained.
        mode, mode_reason: how the training step ran and why (:mod:`attnlab.train.speed`).
        val_set, test_set: the validation and test datasets (for more evaluation or pictures).
    """

    history: list[dict[str, Any]]
    model: Any
    seconds: float
    cpu_seconds: float
    metrics: dict[str, Any]
    recipe: DetectorRecipe
    attention: str
    seed: int
    device: str
    val_set: Any = field(default=None, repr=False)
    config: dict[str, Any] = field(default_factory=dict)
    mode: str = "eager"
    mode_reason: str = ""
    val_metrics: dict[str, Any] = field(default_factory=dict)
    test_set: Any = field(default=None, repr=False)

    @property
    def map50(self) -> float:
        return float(self.metrics.get("map50", float("nan")))

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no model)."""
        m = self.metrics
        return {
            "attention": self.attention,
            "seed": self.seed,
            "device": self.device,
            "mode": self.mode,
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "recipe": dataclasses.asdict(self.recipe),
            "model": self.config,
            "metrics": {k: m.get(k) for k in ("map50", "map50_voc11", "map", "map75", "num_detections", "num_ground_truth")},
            "per_class": m.get("per_class", []),
            "history": self.history,
        }


def train_detector(
    attention: str | int = "none",
    *,
    profile: Any = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    mode: str = "auto",
    **overrides: Any,
) -> TrainResult:
    """Train YOLOv4-tiny with ``attention`` on the synthetic shapes; see the module docstring.

    Args:
        attention: ``"none"``, ``"se"``, ``"cbam"``, ``"eca"``, ``"ca"``, ``"simam"`` or a phi.
        profile: a :class:`~attnlab.profiles.Profile`, ``"quick"``/``"full"`` or ``None``
            (:func:`attnlab.get_profile`); chooses the recipe in :data:`RECIPES`.
        seed: seeds the weights' initialisation, the batch order and the augmentation.
        device: default the profile's device.
        progress: show a progress bar.
        checkpoint_dir: where the trainer writes ``last.pt``, ``best.pt`` and ``history.json``.
        resume: continue from ``checkpoint_dir/last.pt`` when it exists.
        mode: how the training step runs (the :class:`~attnlab.train.Trainer`'s ``mode``):
            ``"auto"`` (the fastest measured for this device and recipe), ``"off"``, or one of
            :data:`attnlab.train.speed.MODES`. It changes the speed, not the recipe: the last
            digits of a run may differ between modes, its distribution over seeds does not.
        **overrides: any :class:`DetectorRecipe` field (``epochs=2``, ``image_size=64`` ...).

    Deterministic on a CPU for a given seed, recipe and number of torch threads.
    """
    from attnlab.data.loader import make_loader
    from attnlab.detection.loss import YoloLoss
    from attnlab.models.yolo import attention_name
    from attnlab.profiles import Profile, get_profile
    from attnlab.bench import jsonable
    from attnlab.train.trainer import Trainer

    start, cpu_start = time.perf_counter(), time.process_time()
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    recipe = detector_recipe(prof, **overrides)
    device = torch.device(device if device is not None else prof.device)
    attention = attention_name(attention)

    if resume and checkpoint_dir is not None:
        _check_resumable(Path(checkpoint_dir), recipe, attention)

    # 1-3. data and anchors (the same for every seed and attention variant)
    train_set, val_set = make_datasets(recipe)
    anchors = fit_anchors(train_set, recipe)
    class_names = list(train_set.class_names)

    # 4. the model, initialised from the seed
    torch.manual_seed(seed)
    model = build_model(attention, len(class_names), anchors, recipe)
    loss_fn = YoloLoss(
        len(class_names), anchors, recipe.anchors_mask, recipe.image_size,
        label_smoothing=recipe.label_smoothing, ignore_threshold=recipe.ignore_threshold,
        anchor_threshold=recipe.anchor_threshold, box_ratio=recipe.box_ratio, obj_ratio=recipe.obj_ratio,
        cls_ratio=recipe.cls_ratio,
    )

    # 5. training, with mAP every eval_every epochs and after the last
    loader = make_loader(train_set, recipe.batch_size, shuffle=True, seed=seed, drop_last=len(train_set) > recipe.batch_size)
    last_metrics: dict[str, Any] = {}

    def evaluate(m: Any) -> dict[str, Any]:
        return evaluate_detector(m, val_set, batch_size=max(recipe.batch_size, 32), conf_threshold=recipe.conf_threshold,
                                 nms_iou=recipe.nms_iou, device=device, class_names=class_names)

    def val_fn(m: Any) -> dict[str, float]:
        epoch = trainer.epoch + 1  # the epoch just trained (1-based)
        if epoch < recipe.epochs and not (recipe.eval_every and epoch % recipe.eval_every == 0):
            return {}
        metrics = evaluate(m)
        last_metrics.clear()
        last_metrics.update(metrics)
        return {k: metrics[k] for k in ("map50", "map50_voc11", "map")}

    config = model_config(model, class_names)
    trainer = Trainer(
        model, loss_fn, loader, val_fn=val_fn, optimizer=recipe.optimizer, lr=recipe.lr,
        weight_decay=recipe.weight_decay, momentum=recipe.momentum, epochs=recipe.epochs,
        warmup_epochs=recipe.warmup_epochs, min_lr_ratio=recipe.min_lr_ratio, grad_clip=recipe.grad_clip,
        device=device, checkpoint_dir=checkpoint_dir, seed=seed, progress=progress, mode=mode,
        image_size=recipe.image_size, best_metric="val_map50", extra={"model": config, "recipe": jsonable(dataclasses.asdict(recipe))},
    )
    history = trainer.fit(resume=resume)
    if not last_metrics:  # resumed after the last epoch: evaluate now
        last_metrics = evaluate(model)
    # 6. the numbers to report: the final model on the held-out test split
    from attnlab.data import ShapesDetection

    test_set = ShapesDetection(recipe.n_test, recipe.image_size, seed=recipe.data_seed, split="test")
    test_metrics = evaluate_detector(model, test_set, batch_size=max(recipe.batch_size, 32),
                                     conf_threshold=recipe.conf_threshold, nms_iou=recipe.nms_iou, device=device,
                                     class_names=class_names)
    model.eval()
    return TrainResult(
        # a resumed run's time includes the earlier segments' training time
        history=history, model=model, seconds=time.perf_counter() - start + trainer.resumed_seconds,
        cpu_seconds=time.process_time() - cpu_start + trainer.resumed_cpu_seconds,
        metrics=test_metrics, recipe=recipe, attention=attention, seed=seed, device=str(device), val_set=val_set,
        config=config, val_metrics=last_metrics, test_set=test_set, mode=trainer.mode,
        mode_reason=trainer.mode_reason,
    )


#: recipe fields a resumed run may change (the rest shape the data, anchors or model)
RESUME_MAY_CHANGE = ("epochs", "eval_every", "conf_threshold", "nms_iou", "cache")


def _check_resumable(checkpoint_dir: Path, recipe: DetectorRecipe, attention: str) -> None:
    """Refuse to resume ``checkpoint_dir/last.pt`` with settings that would change the data,
    the anchors (clustered at the image size) or the model, instead of silently mixing them."""
    from attnlab.bench import jsonable
    from attnlab.train.checkpoint import load_checkpoint

    path = checkpoint_dir / "last.pt"
    if not path.exists():
        return
    extra = load_checkpoint(path).get("extra") or {}
    saved, now = dict(extra.get("recipe") or {}), jsonable(dataclasses.asdict(recipe))
    changed = {k: (saved[k], v) for k, v in now.items() if k in saved and k not in RESUME_MAY_CHANGE and saved[k] != v}
    old_attention = (extra.get("model") or {}).get("attention", attention)
    if old_attention != attention:
        changed["attention"] = (old_attention, attention)
    if changed:
        listed = ", ".join(f"{k} {old!r} (checkpoint) vs {new!r} (now)" for k, (old, new) in sorted(changed.items()))
        raise ValueError(
            f"train_detector: cannot resume {path}: {listed}; resume with the checkpoint's settings or start "
            "afresh in another folder (CLI: --overwrite)"
        )


def load_trained(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild a model from a checkpoint written by :func:`train_detector` (``last.pt`` or
    ``best.pt``, or a folder holding them: ``best.pt`` preferred). Returns ``(model, config)``."""
    from attnlab.train.checkpoint import load_checkpoint

    path = checkpoint_file(path)
    return model_from_checkpoint(load_checkpoint(path, map_location="cpu"), device, source=path)


def checkpoint_file(path: str | os.PathLike) -> Path:
    """A run folder's checkpoint (``best.pt`` when it exists, else ``last.pt``), or ``path`` itself."""
    path = Path(path)
    if path.is_dir():
        return path / "best.pt" if (path / "best.pt").exists() else path / "last.pt"
    return path


def model_from_checkpoint(ckpt: Mapping[str, Any], device: str | torch.device = "cpu", *,
                          source: Any = "checkpoint") -> tuple[Any, dict[str, Any]]:
    """``(model, config)`` from a checkpoint dict already read (see :func:`load_trained`)."""
    config = dict((ckpt.get("extra") or {}).get("model") or {})
    if not config:
        raise ValueError(f"load_trained: {source} has no model configuration (not written by train_detector?)")
    model = model_from_config(config)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), config
