"""A tiny training run for the trainer tests, run as a separate process (so it can be killed).

    python tests/train_worker.py run --dir D --out W.pt [--resume] [--flag F --flag-at-step N]
                                     [--hang-save N --flag F]
    torchrun --standalone --nproc_per_node=2 tests/train_worker.py ddp --dir D --out OUTDIR

``run``: a small CNN (with batch norm and dropout, so that buffers and random masks matter) on
64 synthetic 3x16x16 images, 3 epochs of 8 steps, backbone frozen for the first epoch; writes the
final weights and history to ``--out``. ``--flag F --flag-at-step N`` writes F at optimiser step N
and from then on sleeps 1 s per step, so that a kill sent on seeing F lands inside that epoch.
``--hang-save N`` makes the N-th checkpoint write stop half-way (after writing F) and hang.

``ddp``: the same idea without batch norm or dropout, under torchrun with gloo on the CPU; each
rank writes ``rank<r>.pt`` with its final weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from attnlab.train import Trainer, init_distributed, make_loader  # noqa: E402
from attnlab.train.distributed import cleanup  # noqa: E402

N_TRAIN, N_VAL, CLASSES, BATCH = 64, 32, 4, 8


class TinyCNN(nn.Module):
    def __init__(self, norm: bool = True, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=not norm),
            nn.BatchNorm2d(8) if norm else nn.Identity(),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(8, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def data() -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(N_TRAIN + N_VAL, 3, 16, 16, generator=g)
    y = torch.randint(0, CLASSES, (N_TRAIN + N_VAL,), generator=g)
    x[torch.arange(len(y)), y % 3] += 1.5  # learnable: the label shows in one channel
    return TensorDataset(x[:N_TRAIN], y[:N_TRAIN]), TensorDataset(x[N_TRAIN:], y[N_TRAIN:])


def loss_fn(output: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    loss = nn.functional.cross_entropy(output, targets)
    return loss, {"ce": loss.detach()}


def make_val_fn(val: TensorDataset):
    def val_fn(model: nn.Module) -> dict[str, float]:
        x, y = val.tensors
        logits = model(x)
        return {"accuracy": (logits.argmax(1) == y).float().mean().item(), "loss": nn.functional.cross_entropy(logits, y).item()}

    return val_fn


def trainer_kwargs(epochs: int) -> dict:
    return dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, epochs=epochs, warmup_epochs=1,
                grad_clip=1.0, freeze="backbone", freeze_epochs=1, seed=7, progress=False, deterministic=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    train, val = data()
    torch.manual_seed(0)
    model = TinyCNN()
    loader = make_loader(train, BATCH, shuffle=True, seed=1)
    calls = {"n": 0}

    def slow_loss(output, targets):
        calls["n"] += 1
        if args.flag and args.flag_at_step and calls["n"] >= args.flag_at_step:
            Path(args.flag).write_text("mid-epoch")
            time.sleep(1.0)
        return loss_fn(output, targets)

    if args.hang_save:
        real_save, saves = torch.save, {"n": 0}

        def hanging_save(obj, f, *a, **kw):
            saves["n"] += 1
            if saves["n"] == args.hang_save:
                f.write(b"half a checkpoint " * 4096)
                f.flush()
                Path(args.flag).write_text("writing")
                time.sleep(120)
            return real_save(obj, f, *a, **kw)

        torch.save = hanging_save

    trainer = Trainer(model, slow_loss, loader, val_fn=make_val_fn(val), checkpoint_dir=args.dir, **trainer_kwargs(args.epochs))
    history = trainer.fit(resume=args.resume)
    if args.out:
        torch.save({"model": model.state_dict(), "history": history}, args.out)


def ddp(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    info, device = init_distributed()
    train, _ = data()
    torch.manual_seed(0)
    model = TinyCNN(norm=False, dropout=0.0)
    loader = make_loader(train, BATCH // info.world_size, shuffle=True, seed=1)
    kwargs = trainer_kwargs(args.epochs) | {"deterministic": False}
    trainer = Trainer(model, loss_fn, loader, device=device, checkpoint_dir=args.dir, **kwargs)
    history = trainer.fit()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "history": history, "world_size": info.world_size}, out / f"rank{info.rank}.pt")
    cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "ddp"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--flag", default=None)
    parser.add_argument("--flag-at-step", type=int, default=0)
    parser.add_argument("--hang-save", type=int, default=0)
    args = parser.parse_args()
    (run if args.mode == "run" else ddp)(args)


if __name__ == "__main__":
    main()
