"""Issue #16, findings 1-3: exact resume with the real recipe, one loader start per epoch, and no
silent overwrite or re-clustering when a run is continued.

The kill-and-resume test runs the real command line (synthetic shapes, flips and mosaic on, two
loader workers) as a subprocess, kills it with SIGKILL at three points, resumes it each time, and
compares the final checkpoint bit for bit with an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from attnlab.data.loader import EpochLoader, detection_collate, make_loader
from attnlab.train import Trainer

ROOT = Path(__file__).resolve().parent.parent
TRAIN = [
    sys.executable, "-m", "attnlab", "train", "--profile", "quick", "--image-size", "64", "--n-train", "32",
    "--n-val", "8", "--n-test", "8", "--epochs", "3", "--batch-size", "8", "--mosaic", "0.5", "--seed", "0", "--threads", "1",
    "--no-progress", "--no-plot",
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ATTNLAB_NUM_WORKERS"] = "2"  # the loader starts two worker processes, as on a GPU machine
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("ATTNLAB_PROFILE", None)
    return env


def _epochs_done(out: Path) -> int:
    try:
        return len(json.loads((out / "history.json").read_text())["history"])
    except (OSError, ValueError, KeyError):
        return 0


def _run_and_kill(out: Path, *extra: str, after_epochs: int | None, delay: float = 0.0) -> int | None:
    """Start a training run; SIGKILL it ``delay`` s after ``after_epochs`` epochs are checkpointed
    (``None``: run it to the end). Returns the epochs checkpointed when the kill landed."""
    proc = subprocess.Popen([*TRAIN, "--out", str(out), *extra], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if after_epochs is None:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        return None
    deadline = time.monotonic() + 300
    try:
        while _epochs_done(out) < after_epochs and proc.poll() is None:
            assert time.monotonic() < deadline, "training did not reach the kill point"
            time.sleep(0.005)
        time.sleep(delay)
        assert proc.poll() is None, "the run ended before it could be killed: make the kill point earlier"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return _epochs_done(out)


def _assert_bitwise_equal(a: dict, b: dict, where: str = "") -> int:
    """Compare two nested checkpoint structures; returns the number of tensors compared."""
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        if not (a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)):
            pytest.fail(f"tensor {where} differs between the uninterrupted and the resumed run")
        return 1
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        return sum(_assert_bitwise_equal(a[k], b[k], f"{where}/{k}") for k in a)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        return sum(_assert_bitwise_equal(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
    assert a == b, f"{where}: {a!r} != {b!r}"
    return 0


def test_cli_run_killed_three_times_resumes_bit_identical(tmp_path: Path) -> None:
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    _run_and_kill(reference, after_epochs=None)
    # kill 1: during start-up or epoch 1, before any checkpoint (resume then starts afresh)
    proc = subprocess.Popen([*TRAIN, "--out", str(killed)], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    while "recipe:" not in proc.stdout.readline():
        assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (killed / "last.pt").exists()
    # kill 2: in epoch 2, right after epoch 1's checkpoint; kill 3: in epoch 3
    landed = [_run_and_kill(killed, "--resume", after_epochs=1), _run_and_kill(killed, "--resume", after_epochs=2)]
    assert 1 in landed or 2 in landed  # at least one kill fell inside an epoch (before its checkpoint)
    _run_and_kill(killed, "--resume", after_epochs=None)

    ref = torch.load(reference / "last.pt", weights_only=True)
    got = torch.load(killed / "last.pt", weights_only=True)
    assert ref["epoch"] == got["epoch"] == 3
    for key in ("model", "optimizer", "scheduler", "scaler", "rng"):
        assert _assert_bitwise_equal(ref[key], got[key], key) >= (100 if key == "model" else 0)
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(ref["history"]) == strip(got["history"])
    r1, r2 = (json.loads((d / "results.json").read_text()) for d in (reference, killed))
    assert r1["metrics"] == r2["metrics"]
    # finding 3: the time reported after a resume covers every segment's training
    assert r2["seconds"] >= sum(e["seconds"] for e in got["history"]) - 1e-6


# ---------------------------------------------------------------------------------------------
# finding 2: one iter() (one start of the workers) per epoch, augmentation epochs 0, 1, 2
# ---------------------------------------------------------------------------------------------


class _EpochRecorder(Dataset):
    """Eight tiny images; records every set_epoch call."""

    def __init__(self) -> None:
        self.epochs: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        return torch.full((3, 4, 4), float(i) / 8), torch.zeros(0, 5)


class _Counting(EpochLoader):
    starts = 0

    def __iter__(self):
        type(self).starts += 1
        return super().__iter__()


def _tiny_trainer(loader, **kw) -> Trainer:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 1))
    loss = lambda out, targets: (out.pow(2).mean(), {})  # noqa: E731
    return Trainer(model, loss, loader, epochs=3, warmup_epochs=0, device="cpu", progress=True, **kw)


def test_loader_starts_once_per_epoch_and_follows_the_trainer_epoch(tmp_path: Path) -> None:
    _Counting.starts = 0
    data = _EpochRecorder()
    loader = _Counting(data, batch_size=4, collate_fn=detection_collate)
    _tiny_trainer(loader, checkpoint_dir=tmp_path).fit()
    assert _Counting.starts == 3
    assert data.epochs == [0, 1, 2]
    # resumed at epoch 2 in a new process-like setting: the loader is new, its epoch is derived
    data2 = _EpochRecorder()
    longer = Trainer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 1)),
                     lambda out, t: (out.pow(2).mean(), {}), make_loader(data2, 4, num_workers=0),
                     epochs=5, warmup_epochs=0, device="cpu", progress=False, checkpoint_dir=tmp_path)
    longer.fit(resume=True)
    assert data2.epochs == [3, 4]


def test_epoch_loader_set_epoch_checks_its_argument() -> None:
    loader = EpochLoader(_EpochRecorder(), batch_size=4, collate_fn=detection_collate)
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match=r"EpochLoader.set_epoch: epoch must be an int >= 0, got"):
            loader.set_epoch(bad)


def test_trainer_refuses_zero_epochs() -> None:
    loader = EpochLoader(_EpochRecorder(), batch_size=4, collate_fn=detection_collate)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=r"Trainer: epochs must be an int >= 1, got"):
            Trainer(torch.nn.Linear(1, 1), lambda o, t: (o.sum(), {}), loader, epochs=bad, device="cpu")


# ---------------------------------------------------------------------------------------------
# finding 3: resuming with another image size is refused (it would re-cluster the anchors)
# ---------------------------------------------------------------------------------------------


def test_resume_with_another_image_size_is_refused(tmp_path: Path) -> None:
    from attnlab.train.recipes import train_detector

    tiny = dict(profile="quick", n_train=8, n_val=4, epochs=1, batch_size=8, progress=False, device="cpu")
    train_detector("none", image_size=64, checkpoint_dir=tmp_path, **tiny)
    with pytest.raises(ValueError, match=r"cannot resume .*last.pt: image_size 64 \(checkpoint\) vs 96 \(now\)"):
        train_detector("none", image_size=96, checkpoint_dir=tmp_path, resume=True, **tiny)
    with pytest.raises(ValueError, match=r"attention 'none' \(checkpoint\) vs 'se' \(now\)"):
        train_detector("se", image_size=64, checkpoint_dir=tmp_path, resume=True, **tiny)
