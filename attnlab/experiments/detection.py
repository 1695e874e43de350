"""Chapter 7's experiment: every attention variant of YOLOv4-tiny, over seeds, resumable.

::

    from attnlab.experiments.detection import compare_detectors, trained_model
    from attnlab.experiments.runs import RunStore, runs_folder

    store = detector_store(runs_folder("ch07"), recipe)
    rows = compare_detectors(["none", "se"], [0, 1, 2], store, profile=profile)
    model = trained_model(store, "se", 0)  # the run's final weights, for pictures

Each run is saved by the :class:`~attnlab.experiments.runs.RunStore` as soon as it ends, and its
training checkpoints live beside it while it runs, so a session that dies mid-run continues from
its last finished epoch; finished runs are never trained again.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

from attnlab.experiments.runs import RunStore

__all__ = ["detector_store", "compare_detectors", "trained_model", "checkpoint_dir", "reference_run", "REFERENCE_FORMAT"]

#: the metrics each run keeps (from :func:`attnlab.train.recipes.evaluate_detector`)
METRICS = ("map50", "map", "map50_voc11")


def detector_store(folder: str | Path, recipe: Any, experiment: str = "yolo-attention") -> RunStore:
    """A :class:`RunStore` for detector runs of ``recipe``; the attnlab version is part of the
    configuration, so runs made by another version of the code are not mixed in."""
    import attnlab

    config = {**dataclasses.asdict(recipe), "attnlab": attnlab.__version__}
    return RunStore(folder, experiment, config)


def checkpoint_dir(store: RunStore, variant: str, seed: int) -> Path:
    """Where the run's trainer writes ``last.pt`` (beside the run's JSON file)."""
    return store.path(variant, seed).with_suffix("")


def compare_detectors(
    variants: Sequence[str],
    seeds: Sequence[int],
    store: RunStore,
    *,
    profile: Any = None,
    keep_checkpoints: Sequence[int] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = print,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Train each (variant, seed) that ``store`` does not hold yet; return the rows of all.

    Args:
        variants: attention names (``"none"``, ``"se"`` ...).
        seeds: training seeds; seeds run in the outer loop, so a session cut short still has
            every variant at the first seeds.
        store: where finished runs are saved (:func:`detector_store`).
        profile, progress, overrides: passed to :func:`attnlab.train.recipes.train_detector`.
        keep_checkpoints: seeds whose final weights stay on disk for :func:`trained_model`
            (default: the first seed); other runs' checkpoints are deleted once the run is saved.
        log: called with one line per run (``None``: silent).

    Returns:
        ``[{"variant", "seed", "map50", "map", "map50_voc11", "seconds", "epochs", "history",
        "trained_now"}]`` in the order of the loops; the metrics are on the test split, ``history``
        is the trainer's (one dict per epoch).
    """
    from attnlab.train.recipes import train_detector

    if not variants or not seeds:
        raise ValueError(f"compare_detectors: variants and seeds must be non-empty, got {list(variants)} and {list(seeds)}")
    keep = set(seeds[:1] if keep_checkpoints is None else keep_checkpoints)
    rows = []
    for seed in seeds:
        for name in variants:
            folder = checkpoint_dir(store, name, seed)

            def train() -> dict[str, Any]:
                r = train_detector(name, profile=profile, seed=seed, progress=progress,
                                   checkpoint_dir=folder, resume=True, **overrides)
                return {**{k: float(r.metrics[k]) for k in METRICS}, "seconds": round(r.seconds, 2),
                        "epochs": len(r.history), "history": r.history, "mode": r.mode,
                        "mode_reason": r.mode_reason}

            result, now = store.run(name, seed, train)
            if now and seed not in keep:
                shutil.rmtree(folder, ignore_errors=True)
            rows.append({"variant": name, "seed": seed, **result, "trained_now": now})
            if log is not None:
                how = (f"trained in {result['seconds']:.1f} s, {result['mode']}" if now
                       else "saved earlier, not trained again")
                log(f"{name:<5} seed {seed}: mAP@0.5 {100 * result['map50']:5.1f}%  "
                    f"mAP@[.5:.95] {100 * result['map']:5.1f}%  ({how})")
    return rows


def trained_model(store: RunStore, variant: str, seed: int, device: str = "cpu") -> Any:
    """The final weights of a finished run whose checkpoint was kept (see ``keep_checkpoints``)."""
    from attnlab.train.recipes import load_trained

    if store.get(variant, seed) is None:
        raise ValueError(f"trained_model: {variant!r} seed {seed} has not finished in {store}")
    last = checkpoint_dir(store, variant, seed) / "last.pt"
    if not last.exists():
        raise FileNotFoundError(f"trained_model: {last} is gone; only the seeds in keep_checkpoints keep weights")
    model, _ = load_trained(last, device=device)
    return model


REFERENCE_FORMAT = "attnlab.yolo_attention/1"


def reference_run(variants: Sequence[str], seeds: Sequence[int], *, profile: Any, runs_dir: str | Path,
                  out: str | Path | None = None, log: Callable[[str], None] | None = print,
                  **overrides: Any) -> dict[str, Any]:
    """Chapter 7's comparison at the profile's own recipe, saved run by run, written as one
    reference file (``results/yolo_attention_<profile>.json``, see ``results/README.md``).

    Interrupted, it continues from the saved runs when called again with the same ``runs_dir``.
    """
    import time

    from attnlab.bench import environment, jsonable, write_json
    from attnlab.profiles import Profile, get_profile
    from attnlab.train.recipes import detector_recipe

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    recipe = detector_recipe(prof, **overrides)
    store = detector_store(Path(runs_dir), recipe)
    started = environment(prof.device)   # the code that trains: commit and dirty flag at the start
    start = time.perf_counter()
    rows = compare_detectors(list(variants), list(seeds), store, profile=prof, keep_checkpoints=[],
                             log=log, **overrides)
    # and each run's training mode (attnlab.train.speed) where its record has one
    runs = [{**{k: r[k] for k in ("variant", "seed", *METRICS, "seconds")},
             **({"mode": r["mode"]} if "mode" in r else {})} for r in rows]
    payload = {
        "format": REFERENCE_FORMAT,
        "experiment": "Chapter 7: YOLOv4-tiny attention variants on synthetic shapes",
        "profile": prof.name,
        "variants": list(variants),
        "seeds": list(seeds),
        "evaluated_on": f"test split, {recipe.n_test} images",
        "recipe": jsonable(dataclasses.asdict(recipe)),
        "provenance": {**started, "wall_seconds": round(time.perf_counter() - start, 1),
                       "train_seconds": round(sum(r["seconds"] for r in runs), 1),
                       "command": "python -m attnlab.experiments.detection " + " ".join(
                           [f"--profile {prof.name}", "--seeds", *map(str, seeds), f"--runs-dir {runs_dir}"]
                           + ([f"--out {out}"] if out else []))},
        "runs": runs,
    }
    if out is not None:
        write_json(out, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m attnlab.experiments.detection``: make (or continue) a Chapter 7 reference run."""
    import argparse

    from attnlab.models.yolo import ATTENTION_PHI

    parser = argparse.ArgumentParser(prog="python -m attnlab.experiments.detection", description=main.__doc__)
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--variants", nargs="+", default=list(ATTENTION_PHI))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--runs-dir", required=True, help="where each finished run is saved (re-use to continue)")
    parser.add_argument("--out", default=None, help="the reference file to write, e.g. results/yolo_attention_quick.json")
    args = parser.parse_args(argv)
    reference_run(args.variants, args.seeds, profile=args.profile, runs_dir=args.runs_dir, out=args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
