"""Three versions of the shapes task: one where attention has nothing special to find, one where
*what* matters and one where *where* matters.

::

    >>> from attnlab.data.tasks import make_task
    >>> train = make_task("what", 1200, seed=0, split="train")          # doctest: +SKIP

- ``"shapes"``: the book's standard task (:func:`~attnlab.data.shapes.make_classification` with
  its defaults): one large shape near the centre, a few distractors, a textured background.
- ``"what"``: the labelled shape is always **red**, and two *decoy* shapes of other classes, in
  greens and blues, lie around it at the same sizes. Every image holds three class shapes; only
  the colour says which one is the label. A network has to keep the red-selective channels and
  discount the others: a job for channel attention.
- ``"where"``: the labelled shape is **small** (about half the standard size) and anywhere in the
  image, among four to six large, salient distractors. A network has to find it: a job for
  spatial attention.

Each task is a dict of :func:`~attnlab.data.shapes.make_classification` options (:data:`TASKS`),
so the three differ only where they say they do.
"""

from __future__ import annotations

from typing import Any

from attnlab.data.shapes import ShapesClassification, make_classification

__all__ = ["TASKS", "make_task"]

#: the options of each task (everything else is make_classification's default)
TASKS: dict[str, dict[str, Any]] = {
    "shapes": {},
    "what": {"hue": (0.96, 1.04), "decoys": 2, "decoy_hue": (0.25, 0.7), "occluder_prob": 0.0},
    "where": {"size_range": (0.14, 0.2), "position_jitter": 0.5, "n_distractors": (4, 6),
              "distractor_size": (0.15, 0.3), "occluder_prob": 0.0},
}


def make_task(name: str, n: int, image_size: int = 32, seed: int = 0, *, split: str = "train",
              **overrides: Any) -> ShapesClassification:
    """``n`` images of the task ``name`` (a key of :data:`TASKS`); ``overrides`` change any
    :func:`~attnlab.data.shapes.make_classification` option of the task.

    Raises:
        ValueError: an unknown task name (the message lists the known ones).
    """
    if name not in TASKS:
        raise ValueError(f"make_task: name must be one of {list(TASKS)}, got {name!r}")
    return make_classification(n, image_size, seed, split=split, **{**TASKS[name], **overrides})
