"""Learning-rate schedule: linear warm-up, then a cosine decay. Pure functions of the step.

::

    lr
    base_lr |        .-'''-.
            |      /         '.
            |    /             '.
            |  /                 '-.
    min_lr  |/                       '--..
            +--------------------------------- step
            0   warmup_steps            total_steps

For ``step < warmup_steps`` the rate climbs linearly from ``base_lr * warmup_start`` towards
``base_lr``; from ``warmup_steps`` to ``total_steps`` it follows half a cosine from ``base_lr`` down
to ``min_lr``; after ``total_steps`` it stays at ``min_lr``.

The trainer wraps :class:`WarmupCosine` (the same formula as a factor of the base rate) in
``torch.optim.lr_scheduler.LambdaLR`` and steps it once per optimiser step, so the scheduler's
state is just the step count and goes into the checkpoint like any other scheduler's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["warmup_cosine", "WarmupCosine"]


def warmup_cosine(
    step: int,
    *,
    base_lr: float,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    warmup_start: float = 0.0,
) -> float:
    """The learning rate at optimiser step ``step`` (0-based).

    Args:
        step: steps taken so far; the rate returned is the one used for step ``step``.
        base_lr: the peak rate, reached at the end of warm-up.
        total_steps: the step at which the cosine reaches ``min_lr``.
        warmup_steps: length of the linear warm-up (0 for none).
        min_lr: the final rate.
        warmup_start: the warm-up starts at ``base_lr * warmup_start``.
    """
    if total_steps < 1:
        raise ValueError(f"warmup_cosine: total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_cosine: need 0 <= warmup_steps <= total_steps, got {warmup_steps}, {total_steps}")
    if step < warmup_steps:
        return base_lr * (warmup_start + (1.0 - warmup_start) * step / warmup_steps)
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


@dataclass
class WarmupCosine:
    """:func:`warmup_cosine` as a multiplier of the base rate, for ``LambdaLR``.

    A dataclass rather than a closure so that ``LambdaLR.state_dict()`` records its settings.
    """

    total_steps: int
    warmup_steps: int = 0
    min_lr_ratio: float = 0.01
    warmup_start: float = 0.0

    def __call__(self, step: int) -> float:
        return warmup_cosine(
            step,
            base_lr=1.0,
            total_steps=self.total_steps,
            warmup_steps=self.warmup_steps,
            min_lr=self.min_lr_ratio,
            warmup_start=self.warmup_start,
        )
