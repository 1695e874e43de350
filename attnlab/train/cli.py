"""``python -m attnlab train | eval | predict | export``: the detector from the command line.

Every command runs out of the box on the synthetic shapes and writes what it produced into an
output folder (JSON always, a PNG where a picture helps)::

    python -m attnlab train --attention se                 # -> runs/se_seed0/{results.json,curves.png,best.pt,...}
    python -m attnlab eval --checkpoint runs/se_seed0      # -> runs/se_seed0/eval_val.json
    python -m attnlab predict --checkpoint runs/se_seed0 --demo shapes    # -> runs/predict/*.png, *.json
    python -m attnlab export --checkpoint runs/se_seed0    # -> runs/se_seed0/model.onnx

``train`` prints the experiment profile it runs under (``quick`` on a CPU, ``full`` on a GPU;
``--profile`` or ``$ATTNLAB_PROFILE`` choose) and the recipe's sizes; any size can be overridden.

Nothing is overwritten or replaced behind your back: ``train`` into a folder that already holds a
run needs ``--resume`` (continue it) or ``--overwrite`` (start again); a ``--checkpoint`` that does
not exist is an error; ``predict``/``export`` use an untrained model only when asked
(``--untrained``). A bad argument or input ends with one line on stderr and exit status 2; add
``--debug`` for the full traceback.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from attnlab.__main__ import report_errors

__all__ = ["train_main", "eval_main", "predict_main", "export_main", "plot_history"]

DEFAULT_RUN = Path("runs") / "none_seed0"
DEMO_IMAGES = ("shapes", "astronaut", "chelsea", "coffee", "camera", "rocket")
#: the files ``train`` writes into its output folder (what ``--overwrite`` removes first)
RUN_FILES = ("last.pt", "best.pt", "history.json", "results.json", "curves.png")


class CLIError(ValueError):
    """A user error found by the command line itself (bad combination of flags, missing file)."""


def _cli(command: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Decorator: the command's errors as one line and exit status 2 (see :func:`report_errors`)."""

    def wrap(func: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(func)
        def main(argv: Sequence[str] | None = None) -> int:
            return report_errors(command, func, argv)

        return main

    return wrap


# argparse types that name what they expect (argparse adds "argument --flag: " in front)
def _int_at_least(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an int >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be an int >= {lo}, got {text!r}")
        return value

    parse.__name__ = f"int >= {lo}"
    return parse


def _float_in(lo: float, hi: float | None, *, lo_open: bool = False) -> Callable[[str], float]:
    bounds = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}]" if hi is not None else (f"> {lo:g}" if lo_open else f">= {lo:g}")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (hi is None or value <= hi)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text!r}")
        return value

    parse.__name__ = f"number {bounds}"
    return parse


def _image_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 32 or value % 32:
        raise argparse.ArgumentTypeError(f"must be a positive multiple of 32, got {text!r}")
    return value


_PROBABILITY = _float_in(0.0, 1.0)


def _write_json(path: Path, payload: Any) -> Path:
    from attnlab.bench import jsonable, write_json

    return write_json(path, jsonable(payload))


def plot_history(history: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Save the loss components per epoch and the validation mAP@0.5 as one PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [h["epoch"] for h in history]
    for key, style in (("train_loss", "-"), ("train_box", "--"), ("train_obj", "--"), ("train_cls", "--")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax1.plot(epochs, values, style, marker="o", ms=3, label=key.replace("train_", ""))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax1.legend(fontsize=8)
    points = [(h["epoch"], h["val_map50"]) for h in history if h.get("val_map50") is not None]
    if points:
        ax2.plot(*zip(*points), marker="o", label="mAP@0.5")
    points = [(h["epoch"], h["val_map"]) for h in history if h.get("val_map") is not None]
    if points:
        ax2.plot(*zip(*points), marker="s", label="mAP@0.5:0.95")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except where there is none to show or the help already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS or "default" in text:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=f"python -m attnlab {command}", description=description, formatter_class=_Formatter)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return parser


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------

# recipe fields settable from the command line: flag -> (field, type)
_RECIPE_FLAGS: dict[str, tuple[str, Any]] = {
    "--image-size": ("image_size", _image_size),
    "--n-train": ("n_train", _int_at_least(1)),
    "--n-val": ("n_val", _int_at_least(1)),
    "--n-test": ("n_test", _int_at_least(1)),
    "--epochs": ("epochs", _int_at_least(1)),
    "--batch-size": ("batch_size", _int_at_least(1)),
    "--lr": ("lr", _float_in(0.0, None, lo_open=True)),
    "--optimizer": ("optimizer", str),
    "--weight-decay": ("weight_decay", _float_in(0.0, None)),
    "--warmup-epochs": ("warmup_epochs", _float_in(0.0, None)),
    "--label-smoothing": ("label_smoothing", _float_in(0.0, 1.0)),
    "--cls-ratio": ("cls_ratio", _float_in(0.0, None)),
    "--anchor-threshold": ("anchor_threshold", _PROBABILITY),
    "--mosaic": ("mosaic_p", _PROBABILITY),
    "--eval-every": ("eval_every", _int_at_least(0)),
    "--anchors": ("anchors", str),
    "--data-seed": ("data_seed", _int_at_least(0)),
}
_RECIPE_CHOICES = {"optimizer": ("sgd", "adamw"), "anchors": ("kmeans", "reference")}


@_cli("train")
def train_main(argv: Sequence[str] | None = None) -> int:
    """``python -m attnlab train``: train YOLOv4-tiny on the synthetic shapes."""
    from attnlab.train.speed import MODES  # imports torch, as training does anyway

    parser = _parser("train", "Train YOLOv4-tiny (optionally with attention) on the synthetic shapes; "
                     "sizes come from the profile's recipe unless given here.")
    parser.add_argument("--attention", default="none", help="none, se, cbam, eca, ca, simam, or a phi 0..4")
    parser.add_argument("--profile", choices=["quick", "full"], default=None, help="default: $ATTNLAB_PROFILE, else by device")
    parser.add_argument("--seed", type=_int_at_least(0), default=0, help="weights, batch order and augmentation")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: the profile's)")
    parser.add_argument("--out", default=None, help="output folder (default runs/<attention>_seed<seed>)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.pt if it exists")
    parser.add_argument("--overwrite", action="store_true", help="replace the run already in <out> (its "
                        + ", ".join(RUN_FILES) + " are deleted first)")
    parser.add_argument("--threads", type=_int_at_least(1), default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--mode", choices=("auto", "off", *MODES), default="auto",
                        help="how the training step runs: auto (the fastest measured for the device, see "
                             "`python -m attnlab bench train`), off (plain eager), or a mode")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-plot", action="store_true", help="do not draw curves.png")
    for flag, (name, kind) in _RECIPE_FLAGS.items():
        parser.add_argument(flag, dest=name, type=kind, default=None, choices=_RECIPE_CHOICES.get(name),
                            help=f"recipe {name} (default: the profile's recipe)")
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other: continue the run, or replace it")

    import torch

    from attnlab.models.yolo import attention_name
    from attnlab.profiles import get_profile
    from attnlab.train.recipes import detector_recipe, train_detector

    if args.threads:
        torch.set_num_threads(args.threads)
    attention = attention_name(args.attention)
    profile = get_profile(args.profile, device=args.device)
    overrides = {name: getattr(args, name) for name, _ in _RECIPE_FLAGS.values() if getattr(args, name) is not None}
    recipe = detector_recipe(profile, **overrides)
    out = Path(args.out) if args.out else Path("runs") / f"{attention}_seed{args.seed}"
    _prepare_run_folder(out, resume=args.resume, overwrite=args.overwrite)
    print(profile.describe())
    print(f"recipe: {recipe.describe()}; attention {attention}; seed {args.seed}; output {out}")

    result = train_detector(
        attention, profile=profile, seed=args.seed, device=profile.device, progress=not args.no_progress,
        checkpoint_dir=out, resume=args.resume, mode=args.mode, **overrides,
    )
    print(f"training step: {result.mode_reason}")
    summary = result.summary()
    summary["profile"] = profile.name
    _write_json(out / "results.json", summary)
    if not args.no_plot:
        plot_history(result.history, out / "curves.png", title=f"YOLOv4-tiny, attention {attention}, seed {args.seed}")
    m = result.metrics
    print(
        f"mAP@0.5 {m.get('map50', float('nan')):.3f} (VOC07 11-point {m.get('map50_voc11', float('nan')):.3f}, "
        f"COCO mAP@0.5:0.95 {m.get('map', float('nan')):.3f}) in {result.seconds:.0f} s "
        f"({result.cpu_seconds:.0f} CPU s); results in {out / 'results.json'}"
    )
    return 0


def _prepare_run_folder(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to train over an existing run unless told what to do with it."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file; expected a folder for the run")
    present = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if not (out / "last.pt").exists():
            print(f"--resume: no checkpoint in {out} (no last.pt): starting a new run there")
            if present:
                raise CLIError(f"--resume: {out} holds {', '.join(present)} but no last.pt to continue from; "
                               "pass --overwrite to start again there")
        return
    if present and not overwrite:
        raise CLIError(f"--out {out} already holds a run ({', '.join(present)}); pass --resume to continue it or "
                       "--overwrite to replace it")
    for name in present:
        (out / name).unlink()
    if present:
        print(f"--overwrite: removed {', '.join(present)} from {out}")


# --------------------------------------------------------------------------------------------
# loading a trained model
# --------------------------------------------------------------------------------------------


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that describe a bare state_dict (a checkpoint without attnlab's model configuration)."""
    from attnlab.models.yolo import ATTENTION_PHI

    group = parser.add_argument_group(
        "a bare state_dict", "For a checkpoint that holds only weights, such as the reference project's published "
        ".pth files: say what model it is. (attnlab's own checkpoints carry this and need none of it.)")
    group.add_argument("--attention", choices=[*ATTENTION_PHI, "simam"], default=None, help="its attention")
    group.add_argument("--phi", type=int, choices=sorted(ATTENTION_PHI.values()), default=None,
                       help="its attention as the reference project numbers it (0 none, 1 SE, 2 CBAM, 3 ECA, 4 CA)")
    group.add_argument("--classes", default=None,
                       help="its class names: voc (20), coco (80), or a text file with one name per line")
    group.add_argument("--num-classes", type=_int_at_least(1), default=None,
                       help="its class count, when the names do not matter (they become class0, class1, ...)")


def _class_names(classes: str | None, num_classes: int | None) -> list[str] | None:
    """``--classes voc|coco|FILE`` and ``--num-classes N`` as a list of names (None: neither given)."""
    names = None
    if classes in ("voc", "coco"):
        from attnlab.detection.published import class_names

        names = list(class_names(classes))
    elif classes is not None:
        path = Path(classes)
        if not path.is_file():
            raise CLIError(f"--classes {classes}: expected voc, coco or a text file with one class name per line")
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if not names:
            raise CLIError(f"--classes {classes}: the file holds no class names")
    if names is not None and num_classes is not None and num_classes != len(names):
        raise CLIError(f"--num-classes {num_classes} contradicts --classes {classes} ({len(names)} names)")
    if names is None and num_classes is not None:
        names = [f"class{i}" for i in range(num_classes)]
    return names


def _bare_spec(args: argparse.Namespace) -> dict[str, Any]:
    from attnlab.models.yolo import ATTENTION_PHI

    attention = args.attention
    if args.phi is not None:
        by_phi = {v: k for k, v in ATTENTION_PHI.items()}[args.phi]
        if attention is not None and attention != by_phi:
            raise CLIError(f"--phi {args.phi} ({by_phi}) contradicts --attention {attention}")
        attention = by_phi
    return {"attention": attention, "class_names": _class_names(args.classes, args.num_classes)}


def _load_model(checkpoint: str | None, device: str, *, num_classes: int = 6, input_size: int | None = None,
                allow_untrained: bool = False, untrained_flag: bool = False,
                bare: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any], bool]:
    """``(model, config, trained)`` from a checkpoint path or run folder (``best.pt`` preferred).

    A ``checkpoint`` that does not exist is an error (never a fallback). Without one, the default
    run folder is used; an untrained model for the synthetic shapes only with ``allow_untrained``
    (the ``--untrained`` flag), and then with a warning. A checkpoint without attnlab's model
    configuration (a bare state_dict) is built from ``bare`` (``--attention``/``--phi`` and
    ``--classes``/``--num-classes``) and loaded strictly.
    """
    from attnlab.train.checkpoint import load_checkpoint as read_checkpoint
    from attnlab.train.recipes import checkpoint_file, model_config, model_from_checkpoint

    bare = bare or {}
    if checkpoint and allow_untrained:
        raise CLIError("--checkpoint and --untrained exclude each other")
    path = Path(checkpoint) if checkpoint else DEFAULT_RUN
    exists = path.is_file() or (path.is_dir() and ((path / "best.pt").exists() or (path / "last.pt").exists()))
    if exists:
        file = checkpoint_file(path)
        raw = read_checkpoint(file, map_location="cpu")
        if (raw.get("extra") or {}).get("model"):
            if bare.get("attention") is not None or bare.get("class_names") is not None:
                raise CLIError(f"--checkpoint {path} carries its model configuration; --attention, --phi, "
                               "--classes and --num-classes are only for bare state_dicts")
            model, config = model_from_checkpoint(raw, device, source=file)   # read once
            return model, config, True
        if bare.get("attention") is None or bare.get("class_names") is None:
            raise CLIError(
                f"--checkpoint {path} holds only weights (a bare state_dict, e.g. the reference project's .pth): "
                "say its attention with --phi 0-4 or --attention, and its classes with --classes voc|coco|FILE "
                "or --num-classes N")
        from attnlab.models import YoloV4Tiny, load_checkpoint

        names = bare["class_names"]
        model = YoloV4Tiny(len(names), attention=bare["attention"], input_size=input_size or 416)
        load_checkpoint(model, raw, strict=True)
        return model.to(device).eval(), model_config(model, names), True
    if checkpoint:
        what = "a folder without best.pt or last.pt" if path.is_dir() else "no such file or folder"
        raise CLIError(f"--checkpoint {path}: {what}; expected a run folder or a .pt file "
                       f"(train one with `python -m attnlab train --out {path}`)")
    if not allow_untrained:
        raise CLIError(f"no --checkpoint given and no run at {DEFAULT_RUN}; run `python -m attnlab train` first, "
                       "pass --checkpoint" + (", or --untrained to try an untrained model" if untrained_flag else ""))
    from attnlab.data.shapes import CLASS_NAMES
    from attnlab.models import YoloV4Tiny

    warnings.warn("--untrained: using an UNTRAINED model (train one with `python -m attnlab train`)", stacklevel=2)
    model = YoloV4Tiny(num_classes, input_size=input_size or 416).to(device).eval()
    return model, model_config(model, list(CLASS_NAMES[:num_classes])), False


def _device(name: str | None) -> str:
    import torch

    return name or ("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------------------------


@_cli("eval")
def eval_main(argv: Sequence[str] | None = None) -> int:
    """``python -m attnlab eval``: mAP of a trained checkpoint on synthetic images."""
    parser = _parser("eval", "Evaluate a checkpoint (mAP@0.5 VOC and 11-point, COCO mAP@0.5:0.95) on synthetic "
                     "shapes it was not trained on; writes JSON.")
    parser.add_argument("--checkpoint", default=None, help=f"run folder or .pt file (default {DEFAULT_RUN})")
    parser.add_argument("--split", default="val", help="which split: val or test of the synthetic shapes, or a "
                        "VOC split with --voc (e.g. test)")
    parser.add_argument("--n", type=_int_at_least(1), default=None, help="number of images (default: the recipe's n_val)")
    parser.add_argument("--data-seed", type=_int_at_least(0), default=None, help="data seed (default: the recipe's)")
    parser.add_argument("--image-size", type=_image_size, default=None, help="default: the model's input size")
    parser.add_argument("--conf", type=_PROBABILITY, default=0.001, help="confidence threshold for mAP")
    parser.add_argument("--nms", type=_PROBABILITY, default=0.5, help="NMS IoU threshold")
    parser.add_argument("--batch-size", type=_int_at_least(1), default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=None, help="JSON file (default <checkpoint folder>/eval_<split>.json)")
    parser.add_argument("--voc", default=None, metavar="ROOT",
                        help="evaluate on a VOC-format folder instead (e.g. VOCdevkit/VOC2007), in each image's own "
                        "pixels with difficult objects ignored; --split names its ImageSets/Main split")
    _add_model_flags(parser)
    args = parser.parse_args(argv)

    from attnlab.data import ShapesDetection
    from attnlab.train.checkpoint import load_checkpoint
    from attnlab.train.recipes import checkpoint_file, evaluate_detector

    device = _device(args.device)
    model, config, _ = _load_model(args.checkpoint, device, input_size=args.image_size, bare=_bare_spec(args))
    ckpt_path = Path(args.checkpoint) if args.checkpoint else DEFAULT_RUN
    folder = ckpt_path if ckpt_path.is_dir() else ckpt_path.parent
    recipe: dict[str, Any] = {}
    ck_file = checkpoint_file(ckpt_path)
    if args.voc is not None:
        from attnlab.data import VOCDetection
        from attnlab.train.voc import evaluate_voc

        dataset = VOCDetection(args.voc, args.split, config.get("class_names"))
        size = args.image_size or int(config["input_size"][0])
        print(f"evaluating {ck_file} on {len(dataset)} images of {args.voc} ({args.split}) at {size}px")
        metrics = evaluate_voc(model, dataset, image_size=size, conf_threshold=args.conf, nms_iou=args.nms,
                               device=device)
        out = Path(args.out) if args.out else folder / f"eval_voc_{args.split}.json"
        _write_json(out, {"checkpoint": str(ck_file), "voc": str(args.voc), "split": args.split, "n": len(dataset),
                          "image_size": size, "conf_threshold": args.conf, "nms_iou": args.nms, "model": config,
                          "metrics": metrics})
        print(f"VOC mAP@0.5 {metrics['map50']:.3f}  VOC07 11-point {metrics['map50_voc11']:.3f}; written to {out}")
        return 0
    if len(config.get("class_names") or []) != 6:
        raise CLIError(f"--checkpoint {ckpt_path} detects {len(config.get('class_names') or [])} classes; eval scores "
                       "the 6 synthetic shapes unless --voc ROOT names a VOC-format folder")
    recipe = dict((load_checkpoint(ck_file).get("extra") or {}).get("recipe") or {})  # may be absent: defaults
    size = args.image_size or int(config["input_size"][0])
    n = args.n if args.n is not None else int(recipe.get("n_val", 128))
    data_seed = args.data_seed if args.data_seed is not None else int(recipe.get("data_seed", 0))
    if args.split not in ("val", "test"):
        raise CLIError(f"--split {args.split}: the synthetic shapes have the splits val and test (other names need --voc)")
    dataset = ShapesDetection(n, size, seed=data_seed, split=args.split)
    print(f"evaluating {ck_file} on {n} {args.split} images at {size}px (data seed {data_seed})")
    metrics = evaluate_detector(model, dataset, batch_size=args.batch_size, conf_threshold=args.conf, nms_iou=args.nms,
                                device=device, class_names=config.get("class_names"))
    out = Path(args.out) if args.out else folder / f"eval_{args.split}.json"
    _write_json(out, {"checkpoint": str(ck_file), "split": args.split, "n": n, "image_size": size,
                      "data_seed": data_seed, "conf_threshold": args.conf, "nms_iou": args.nms, "model": config,
                      "metrics": metrics})
    print(f"mAP@0.5 {metrics['map50']:.3f}  VOC07 11-point {metrics['map50_voc11']:.3f}  "
          f"COCO mAP@0.5:0.95 {metrics['map']:.3f}; written to {out}")
    return 0


# --------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------


def _demo_image(name: str, size: int) -> Any:
    if name == "shapes":
        from attnlab.data.shapes import image_rng, make_detection_image

        return make_detection_image(image_rng(0, "test", 0), size)[0]
    from skimage import data

    return getattr(data, name)()


@_cli("predict")
def predict_main(argv: Sequence[str] | None = None) -> int:
    """``python -m attnlab predict``: detect objects in images, write annotated PNGs and JSON."""
    parser = _parser("predict", "Detect objects in images with a trained checkpoint; writes an annotated PNG and a "
                     "JSON file per image.")
    parser.add_argument("images", nargs="*", help="image files (PNG, JPEG, ...)")
    parser.add_argument("--demo", nargs="?", const="shapes", default=None, choices=DEMO_IMAGES,
                        help="use a built-in image: a synthetic shapes image or a scikit-image photo")
    parser.add_argument("--checkpoint", default=None, help=f"run folder or .pt file (default {DEFAULT_RUN})")
    parser.add_argument("--untrained", action="store_true", help="no checkpoint: use an untrained model (a demo of "
                        "the pipeline; its boxes mean nothing)")
    parser.add_argument("--conf", type=_PROBABILITY, default=0.3, help="confidence threshold")
    parser.add_argument("--nms", type=_PROBABILITY, default=0.3, help="NMS IoU threshold")
    parser.add_argument("--input-size", type=_image_size, default=None, help="network input size (default: the model's)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=str(Path("runs") / "predict"), help="output folder")
    parser.add_argument("--no-letterbox", action="store_true",
                        help="resize to the input size without keeping the aspect ratio (the reference predictor's default)")
    _add_model_flags(parser)
    args = parser.parse_args(argv)
    if not args.images and not args.demo:
        parser.error("give image paths or --demo")
    for p in args.images:  # before loading anything
        if Path(p).is_dir():
            raise CLIError(f"images: {p} is a folder; expected image files (e.g. {p}/*.jpg)")
        if not Path(p).is_file():
            raise CLIError(f"images: no such file: {p}")

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from attnlab.detection.predictor import Predictor, load_image
    from attnlab.viz.detections import draw_detections

    device = _device(args.device)
    model, config, trained = _load_model(args.checkpoint, device, allow_untrained=args.untrained, untrained_flag=True,
                                         input_size=args.input_size, bare=_bare_spec(args))
    predictor = Predictor(model, config.get("class_names"), input_size=args.input_size, conf_threshold=args.conf,
                          nms_iou=args.nms, device=device, letterbox=not args.no_letterbox)
    size = predictor.input_size[0]
    inputs: list[tuple[str, Any]] = [(Path(p).stem, p) for p in args.images]
    if args.demo:
        inputs.append((f"demo_{args.demo}", _demo_image(args.demo, size)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, source in inputs:
        image = load_image(source)
        result = predictor(image)
        fig, ax = plt.subplots(figsize=(6, 6 * image.shape[0] / max(image.shape[1], 1)))
        draw_detections(image, result, ax=ax, title=f"{name}: {len(result)} detections")
        ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=100)
        plt.close(fig)
        _write_json(out / f"{name}.json", {"image": str(source) if isinstance(source, (str, Path)) else name,
                                           "image_size": list(result.image_size), "trained": trained,
                                           "conf_threshold": args.conf, "nms_iou": args.nms,
                                           "detections": result.to_records()})
        print(f"{name}: {len(result)} detections -> {out / (name + '.png')}")
    return 0


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


@_cli("export")
def export_main(argv: Sequence[str] | None = None) -> int:
    """``python -m attnlab export``: write a checkpoint as ONNX (plus a JSON with its configuration)."""
    parser = _parser("export", "Export a checkpoint to ONNX (dynamic batch); decoding and NMS stay in Python. "
                     "A JSON file next to it records classes and anchors.")
    parser.add_argument("--checkpoint", default=None, help=f"run folder or .pt file (default {DEFAULT_RUN})")
    parser.add_argument("--untrained", action="store_true", help="no checkpoint: export an untrained model "
                        "(needs --out)")
    parser.add_argument("--out", default=None, help="the .onnx file (default <checkpoint folder>/model.onnx)")
    parser.add_argument("--input-size", type=_image_size, default=None, help="graph input size (default: the model's)")
    parser.add_argument("--opset", type=_int_at_least(7), default=17)
    parser.add_argument("--no-fuse", action="store_true", help="keep batch-norms separate")
    _add_model_flags(parser)
    args = parser.parse_args(argv)

    from attnlab.detection.export import INPUT_NAME, OUTPUT_NAMES, export_onnx

    if args.untrained and not args.out:
        parser.error("--untrained needs --out (an untrained model is not written into a run folder)")
    model, config, trained = _load_model(args.checkpoint, "cpu", allow_untrained=args.untrained, untrained_flag=True,
                                         input_size=args.input_size, bare=_bare_spec(args))
    ckpt_path = Path(args.checkpoint) if args.checkpoint else DEFAULT_RUN
    folder = ckpt_path if ckpt_path.is_dir() or not ckpt_path.suffix else ckpt_path.parent
    out = Path(args.out) if args.out else folder / "model.onnx"
    size = args.input_size or int(config["input_size"][0])
    path = export_onnx(model, out, size, opset=args.opset, fuse=not args.no_fuse)
    _write_json(path.with_suffix(".json"), {"onnx": str(path), "input": INPUT_NAME, "outputs": list(OUTPUT_NAMES),
                                            "input_size": size, "trained": trained, "model": config})
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) and {path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
