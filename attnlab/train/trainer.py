"""A small, resumable trainer for any model whose loss you can write as a function.

Everything a chapter needs, in one loop you can read top to bottom (:meth:`Trainer._train_epoch`):

    for images, targets in loader:                       # batches are (images, targets)
        with autocast(enabled=amp):                      # float16 on CUDA (and channels-last)
            loss, parts = loss_fn(model(images), targets)
        scaler.scale(loss).backward()                    # GradScaler: no float16 underflow
        scaler.unscale_(optimizer); clip_grad_norm_(...) # optional gradient clipping
        scaler.step(optimizer); scaler.update()
        scheduler.step()                                 # warm-up then cosine, per step

and around it: SGD or AdamW (no weight decay on biases and norm layers), optional freezing of a
named sub-module (``freeze="backbone"``) for the first epochs, a tqdm progress bar (terminal or
notebook), validation after each epoch, a history list for plots, and an atomic checkpoint after
each epoch from which :meth:`Trainer.fit` (``resume=True``) continues.

The contract with the model and the loss:

- ``model(images)`` returns anything; ``loss_fn(output, targets)`` returns ``(total, parts)``,
  a scalar tensor to minimise and a dict of named float components to log (may be empty).
- a batch is ``(images, targets)``; ``targets`` may be a tensor, a list/tuple/dict of tensors or
  anything else; tensors are moved to the device, the rest passed through untouched.
- ``val_fn(model) -> dict`` runs after each epoch (model in eval mode, no gradients, rank 0 only);
  its numbers go into the history as ``val_<name>``.

Exact resumption (CPU)
----------------------
A run killed at any point and resumed from its last checkpoint produces bitwise the same weights
and loss curve as an uninterrupted run, because:

1. the checkpoint is taken at an epoch boundary and holds *all* the state the next epoch reads:
   weights and buffers, optimiser moments, scheduler step, GradScaler, and every random-number
   generator (torch, numpy, Python ``random``, the DataLoader's and its sampler's generators;
   a ``DistributedSampler`` is reseeded from the epoch number instead), and what is derived
   from the epoch number is told it: the loader's augmentation epoch (``set_epoch`` of an
   :class:`~attnlab.data.loader.EpochLoader`) and a ``DistributedSampler``'s shuffle;
2. the epoch the kill interrupted is redone from that state, so it draws the same shuffles,
   dropout masks and augmentations; DataLoader workers get seeds from the restored generator
   (keep ``persistent_workers=False``, the default: persistent workers are seeded only once), and
   the loader is started exactly once per epoch;
3. CPU kernels give identical bits for identical inputs with the same torch build and the same
   number of threads (keep ``torch.set_num_threads`` fixed across the two runs);
   ``deterministic=True`` also asks torch for deterministic algorithms and turns cuDNN
   benchmarking off, which on CUDA makes runs repeatable too (AMP included) where the kernels
   allow it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import operator
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from attnlab.bench import write_json
from attnlab.train import speed
from attnlab.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, seed_everything, set_rng_state
from attnlab.train.distributed import all_reduce_mean, dist_info
from attnlab.train.schedule import WarmupCosine

__all__ = ["Trainer", "to_device", "LossFn"]

LossFn = Callable[[Any, Any], "tuple[torch.Tensor, Mapping[str, Any]]"]
CHECKPOINT_NAME = "last.pt"
BEST_NAME = "best.pt"
FORMAT = "attnlab.train/1"


def to_device(obj: Any, device: torch.device) -> Any:
    """Move tensors (also inside lists, tuples and dicts) to ``device``; leave the rest alone."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def _number(v: Any) -> float | None:
    """A float for numbers and one-element tensors, else None."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return float(v.detach())
    if isinstance(v, numbers.Real) and not isinstance(v, bool):  # numpy scalars included
        return float(v)
    return None


class Trainer:
    """Train ``model`` by minimising ``loss_fn`` over ``train_loader``.

    Args:
        model: any ``nn.Module``; built (and initialised) by the caller.
        loss_fn: ``loss_fn(model(images), targets) -> (total_loss, {name: component})``.
        train_loader: yields ``(images, targets)``; a ``DistributedSampler`` inside is told the
            epoch. Its (and its sampler's) ``generator`` is checkpointed.
        val_fn: ``val_fn(model) -> {name: number}``, run after each epoch on rank 0.
        optimizer: ``"sgd"`` (Nesterov momentum), ``"adamw"``, or a callable taking the list of
            parameter groups and returning an optimiser.
        lr: peak learning rate (reached after warm-up).
        weight_decay: applied to weights of dimension >= 2 only (not biases or norm layers).
        momentum: SGD momentum, or AdamW's beta1.
        epochs: total epochs.
        warmup_epochs: linear warm-up length in epochs (may be fractional).
        warmup_start: warm-up starts at ``lr * warmup_start``.
        min_lr_ratio: the cosine ends at ``lr * min_lr_ratio``.
        grad_clip: clip the global gradient norm to this (None: no clipping).
        freeze: attribute name (dots allowed) of a sub-module to freeze, e.g. ``"backbone"``.
        freeze_epochs: epochs during which ``freeze`` gets no gradient updates (its parameters
            have ``requires_grad=False``; batch-norm running statistics still adapt).
        amp: mixed precision. ``"auto"``: float16 autocast with a GradScaler on CUDA, off
            elsewhere; ``True`` on a CPU autocasts to bfloat16 (no scaler; slower than float32
            there, but it runs the mixed-precision code path, e.g. in tests); ``False``: float32.
        mode: how the training step runs (:mod:`attnlab.train.speed`): ``"auto"`` picks the
            mode :func:`~attnlab.train.speed.choose_mode` finds fastest for this run (its steps,
            ``image_size`` and the loader's ``batch_size``) in the committed ``bench train``
            measurement of the device type, or in ``mode_bench``; ``"off"`` (or ``"eager"``)
            turns it off; or one of ``"channels_last"``, ``"compile"``,
            ``"compile_channels_last"``. ``trainer.mode`` and ``trainer.mode_reason`` say what
            was picked and why. Checkpoints always hold the plain model's weights.
        mode_bench: a ``python -m attnlab bench train`` JSON (or its rows) for ``mode="auto"``:
            your machine's measurement instead of the committed one.
        image_size: the training images' size, for ``mode="auto"`` (None: per-step times only).
        device: where to train; default ``cuda`` (this process's GPU under torchrun) or ``cpu``.
        checkpoint_dir: folder for ``last.pt`` (each epoch), ``best.pt`` and ``history.json``;
            None writes nothing.
        seed: seeds every generator when a fresh run starts (``seed + rank`` per process).
            None leaves them alone.
        progress: draw a tqdm progress bar (rank 0 only).
        deterministic: ask torch for deterministic algorithms (see the module docstring).
        best_metric: a history key (e.g. ``"val_map50"``); higher is better; the epoch that
            improves it is also written as ``best.pt``.
        extra: anything ``torch.load(weights_only=True)`` can read (e.g. the model's
            configuration), stored in every checkpoint under ``"extra"``.
        steps_per_epoch: needed only when ``len(train_loader)`` is undefined.
        log_every: update the progress bar's loss display every this many steps.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        train_loader: Any,
        *,
        val_fn: Callable[[nn.Module], Mapping[str, Any]] | None = None,
        optimizer: str | Callable[[list[dict[str, Any]]], torch.optim.Optimizer] = "sgd",
        lr: float = 0.01,
        weight_decay: float = 5e-4,
        momentum: float = 0.937,
        epochs: int = 10,
        warmup_epochs: float = 1.0,
        warmup_start: float = 0.1,
        min_lr_ratio: float = 0.01,
        grad_clip: float | None = 10.0,
        freeze: str | None = None,
        freeze_epochs: int = 0,
        amp: bool | str = "auto",
        mode: str = "auto",
        mode_bench: Any = None,
        image_size: int | None = None,
        device: torch.device | str | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        seed: int | None = 0,
        progress: bool = True,
        deterministic: bool = False,
        best_metric: str | None = None,
        extra: Mapping[str, Any] | None = None,
        steps_per_epoch: int | None = None,
        log_every: int = 10,
    ) -> None:
        self.dist = dist_info()
        if device is None:
            device = f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.val_fn = val_fn
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"Trainer: epochs must be an int >= 1, got {epochs!r}")
        self.epochs = int(epochs)
        self.grad_clip = grad_clip
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.seed = seed
        self.progress = progress
        self.best_metric = best_metric
        self.extra = dict(extra or {})
        self.log_every = max(1, int(log_every))

        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True

        # AMP: float16 autocast with a GradScaler, on CUDA only
        cuda = self.device.type == "cuda"
        if amp != "auto" and not isinstance(amp, bool):
            raise ValueError(f"Trainer: amp must be 'auto', True or False, got {amp!r}")
        self.use_amp = cuda if amp == "auto" else amp
        self.amp_dtype = torch.float16 if cuda else torch.bfloat16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.use_amp and cuda)  # float16 only
        # the sub-module to freeze for the first epochs (and which of its parameters were
        # trainable to begin with, so that unfreezing does not thaw what the caller froze)
        self.freeze, self.freeze_epochs = freeze, int(freeze_epochs) if freeze else 0
        self._frozen_params: list[tuple[nn.Parameter, bool]] = []
        if freeze:
            try:
                sub = operator.attrgetter(freeze)(self.model)
            except AttributeError as e:
                raise ValueError(f"Trainer: model has no sub-module {freeze!r} to freeze") from e
            self._frozen_params = [(p, p.requires_grad) for p in sub.parameters()]
        self._is_frozen: bool | None = None
        self._ddp: DistributedDataParallel | None = None

        # optimiser: weight decay on weights (ndim >= 2), none on biases and norm parameters
        decay = [p for p in self.model.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.model.parameters() if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if callable(optimizer):
            self.optimizer = optimizer(groups)
        elif optimizer == "sgd":
            self.optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
        elif optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(groups, lr=lr, betas=(momentum, 0.999))
        else:
            raise ValueError(f"Trainer: optimizer must be 'sgd', 'adamw' or a callable, got {optimizer!r}")

        # schedule: one LambdaLR step per optimiser step
        if steps_per_epoch is None:
            try:
                steps_per_epoch = len(train_loader)
            except TypeError as e:
                raise ValueError("Trainer: train_loader has no len(); pass steps_per_epoch") from e
        self.steps_per_epoch = int(steps_per_epoch)

        # how the step runs: channels-last and/or torch.compile (attnlab.train.speed)
        if mode == "auto":
            choice = speed.choose_mode(self.device, measured=mode_bench, steps=self.epochs * self.steps_per_epoch,
                                       size=image_size, batch=getattr(train_loader, "batch_size", None))
        elif mode in ("off", "eager"):
            choice = speed.ModeChoice("eager", "eager: asked for")
        elif mode in speed.MODES:
            choice = speed.ModeChoice(mode, f"{mode}: asked for")
        else:
            raise ValueError(f"Trainer: mode must be 'auto', 'off' or one of {list(speed.MODES)}, got {mode!r}")
        self.mode, self.mode_reason = choice.mode, choice.reason
        self.step_model = speed.apply_training_mode(self.model, self.mode)  # self.model stays the one saved
        total = max(1, self.epochs * self.steps_per_epoch)
        warmup = min(total, int(round(warmup_epochs * self.steps_per_epoch)))
        self._lr_lambda = WarmupCosine(total, warmup, min_lr_ratio, warmup_start)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_lambda)

        self.config = {
            "optimizer": optimizer if isinstance(optimizer, str) else getattr(optimizer, "__name__", "custom"),
            "lr": lr, "weight_decay": weight_decay, "momentum": momentum, "epochs": self.epochs,
            "warmup_epochs": warmup_epochs, "warmup_start": warmup_start, "min_lr_ratio": min_lr_ratio,
            "grad_clip": grad_clip, "freeze": freeze, "freeze_epochs": self.freeze_epochs,
            "amp": self.use_amp, "mode": self.mode, "seed": seed, "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.dist.world_size,
        }
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps taken
        self.history: list[dict[str, Any]] = []
        self.last_val: dict[str, Any] = {}
        self.best_value = -math.inf
        self._started = False  # True once seeded or resumed
        # wall-clock and CPU seconds spent in fit() by earlier segments of this run (a resumed run
        # reads them from the checkpoint), and when this segment's fit() began
        self.prior_seconds = 0.0
        self.prior_cpu_seconds = 0.0
        self._fit_start: tuple[float, float] | None = None
        self.resumed_seconds = self.resumed_cpu_seconds = 0.0  # what the checkpoint resumed from had spent

    # ---------------------------------------------------------------------------------------
    # pieces
    # ---------------------------------------------------------------------------------------

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def _generators(self) -> dict[str, torch.Generator]:
        """The DataLoader's own torch.Generators (each checkpointed once)."""
        found: dict[str, torch.Generator] = {}
        loader = self.train_loader
        candidates = {
            "loader": getattr(loader, "generator", None),
            "sampler": getattr(getattr(loader, "sampler", None), "generator", None),
            "batch_sampler": getattr(getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None),
        }
        for name, g in candidates.items():
            if isinstance(g, torch.Generator) and all(g is not h for h in found.values()):
                found[name] = g
        return found

    def _apply_freeze(self, epoch: int) -> nn.Module:
        """Freeze or thaw for this epoch; return the module to call (DDP-wrapped if distributed)."""
        frozen = epoch < self.freeze_epochs
        if frozen != self._is_frozen:
            for p, trainable in self._frozen_params:
                p.requires_grad_(trainable and not frozen)
            if self.dist.enabled:
                # DDP registers the parameters that need gradients when it is built: rebuild it
                # whenever that set changes
                ids = [self.device.index] if self.device.type == "cuda" else None
                self._ddp = DistributedDataParallel(self.model, device_ids=ids)
            self._is_frozen = frozen
        return self._ddp if self._ddp is not None else self.step_model

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training data; returns mean loss components."""
        model = self._apply_freeze(epoch)
        self.model.train()
        # the epoch of everything that draws per epoch comes from the trainer's epoch, so that a
        # resumed run draws what the uninterrupted one drew: the loader's augmentation epoch
        # (EpochLoader.set_epoch) and a DistributedSampler's shuffle
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(epoch)
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        params = list(self.model.parameters())
        sums: dict[str, torch.Tensor] = {}
        n = 0
        # one iter() per epoch: tqdm.auto calls iter() on what it is given in its constructor, so
        # it gets the iterator, not the loader (else workers start, and the epoch advances, twice)
        batches = iter(self.train_loader)
        bar = tqdm(
            batches,
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            disable=not (self.progress and self.is_main),
            leave=True,
            dynamic_ncols=True,
        )
        for i, (images, targets) in enumerate(bar):
            images, targets = to_device(images, self.device), to_device(targets, self.device)
            if isinstance(images, torch.Tensor) and images.dim() == 4:
                images = speed.prepare_images(images, self.mode)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                output = model(images)
                loss, parts = self.loss_fn(output, targets)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if self.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(params, self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            with warnings.catch_warnings():  # GradScaler skips steps with inf gradients on purpose
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
                self.scheduler.step()
            self.step += 1
            n += 1
            # running sums stay on the device: no synchronisation per step on a GPU
            for name, value in {"loss": loss, **dict(parts)}.items():
                v = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
                sums[name] = sums[name] + v if name in sums else v.clone()
            if i % self.log_every == 0 or i == self.steps_per_epoch - 1:
                current = float(loss.detach())
                if not math.isfinite(current):
                    raise FloatingPointError(
                        f"Trainer: loss is {current} at epoch {epoch + 1}, step {i + 1}; "
                        "try a lower lr, a longer warm-up or grad_clip"
                    )
                bar.set_postfix(loss=f"{current:.4g}", lr=f"{self._lr():.3g}", refresh=False)
        bar.close()
        means = {f"train_{k}": float(v) / max(n, 1) for k, v in sums.items()}
        return all_reduce_mean(means, self.device)

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        if self.val_fn is None or not self.is_main:
            return {}
        was_training = self.model.training
        self.model.eval()
        try:
            result = dict(self.val_fn(self.model))
        finally:
            self.model.train(was_training)
        self.last_val = result
        numbers = {f"val_{k}": _number(v) for k, v in result.items()}
        return {k: v for k, v in numbers.items() if v is not None}

    # ---------------------------------------------------------------------------------------
    # checkpoints
    # ---------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training (see the module docstring)."""
        rng = rng_state(self._generators())
        if self.dist.enabled:  # every rank's generators, so each continues with its own
            gathered: list[Any] = [None] * self.dist.world_size
            torch.distributed.all_gather_object(gathered, rng)
            rngs = gathered
        else:
            rngs = [rng]
        return {
            "format": FORMAT,
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rngs,
            "history": self.history,
            "best_value": self.best_value,
            "seconds": self.prior_seconds + self._segment_seconds()[0],
            "cpu_seconds": self.prior_cpu_seconds + self._segment_seconds()[1],
            "config": self.config,
            "extra": self.extra,
        }

    def _segment_seconds(self) -> tuple[float, float]:
        """Wall-clock and CPU seconds since this segment's :meth:`fit` began (0 before)."""
        if self._fit_start is None:
            return 0.0, 0.0
        return time.perf_counter() - self._fit_start[0], time.process_time() - self._fit_start[1]

    def save(self) -> Path | None:
        """Write ``last.pt`` (and ``history.json``) in ``checkpoint_dir``, from rank 0 only."""
        if self.checkpoint_dir is None:
            return None
        state = self.state_dict()  # collective under DDP: every rank takes part
        if not self.is_main:
            return None
        path = save_checkpoint(state, self.checkpoint_dir / CHECKPOINT_NAME)
        write_json(self.checkpoint_dir / "history.json", {"config": self.config, "history": self.history})
        return path

    def resume(self, path: str | os.PathLike | None = None) -> "Trainer":
        """Load a checkpoint written by :meth:`save` (default ``checkpoint_dir/last.pt``)."""
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("Trainer.resume: no path and no checkpoint_dir")
            path = self.checkpoint_dir / CHECKPOINT_NAME
        ckpt = load_checkpoint(path, map_location="cpu")
        if ckpt.get("format") != FORMAT:
            raise ValueError(f"Trainer.resume: {path} is not a trainer checkpoint ({ckpt.get('format')!r})")
        changed = {k: (ckpt["config"].get(k), v) for k, v in self.config.items() if ckpt["config"].get(k) != v}
        if changed:
            warnings.warn(f"Trainer.resume: settings differ from the checkpoint's (old, new): {changed}", stacklevel=2)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        schedule = dataclasses.replace(self._lr_lambda)  # load_state_dict overwrites its fields
        self.scheduler.load_state_dict(ckpt["scheduler"])
        # the schedule's length follows this run's epochs (a run may be extended); the rest of
        # the optimiser and scheduler state (base rates included) comes from the checkpoint
        self._lr_lambda = self.scheduler.lr_lambdas[0] = schedule
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        self.history = list(ckpt["history"])
        self.best_value = float(ckpt.get("best_value", -math.inf))
        # older checkpoints have no totals: the epochs' own seconds are the best estimate
        self.prior_seconds = float(ckpt.get("seconds", sum(float(h.get("seconds", 0.0)) for h in self.history)))
        self.prior_cpu_seconds = float(ckpt.get("cpu_seconds", 0.0))
        self.resumed_seconds, self.resumed_cpu_seconds = self.prior_seconds, self.prior_cpu_seconds
        rngs = ckpt["rng"]
        if len(rngs) != self.dist.world_size:
            warnings.warn(
                f"Trainer.resume: checkpoint from {len(rngs)} process(es), now {self.dist.world_size}; "
                "every process takes rank 0's random state", stacklevel=2,
            )
        set_rng_state(rngs[self.dist.rank] if len(rngs) == self.dist.world_size else rngs[0], self._generators())
        self._is_frozen = None  # re-apply freezing (and rebuild DDP) for the next epoch
        self._started = True
        return self

    # ---------------------------------------------------------------------------------------
    # the loop
    # ---------------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train until ``epochs`` are done; returns the history (one dict per epoch).

        ``resume=True`` continues from ``checkpoint_dir/last.pt`` when it exists (and starts
        afresh when it does not). Each history entry holds ``epoch`` (1-based), ``lr`` (at the end
        of the epoch), ``step``, ``train_loss`` and ``train_<component>``, ``val_<metric>`` and
        ``seconds``.
        """
        if resume and not self._started and self.checkpoint_dir is not None and (self.checkpoint_dir / CHECKPOINT_NAME).exists():
            self.resume()
        if not self._started:
            if self.seed is not None:
                seed_everything(self.seed + self.dist.rank)
            self._started = True
        self._fit_start = (time.perf_counter(), time.process_time())
        for epoch in range(self.epoch, self.epochs):
            start = time.perf_counter()
            record: dict[str, Any] = {"epoch": epoch + 1}
            record.update(self._train_epoch(epoch))
            record["lr"] = self._lr()
            record["step"] = self.step
            record.update(self._validate())
            record["seconds"] = time.perf_counter() - start
            self.history.append(record)
            self.epoch = epoch + 1
            self._save_best(record)
            self.save()
        wall, cpu = self._segment_seconds()
        self.prior_seconds, self.prior_cpu_seconds, self._fit_start = self.prior_seconds + wall, self.prior_cpu_seconds + cpu, None
        return self.history

    def _save_best(self, record: Mapping[str, Any]) -> None:
        if self.best_metric is None or self.best_metric not in record:
            return
        value = float(record[self.best_metric])
        if value > self.best_value:
            self.best_value = value
            if self.checkpoint_dir is not None and self.is_main:
                save_checkpoint(
                    {"format": FORMAT + "/best", "epoch": self.epoch, "model": self.model.state_dict(),
                     "record": dict(record), "config": self.config, "extra": self.extra},
                    self.checkpoint_dir / BEST_NAME,
                )
