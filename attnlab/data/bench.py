"""``python -m attnlab bench data``: how many images per second the data pipeline delivers.

Measures, at ``--size`` (416 by default), single process:

* ``generate``: synthetic shapes images drawn from scratch (no cache);
* ``augment``: the training augmentation (:func:`attnlab.data.transforms.train_transform`, with
  mosaic and mixup as configured) applied to cached images;
* ``letterbox``: the validation transform;
* ``loader``: whole batches through :func:`attnlab.data.make_loader` (generation + augmentation +
  collate) with the chosen number of workers.

Writes JSON (``--out``, default ``bench-results/data.json``) with provenance from
:func:`attnlab.bench.environment`. Compare the ``loader`` figure with the training throughput
(images/s) to know whether the data pipeline starves training.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from attnlab.bench import environment, format_table, write_json
from attnlab.data.loader import auto_num_workers, make_loader
from attnlab.data.shapes import ShapesDetection, image_rng, make_detection_image
from attnlab.data.transforms import LetterboxResize, train_transform


def _rate(fn, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnlab bench data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=416, help="image side (default 416)")
    parser.add_argument("--n", type=int, default=64, help="images per measurement (default 64)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", default="auto", help="loader workers: an int or 'auto'")
    parser.add_argument("--mosaic", type=float, default=0.5, help="mosaic probability (default 0.5)")
    parser.add_argument("--mixup", type=float, default=0.0, help="mixup probability (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench-results/data.json")
    args = parser.parse_args(argv)
    workers = auto_num_workers() if args.workers == "auto" else int(args.workers)
    S, n = args.size, args.n

    # warm up (imports, allocator)
    make_detection_image(image_rng(args.seed, "train", 0), S)
    results: dict[str, float] = {}
    results["generate"] = _rate(lambda i: make_detection_image(image_rng(args.seed, "train", i), S), n)

    cached = ShapesDetection(n, S, args.seed, cache=True)
    for i in range(n):
        cached.raw(i)
    aug = train_transform(S, cached, mosaic_p=args.mosaic, mixup_p=args.mixup)
    rng = np.random.default_rng(args.seed)
    results["augment"] = _rate(lambda i: aug(*[a.copy() for a in cached.raw(i)], rng), n)
    lb = LetterboxResize(S)
    results["letterbox"] = _rate(lambda i: lb(*[a.copy() for a in cached.raw(i)], rng), n)

    fresh = ShapesDetection(n, S, args.seed + 1, cache=False)
    fresh.transform = train_transform(S, fresh, mosaic_p=args.mosaic, mixup_p=args.mixup)
    loader = make_loader(fresh, args.batch_size, shuffle=True, seed=args.seed, num_workers=workers)
    start = time.perf_counter()
    count = sum(images.shape[0] for images, _ in loader)
    results["loader"] = count / (time.perf_counter() - start)

    rows = [{"stage": k, "images_per_s": v} for k, v in results.items()]
    print(format_table(rows, ["stage", "images_per_s"]))
    payload = {
        "benchmark": "data",
        "environment": environment("cpu"),
        "config": {"size": S, "n": n, "batch_size": args.batch_size, "workers": workers,
                   "mosaic": args.mosaic, "mixup": args.mixup, "seed": args.seed},
        "images_per_s": results,
    }
    path = write_json(args.out, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
