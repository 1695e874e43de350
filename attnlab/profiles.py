"""One switch that sizes every experiment in the book.

``quick`` runs on a 2-core laptop CPU (and in CI) in a few minutes per notebook; ``full`` is sized
for a single GPU (a Colab T4 or better). The profile is picked from the device unless the
environment variable ``ATTNLAB_PROFILE`` names one::

    >>> from attnlab import get_profile
    >>> profile = get_profile()          # "full" when CUDA is available, else "quick"
    >>> profile.classifier.epochs        # doctest: +SKIP

Each notebook prints ``profile.describe()`` once at the top so the reader knows which one ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

ENV_VAR = "ATTNLAB_PROFILE"
PROFILE_NAMES = ("quick", "full")


@dataclass(frozen=True)
class ClassifierSize:
    """Size of the single-object classification experiments (Part I)."""

    image_size: int
    n_train: int
    n_val: int
    epochs: int
    batch_size: int
    width: int  # channels of the first stage of the small CNN


@dataclass(frozen=True)
class DetectorSize:
    """Size of the YOLOv4-tiny experiments on synthetic shapes (Part II)."""

    image_size: int
    n_train: int
    n_val: int
    epochs: int
    batch_size: int


@dataclass(frozen=True)
class Profile:
    """Experiment sizes for one kind of machine.

    Attributes:
        name: ``"quick"`` or ``"full"``.
        device: the torch device string experiments should use (``"cpu"`` or ``"cuda"``).
        seeds: seeds every comparison repeats over, so results carry a spread.
        classifier: sizes for the classification chapters.
        detector: sizes for the detection chapters.
        reason: why this profile was chosen (device or environment variable).
    """

    name: str
    device: str
    seeds: tuple[int, ...]
    classifier: ClassifierSize
    detector: DetectorSize
    reason: str = field(default="", compare=False)

    def describe(self) -> str:
        """A one-line summary for the top of a notebook."""
        c, d = self.classifier, self.detector
        return (
            f"attnlab profile '{self.name}' on {self.device} ({self.reason}); "
            f"seeds={list(self.seeds)}; classifier {c.n_train} train images "
            f"{c.image_size}px x {c.epochs} epochs; detector {d.n_train} train images "
            f"{d.image_size}px x {d.epochs} epochs"
        )


_QUICK = Profile(
    name="quick",
    device="cpu",
    seeds=(0, 1, 2),
    # 30 epochs: Part I's curves have flattened by then (results/part1_reference.json shows them)
    classifier=ClassifierSize(image_size=32, n_train=1200, n_val=400, epochs=30, batch_size=32, width=16),
    detector=DetectorSize(image_size=128, n_train=1280, n_val=128, epochs=10, batch_size=8),
)

_FULL = Profile(
    name="full",
    device="cuda",
    seeds=(0, 1, 2, 3, 4),
    classifier=ClassifierSize(image_size=64, n_train=20000, n_val=4000, epochs=20, batch_size=128, width=32),
    # 320 px, 3,000 images x 20 epochs: about 4 min per detector on a Colab T4 by the estimate of
    # attnlab.experiments.budget, so Chapter 7's 15 runs fit a one-hour session
    detector=DetectorSize(image_size=320, n_train=3000, n_val=500, epochs=20, batch_size=32),
)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return bool(torch.cuda.is_available())


def get_profile(name: str | None = None, device: str | None = None) -> Profile:
    """Return the experiment profile.

    Args:
        name: ``"quick"``, ``"full"`` or ``None``. ``None`` reads ``$ATTNLAB_PROFILE`` and, when
            that is unset or empty, picks ``"full"`` if CUDA is available and ``"quick"`` otherwise.
        device: override the device the profile runs on (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
            By default ``"cuda"`` when available, else ``"cpu"``; a full profile on a CPU works
            but is slow.

    Raises:
        ValueError: ``name`` (or the environment variable) is not one of the known profiles.
    """
    cuda = _cuda_available()
    if name is None:
        env = os.environ.get(ENV_VAR, "").strip().lower()
        if env:
            name, reason = env, f"set by ${ENV_VAR}"
        else:
            name, reason = ("full", "CUDA available") if cuda else ("quick", "no CUDA device")
    else:
        reason = "chosen by the caller"
    if name not in PROFILE_NAMES:
        raise ValueError(
            f"get_profile: name (or ${ENV_VAR}) must be one of {list(PROFILE_NAMES)}, got {name!r}"
        )
    base = _QUICK if name == "quick" else _FULL
    if device is None:
        device = "cuda" if cuda else "cpu"
    return replace(base, device=str(device), reason=reason)
