"""Training: a resumable :class:`Trainer` (SGD/AdamW, warm-up + cosine, AMP on CUDA, freezing,
progress bar, atomic checkpoints, DDP under torchrun), its schedule and checkpoint helpers.

The YOLO loss, the command line (``attnlab.train.cli``) and the training benchmark plug into
:class:`Trainer` through ``loss_fn(output, targets) -> (total, parts)`` and ``val_fn(model)``.
"""

from attnlab.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, seed_everything, set_rng_state
from attnlab.train.distributed import DistInfo, init_distributed, make_loader
from attnlab.train.schedule import WarmupCosine, warmup_cosine
from attnlab.train.trainer import Trainer, to_device

__all__ = [
    "Trainer",
    "to_device",
    "warmup_cosine",
    "WarmupCosine",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "seed_everything",
    "DistInfo",
    "init_distributed",
    "make_loader",
]
