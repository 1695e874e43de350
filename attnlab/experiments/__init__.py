"""Small, seeded experiments the chapters share (see :mod:`attnlab.experiments.classification`)."""

from attnlab.experiments.classification import (
    compare,
    count_parameters,
    evaluate,
    load_data,
    summarise,
    train_classifier,
)

__all__ = ["compare", "count_parameters", "evaluate", "load_data", "summarise", "train_classifier"]
