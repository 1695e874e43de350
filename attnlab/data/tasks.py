"""Three versions of the shapes task: one where attention has nothing special to find, one where
*what* matters and one where *where* matters.

::

    >>> from attnlab.data.tasks import make_task
    >>> train = make_task("what", 1200, seed=0, split="train")          # doctest: +SKIP

- ``"shapes"``: the book's standard task (:func:`~attnlab.data.shapes.make_classification` with
  its defaults): one large shape near the centre, a few distractors, a textured background.
- ``"what"``: the labelled shape is always **red**, and three *decoy* shapes of other classes, in
  any hue but red (oranges and pinks included), lie around it at the same sizes. Every image holds
  four class shapes; only the colour says which one is the label. A network has to keep the
  red-selective channels and discount the others: a job for channel attention.
- ``"where"``: the labelled shape is **smaller** (about two thirds of the standard size) and off
  centre, among three to five salient distractors as large as itself. A network has to find it: a
  job for spatial attention.

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
    # sizes chosen so that the plain network is neither perfect nor lost (one seed, 30 epochs:
    # "what" 93 %, "where" 71 %; the standard task 90 %)
    "what": {"hue": (0.96, 1.04), "decoys": 3, "decoy_hue": (0.06, 0.94), "occluder_prob": 0.0},
    "where": {"size_range": (0.2, 0.26), "position_jitter": 0.4, "n_distractors": (3, 5),
              "distractor_size": (0.12, 0.25), "occluder_prob": 0.0},
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
