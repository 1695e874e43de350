"""The 'what' and 'where' versions of the shapes task (attnlab.data.tasks) and the generator
options behind them (hue band, decoys)."""

import numpy as np
import pytest
import torch

from attnlab.data import make_classification
from attnlab.data.tasks import TASKS, make_task


def hue_of(pixels: torch.Tensor) -> np.ndarray:
    """Hue in turns of the colour wheel of (N, 3) RGB pixels."""
    r, g, b = pixels.double().T.numpy()
    mx, mn = np.max([r, g, b], 0), np.min([r, g, b], 0)
    d = np.where(mx - mn == 0, 1e-12, mx - mn)
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4))
    return h / 6.0


def changed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, S, S) mask of the pixels where two image batches differ."""
    return (a - b).abs().amax(1) > 1e-6


def test_decoys_come_from_their_own_stream_and_have_the_decoy_hues():
    plain = make_classification(60, 32, seed=1, n_distractors=(0, 0), occluder_prob=0.0)
    with_decoys = make_classification(60, 32, seed=1, n_distractors=(0, 0), occluder_prob=0.0, decoys=2,
                                      decoy_hue=(0.3, 0.7))
    assert torch.equal(plain.labels, with_decoys.labels)
    where = changed(plain.images, with_decoys.images)
    assert 0.05 < where.float().mean() < 0.6                       # decoys cover part of each image
    assert bool(where.flatten(1).any(1).all())                     # in every image
    hues = hue_of(with_decoys.images.permute(0, 2, 3, 1)[where])
    assert ((hues > 0.3 - 1e-6) & (hues < 0.7 + 1e-6)).mean() > 0.99


def test_the_hue_band_colours_the_object_only():
    anyhue = make_classification(60, 32, seed=2, occluder_prob=0.0)
    red = make_classification(60, 32, seed=2, occluder_prob=0.0, hue=(0.96, 1.04))
    obj = changed(anyhue.images, red.images)                        # same shape, another colour
    assert obj.flatten(1).any(1).float().mean() > 0.9
    hues = hue_of(red.images.permute(0, 2, 3, 1)[obj])
    assert ((hues > 0.96 - 1e-6) | (hues < 0.04 + 1e-6)).mean() > 0.99


def test_tasks_are_their_options_and_unknown_names_are_refused():
    assert set(TASKS) == {"shapes", "what", "where"}
    a = make_task("where", 8, seed=3, split="val")
    b = make_classification(8, 32, 3, split="val", **TASKS["where"])
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.equal(make_task("shapes", 8).images, make_classification(8).images)
    assert not torch.equal(make_task("what", 8, decoys=0).images, make_task("what", 8).images)
    with pytest.raises(ValueError, match="name must be one of \\['shapes', 'what', 'where'\\], got 'when'"):
        make_task("when", 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"decoys": -1}, "decoys must be an integer >= 0, got -1"),
    ({"decoys": 1, "classes": ["circle"]}, "decoys need at least 2 classes"),
    ({"hue": (0.5, 0.2)}, "hue must be a band \\(low, high\\) with low <= high"),
])
def test_bad_options_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_classification(4, 16, **kwargs)
