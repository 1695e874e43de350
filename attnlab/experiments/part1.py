"""Part I's reference run: every block of Chapters 2-5 in the small CNN, trained to convergence.

Chapters 2-5 read their headline numbers from one committed file, ``results/part1_reference.json``,
made by one documented command (about 20 minutes on a 2-core CPU, resumable)::

    python -m attnlab.experiments.part1 --seeds 0 1 2 3 4 \\
        --runs-dir runs/part1-reference --out results/part1_reference.json

and each chapter re-runs a *slice* of it live (:func:`live_slice`: a variant or two with the first
seed), checked against the reference by
:func:`attnlab.experiments.verdict.check_against_reference`.

The comparison is **capacity-fair**: SE, CBAM and Coordinate Attention all use a hidden width of
C/4 (reduction 4), so in the small CNN (16, 32 and 64 channels) every one of them has 4, 8 and 16
hidden units; ECA and SimAM have no hidden layer. The three CBAM ablations of Chapter 3 change
one thing each against that CBAM.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from attnlab.experiments.runs import RunStore
from attnlab.experiments.verdict import display_name

__all__ = ["VARIANTS", "LABELS", "REFERENCE_FORMAT", "REFERENCE_FILE", "recipe", "part1_store",
           "describe_variant", "reference_run", "reference_file", "load_reference", "live_slice", "recipe_differences",
           "main"]

#: every Part I variant, as AttentionCNN keyword arguments (capacity-fair: hidden width C/4)
VARIANTS: dict[str, dict[str, Any]] = {
    "none": {"attention": "none"},
    "se": {"attention": "se", "attention_options": {"reduction": 4}},
    "cbam": {"attention": "cbam", "attention_options": {"ratio": 4}},
    "cbam-avg": {"attention": "cbam", "attention_options": {"ratio": 4, "pool": "avg"}},
    "cbam-k3": {"attention": "cbam", "attention_options": {"ratio": 4, "kernel_size": 3}},
    "cbam-spatial-first": {"attention": "cbam", "attention_options": {"ratio": 4, "order": "spatial-channel"}},
    "eca": {"attention": "eca"},
    "ca": {"attention": "ca", "attention_options": {"reduction": 4}},
    "simam": {"attention": "simam"},
}

#: how the chapters name the variants in tables and sentences (those of the book's rule)
LABELS = {name: display_name(name) for name in VARIANTS}

REFERENCE_FORMAT = "attnlab.part1_reference/1"
REFERENCE_FILE = "part1_reference.json"


def recipe(profile: Any, task: str = "shapes") -> dict[str, Any]:
    """Everything that defines a Part I run besides variant and seed: the profile's classifier
    sizes, the optimiser settings of :func:`~attnlab.experiments.classification.compare`, the data
    seed and, for another task than the standard one (:mod:`attnlab.data.tasks`), the task. Two
    runs with equal recipes, variant and seed train the same network."""
    base = {**dataclasses.asdict(profile.classifier), "lr": 3e-3, "weight_decay": 1e-4, "data_seed": 0}
    return base if task == "shapes" else {**base, "task": task}


def part1_store(folder: str | Path, profile: Any, task: str = "shapes") -> RunStore:
    """A :class:`RunStore` for Part I runs of ``profile``'s recipe (and this attnlab version)."""
    import attnlab

    return RunStore(folder, "part1", {**recipe(profile, task), "attnlab": attnlab.__version__})


def describe_variant(name: str) -> str:
    """``"cbam"`` -> ``"cbam(ratio=4)"``: the block and every option it was built with."""
    spec = _spec(name)
    options = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                        for k, v in spec.get("attention_options", {}).items())
    return f"{spec['attention']}({options})"


def _spec(name: str) -> dict[str, Any]:
    if name not in VARIANTS:
        raise ValueError(f"Part I variant must be one of {list(VARIANTS)}, got {name!r}")
    return VARIANTS[name]


def live_slice(variants: Sequence[str], seeds: Sequence[int], profile: Any, *, data: Any = None,
               keep_models: bool = False, verbose: bool = False) -> list[dict[str, Any]]:
    """Train ``variants`` (names of :data:`VARIANTS`) with ``seeds`` at the profile's recipe: the
    rows of :func:`~attnlab.experiments.classification.compare`, comparable with the reference."""
    from attnlab.experiments.classification import compare

    specs = {name: _spec(name) for name in variants}
    return compare(specs, profile, seeds, data=data, keep_models=keep_models, verbose=verbose)


def reference_run(variants: Sequence[str], seeds: Sequence[int], *, profile: Any, runs_dir: str | Path,
                  out: str | Path | None = None, log: Callable[[str], None] | None = print,
                  task: str = "shapes") -> dict[str, Any]:
    """Train every (variant, seed) that ``runs_dir`` does not hold yet, then write the reference.

    Each run is saved as it ends (``runs_dir``), so an interrupted call continues where it stopped,
    and several processes may share one ``runs_dir`` with different ``variants``; the last call,
    with every variant, finds them all and writes ``out``.
    """
    from attnlab.bench import environment, write_json
    from attnlab.experiments.classification import _build_variant, load_data, train_classifier
    from attnlab.profiles import Profile, get_profile

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    store = part1_store(runs_dir, prof, task)
    started = environment(prof.device)
    start = time.perf_counter()
    train, val, class_names = load_data(prof, task=task)
    c = prof.classifier
    rows = []
    for seed in seeds:                       # seeds outer: a cut-short run has every variant
        for name in variants:
            def fit() -> dict[str, Any]:
                model = _build_variant(_spec(name), num_classes=len(class_names), width=c.width, seed=seed)
                r = train_classifier(model, train, val, epochs=c.epochs, batch_size=c.batch_size,
                                     lr=store.config["lr"], weight_decay=store.config["weight_decay"],
                                     seed=seed, device=prof.device)
                return {k: r[k] for k in ("val_acc", "train_acc", "params", "seconds", "history")}

            result, now = store.run(name, seed, fit)
            rows.append({"variant": name, "seed": seed, **result})
            if log is not None:
                how = f"trained in {result['seconds']:.1f} s" if now else "saved earlier"
                log(f"{name:<19} seed {seed}: val acc {100 * result['val_acc']:5.1f}%  ({how})")
    payload = {
        "format": REFERENCE_FORMAT,
        "experiment": "Part I: attention blocks in the small CNN on synthetic shapes"
                      + ("" if task == "shapes" else f", task {task!r}"),
        "profile": prof.name,
        "variants": {name: describe_variant(name) for name in variants},
        "seeds": list(seeds),
        "evaluated_on": f"validation split, {c.n_val} images",
        "recipe": recipe(prof, task),
        "provenance": {**started, "wall_seconds": round(time.perf_counter() - start, 1),
                       "train_seconds": round(sum(r["seconds"] for r in rows), 1),
                       "command": "python -m attnlab.experiments.part1 " + " ".join(
                           [f"--profile {prof.name}"] + ([f"--task {task}"] if task != "shapes" else [])
                           + [f"--variants {' '.join(variants)}", "--seeds", *map(str, seeds), f"--runs-dir {runs_dir}"]
                           + ([f"--out {out}"] if out else []))},
        "runs": rows,
    }
    if out is not None:
        write_json(out, payload)
    return payload


def reference_file(task: str = "shapes") -> str:
    """``part1_reference.json`` for the standard task, ``part1_reference_<task>.json`` otherwise."""
    return REFERENCE_FILE if task == "shapes" else REFERENCE_FILE.replace(".json", f"_{task}.json")


def load_reference(path: str | Path | None = None, *, task: str = "shapes") -> dict[str, Any]:
    """The committed Part I reference of ``task`` (``results/part1_reference.json`` for the
    standard one, see :func:`reference_file`), or the file at ``path``; its format checked."""
    from attnlab.experiments.runs import reference_dir

    if path is None:
        folder, name = reference_dir(), reference_file(task)
        if folder is None or not (folder / name).exists():
            raise FileNotFoundError(f"load_reference: no {name} in the repository's results/ or in the "
                                    f"installed package; make it with python -m attnlab.experiments.part1")
        path = folder / name
    ref = json.loads(Path(path).read_text())
    if ref.get("format") != REFERENCE_FORMAT:
        raise ValueError(f"load_reference: {path} has format {ref.get('format')!r}, expected {REFERENCE_FORMAT!r}")
    return ref


def recipe_differences(ref: Mapping[str, Any], profile: Any) -> list[str]:
    """The recipe keys in which ``profile`` differs from the reference (empty: a live run of this
    profile is a new seed of the reference's recipe and may be checked against it)."""
    mine = recipe(profile)
    return sorted(k for k in set(mine) | set(ref["recipe"]) if mine.get(k) != ref["recipe"].get(k))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m attnlab.experiments.part1``: make (or continue) Part I's reference run."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m attnlab.experiments.part1", description=main.__doc__)
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--task", default="shapes", choices=["shapes", "what", "where"],
                        help="the data (attnlab.data.tasks): the standard shapes, or where what or where matters")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--runs-dir", required=True, help="where each finished run is saved (re-use to continue)")
    parser.add_argument("--out", default=None, help="the reference file to write, e.g. results/part1_reference.json")
    args = parser.parse_args(argv)
    reference_run(args.variants, args.seeds, profile=args.profile, runs_dir=args.runs_dir, out=args.out,
                  task=args.task)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
