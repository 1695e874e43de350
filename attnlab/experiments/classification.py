"""Small, seeded classification experiments: train one model, or compare variants over seeds.

Everything lives in memory as full tensors (the datasets of Part I are a few thousand small
images), so the loop is a plain readable one with no DataLoader::

    >>> from attnlab import get_profile
    >>> from attnlab.experiments.classification import compare, summarise
    >>> rows = compare({"baseline": "none", "SE": "se"}, get_profile("quick"))   # doctest: +SKIP
    >>> summarise(rows)                                                          # doctest: +SKIP

Determinism: for a given seed the weights (``AttentionCNN(seed=...)``) and the order of the
mini-batches (a seeded :class:`torch.Generator`) are fixed, so on a CPU the same seed gives the same
accuracy twice. On a GPU some kernels are not bitwise deterministic; expect small differences.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from attnlab.models.classifier import AttentionCNN

Tensors = tuple[torch.Tensor, torch.Tensor]
VariantSpec = Union[str, Mapping[str, Any], Callable[[], nn.Module]]

__all__ = ["train_classifier", "evaluate", "compare", "summarise", "load_data", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_split(name: str, split: Sequence[torch.Tensor]) -> Tensors:
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise TypeError(f"{name} must be a pair (images, labels), got {type(split).__name__}")
    images, labels = split
    images, labels = torch.as_tensor(images), torch.as_tensor(labels)
    if images.dim() != 4:
        raise ValueError(f"{name} images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{name} labels must be (N,) with N = {images.shape[0]} images, got shape {tuple(labels.shape)}"
        )
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return images.float(), labels.long()


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 256,
             device: str | torch.device = "cpu") -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(images, labels)``, in eval mode."""
    images, labels = _check_split("evaluate data", (images, labels))
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        y = labels[i:i + batch_size].to(device)
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return {"loss": total_loss / len(images), "acc": correct / len(images)}


def train_classifier(
    model: nn.Module,
    train: Sequence[torch.Tensor],
    val: Sequence[torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    device: str | torch.device = "cpu",
    verbose: bool = False,
    threads: int | None = 1,
    amp: bool | str = "auto",
    channels_last: bool | str = "auto",
) -> dict[str, Any]:
    """Train ``model`` with AdamW and a cosine learning-rate schedule; evaluate after each epoch.

    Args:
        model: any module mapping ``(B, C, H, W)`` images to ``(B, K)`` logits. Moved to ``device``.
        train, val: pairs ``(images (N, C, H, W) float, labels (N,) int)``.
        epochs, batch_size: loop sizes (>= 1). The last, smaller batch of an epoch is kept.
        lr, weight_decay: AdamW settings.
        seed: seeds the order of the mini-batches (the weights are the caller's: build the model
            with ``seed=`` for a seeded initialisation).
        device: where to train.
        verbose: print one line per epoch.
        threads: CPU threads torch may use while training (restored afterwards); ``None`` keeps
            the current setting. The default is 1: the book's networks are so small that a second
            thread mostly waits on the first, and on a busy 2-core machine it was 9x slower.
        amp: mixed precision: ``"auto"`` is on for CUDA (float16 with a gradient scaler) and
            off elsewhere; ``True`` on a CPU autocasts to bfloat16 (slower there: for testing).
        channels_last: keep the model and batches in channels-last memory order (``"auto"``: on
            for CUDA, where convolutions run faster that way).

    Returns:
        dict: ``history`` (one ``{"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}`` per
        epoch; ``train_acc`` is counted on the training batches as they pass, in training mode),
        ``step_losses`` (one loss per step), ``val_acc`` (final accuracy), ``val_loss``,
        ``train_acc``, ``params`` and ``seconds``.

    Raises:
        ValueError / TypeError: malformed data or sizes.
    """
    x_train, y_train = _check_split("train", train)
    x_val, y_val = _check_split("val", val)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_classifier: {name} must be an integer >= 1, got {value!r}")
    if not lr > 0:
        raise ValueError(f"train_classifier: lr must be > 0, got {lr!r}")

    for name, value in (("amp", amp), ("channels_last", channels_last)):
        if value != "auto" and not isinstance(value, bool):
            raise ValueError(f"train_classifier: {name} must be 'auto', True or False, got {value!r}")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"train_classifier: threads must be None or an integer >= 1, got {threads!r}")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(model, x_train, y_train, x_val, y_val, epochs=epochs, batch_size=batch_size, lr=lr,
                      weight_decay=weight_decay, seed=seed, device=device, verbose=verbose, amp=amp,
                      channels_last=channels_last)
    finally:
        torch.set_num_threads(previous_threads)


def _train(model, x_train, y_train, x_val, y_val, *, epochs, batch_size, lr, weight_decay, seed, device, verbose,
           amp="auto", channels_last="auto"):
    """The loop of :func:`train_classifier`, with its arguments already checked."""
    start = time.perf_counter()
    device = torch.device(device)
    cuda = device.type == "cuda"
    amp = cuda if amp == "auto" else amp
    memory_format = torch.channels_last if (cuda if channels_last == "auto" else channels_last) else torch.contiguous_format
    amp_dtype = torch.float16 if cuda else torch.bfloat16
    scaler = torch.amp.GradScaler(device.type, enabled=amp and cuda)   # float16 needs loss scaling
    model.to(device, memory_format=memory_format)
    x_train, y_train = x_train.to(device), y_train.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total_steps = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps))
    )
    generator = torch.Generator().manual_seed(seed)

    history, step_losses = [], []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)
        running, correct = 0.0, 0
        for i in range(0, len(x_train), batch_size):
            idx = order[i:i + batch_size]
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                logits = model(x_train[idx].contiguous(memory_format=memory_format))
                loss = F.cross_entropy(logits.float(), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            step_losses.append(loss.item())
            running += loss.item() * len(idx)
            correct += (logits.argmax(1) == y_train[idx]).sum().item()   # free: logits are here
        val = evaluate(model, x_val, y_val, batch_size=max(batch_size, 256), device=device)
        history.append({"epoch": epoch, "train_loss": running / len(x_train),
                        "train_acc": correct / len(x_train),
                        "val_loss": val["loss"], "val_acc": val["acc"]})
        if verbose:
            h = history[-1]
            print(f"epoch {epoch}/{epochs}  train loss {h['train_loss']:.4f}  "
                  f"val loss {h['val_loss']:.4f}  val acc {h['val_acc']:.4f}")
    train_acc = evaluate(model, x_train, y_train, batch_size=max(batch_size, 256), device=device)["acc"]
    model.eval()
    return {
        "history": history,
        "step_losses": step_losses,
        "val_acc": history[-1]["val_acc"],
        "val_loss": history[-1]["val_loss"],
        "train_acc": train_acc,
        "params": count_parameters(model),
        "seconds": time.perf_counter() - start,
    }


def load_data(profile, *, data_seed: int = 0, task: str = "shapes"):
    """The synthetic shapes classification data at the profile's size: ``(train, val, class_names)``.

    ``train`` and ``val`` are ``(images, labels)`` tensor pairs from
    :func:`attnlab.data.tasks.make_task` (different splits, so no image is shared); ``task`` is
    ``"shapes"`` (the book's standard task), ``"what"`` or ``"where"``.
    """
    from attnlab.data.tasks import make_task

    c = profile.classifier
    tr = make_task(task, c.n_train, image_size=c.image_size, seed=data_seed, split="train")
    va = make_task(task, c.n_val, image_size=c.image_size, seed=data_seed, split="val")
    return tr.tensors(), va.tensors(), list(tr.class_names)


def _build_variant(spec: VariantSpec, *, num_classes: int, width: int, seed: int) -> nn.Module:
    if isinstance(spec, str):
        return AttentionCNN(num_classes, attention=spec, width=width, seed=seed)
    if isinstance(spec, Mapping):
        kwargs = {"width": width, **spec}
        return AttentionCNN(num_classes, seed=seed, **kwargs)
    if callable(spec):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = spec()
        if not isinstance(model, nn.Module):
            raise TypeError(f"a variant factory must return an nn.Module, got {type(model).__name__}")
        return model
    raise TypeError(
        "a variant must be an attention name ('se'), a dict of AttentionCNN keyword arguments "
        f"({{'attention': 'cbam', 'attention_options': {{...}}}}) or a model factory; got {type(spec).__name__}"
    )


def compare(
    variants: Mapping[str, VariantSpec],
    profile,
    seeds: Sequence[int] | None = None,
    *,
    data: tuple[Tensors, Tensors] | None = None,
    num_classes: int | None = None,
    lr: float = 3e-3,
    epochs: int | None = None,
    keep_models: bool = False,
    verbose: bool = False,
) -> list[dict[str, Any]]:
    """Train every variant once per seed on the same data; one row per (variant, seed).

    Args:
        variants: name -> an attention name (``"se"``; gives ``AttentionCNN(attention=name)``), a
            dict of :class:`AttentionCNN` keyword arguments (``{"attention": "cbam",
            "attention_options": {"kernel_size": 3}}``), or a zero-argument model factory (called
            under ``torch.manual_seed(seed)``).
        profile: an :class:`attnlab.Profile`; its ``classifier`` sizes and ``device`` are used.
        seeds: seeds to repeat over (default ``profile.seeds``). A seed fixes the weights and the
            batch order; the data are the same for every seed.
        data: ``(train, val)`` tensor pairs; default :func:`load_data` at the profile's size.
        num_classes: default ``max(label) + 1`` of the training labels.
        lr: learning rate; ``epochs`` overrides ``profile.classifier.epochs``.
        keep_models: add the trained model to each row under ``"model"``.
        verbose: print a line per run.

    Returns:
        A list of rows ``{"variant", "seed", "val_acc", "train_acc", "params", "seconds",
        "history"}`` (+ ``"model"``), variants in the given order, seeds inner.
    """
    if not variants:
        raise ValueError("compare: variants is empty")
    seeds = list(profile.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("compare: no seeds")
    if data is None:
        train, val, _ = load_data(profile)
    else:
        train, val = data
    train, val = _check_split("train", train), _check_split("val", val)
    if num_classes is None:
        num_classes = int(train[1].max().item()) + 1
    c = profile.classifier
    rows = []
    for name, spec in variants.items():
        for seed in seeds:
            model = _build_variant(spec, num_classes=num_classes, width=c.width, seed=seed)
            result = train_classifier(model, train, val, epochs=epochs or c.epochs,
                                      batch_size=c.batch_size, lr=lr, seed=seed, device=profile.device)
            row = {"variant": name, "seed": seed, "val_acc": result["val_acc"],
                   "train_acc": result["train_acc"], "params": result["params"],
                   "seconds": result["seconds"], "history": result["history"]}
            if keep_models:
                row["model"] = model
            if verbose:
                print(f"{name:>12s}  seed {seed}  val acc {row['val_acc']:.4f}  "
                      f"params {row['params']:,}  {row['seconds']:.1f} s")
            rows.append(row)
    return rows


def summarise(rows: Sequence[Mapping[str, Any]], key: str = "val_acc") -> list[dict[str, Any]]:
    """Per-variant mean, sample standard deviation, min and max of ``key`` over seeds.

    Returns one dict per variant, in first-seen order: ``{"variant", "n", "mean", "std", "min",
    "max", "params", "seconds"}`` (``std`` is 0 for a single seed; ``seconds`` is the mean).
    """
    if not rows:
        raise ValueError("summarise: no rows")
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["variant"], []).append(row)
    out = []
    for name, group in groups.items():
        values = [float(r[key]) for r in group]
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        out.append({"variant": name, "n": n, "mean": mean, "std": std, "min": min(values),
                    "max": max(values), "params": group[0].get("params"),
                    "seconds": sum(float(r.get("seconds", 0.0)) for r in group) / n})
    return out
