"""attnlab.train: schedule, atomic checkpoints, exact resumption after SIGKILL, freezing, DDP."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler, TensorDataset

from attnlab.train import Trainer, WarmupCosine, load_checkpoint, rng_state, save_checkpoint, set_rng_state, warmup_cosine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train_worker as tw  # noqa: E402

WORKER = str(HERE / "train_worker.py")
ENV = {**os.environ, "PYTHONPATH": str(HERE.parent), "OMP_NUM_THREADS": "1"}


# ------------------------------------------------------------------------------------------
# schedule
# ------------------------------------------------------------------------------------------


def test_schedule_key_steps() -> None:
    base, lo, total, warm, start = 0.1, 0.002, 100, 10, 0.2
    f = lambda s: warmup_cosine(s, base_lr=base, total_steps=total, warmup_steps=warm, min_lr=lo, warmup_start=start)  # noqa: E731
    assert f(0) == pytest.approx(base * start)
    assert f(5) == pytest.approx(base * (start + (1 - start) * 0.5))
    assert f(10) == pytest.approx(base)  # peak at the end of warm-up
    assert f(55) == pytest.approx((base + lo) / 2)  # half-way down the cosine
    assert f(10 + 90 // 3) == pytest.approx(lo + 0.5 * (base - lo) * (1 + math.cos(math.pi / 3)))
    assert f(100) == pytest.approx(lo) and f(1000) == pytest.approx(lo)
    values = [f(s) for s in range(total + 1)]
    assert all(a < b for a, b in zip(values[:warm], values[1 : warm + 1]))  # rising
    assert all(a >= b for a, b in zip(values[warm:], values[warm + 1 :]))  # then falling
    assert warmup_cosine(3, base_lr=1.0, total_steps=10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.3)))
    assert WarmupCosine(100, 10, 0.02, 0.2)(55) == pytest.approx(f(55) / base)
    with pytest.raises(ValueError):
        warmup_cosine(0, base_lr=1.0, total_steps=10, warmup_steps=11)


def test_trainer_follows_schedule_per_step() -> None:
    train, _ = tw.data()
    torch.manual_seed(0)
    model = tw.TinyCNN()
    seen: list[float] = []
    trainer: Trainer

    def loss(out, y):
        seen.append(trainer.optimizer.param_groups[0]["lr"])
        return tw.loss_fn(out, y)

    trainer = Trainer(model, loss, DataLoader(train, batch_size=16), optimizer="adamw", lr=1e-3, epochs=3,
                      warmup_epochs=1.5, warmup_start=0.1, min_lr_ratio=0.05, progress=False)
    history = trainer.fit()
    steps = trainer.steps_per_epoch * 3
    expected = [warmup_cosine(s, base_lr=1e-3, total_steps=steps, warmup_steps=6, min_lr=5e-5, warmup_start=0.1) for s in range(steps)]
    assert seen == pytest.approx(expected, rel=1e-12)
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[-1]["step"] == steps
    assert {"train_loss", "train_ce", "lr", "seconds"} <= set(history[0])


# ------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------


def test_save_checkpoint_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint({"epoch": 1, "w": torch.arange(3)}, path)
    (path.parent / ".last.pt.tmp-99999").write_bytes(b"left by a killed writer")

    def failing_save(obj, f, *a, **kw):
        f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1  # the old checkpoint is untouched
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary files left
    save_checkpoint({"epoch": 3}, path)
    assert load_checkpoint(path)["epoch"] == 3


def test_rng_state_round_trip() -> None:
    import random

    import numpy as np

    g = torch.Generator().manual_seed(5)
    state = rng_state({"loader": g})
    first = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=g))
    set_rng_state(state, {"loader": g})
    second = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=g))
    assert torch.equal(first[0], second[0]) and (first[1] == second[1]).all()
    assert first[2] == second[2] and torch.equal(first[3], second[3])


def _run_worker(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, WORKER, *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=True)


def _start_and_kill(args: list[str], flag: Path, timeout: float = 60) -> None:
    """Start the worker, wait until it writes ``flag``, SIGKILL it."""
    proc = subprocess.Popen([sys.executable, WORKER, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early ({proc.returncode}): {proc.stdout.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("worker never reached the flag")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stdout.close()


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted run: 3 epochs of 8 steps."""
    d = tmp_path_factory.mktemp("reference")
    _run_worker("run", "--dir", str(d / "ck"), "--out", str(d / "final.pt"))
    return torch.load(d / "final.pt", weights_only=True)


def _assert_same_run(a: dict, b: dict) -> None:
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name  # bitwise
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])  # the same loss curve, to the last bit


def test_sigkill_mid_epoch_then_resume_is_exact(tmp_path: Path, reference_run: dict) -> None:
    ck, flag = tmp_path / "ck", tmp_path / "flag"
    # killed at step 12 of 24: in epoch 2, after the epoch-1 checkpoint
    _start_and_kill(["run", "--dir", str(ck), "--flag", str(flag), "--flag-at-step", "12"], flag)
    killed = load_checkpoint(ck / "last.pt")
    assert killed["epoch"] == 1 and killed["step"] == 8 and len(killed["history"]) == 1
    _run_worker("run", "--dir", str(ck), "--resume", "--out", str(tmp_path / "final.pt"))
    resumed = torch.load(tmp_path / "final.pt", weights_only=True)
    _assert_same_run(reference_run, resumed)
    assert reference_run["history"][-1]["val_accuracy"] > 0.3  # it did learn something


def test_sigkill_during_checkpoint_write_keeps_previous(tmp_path: Path, reference_run: dict) -> None:
    ck, flag = tmp_path / "ck", tmp_path / "flag"
    _start_and_kill(["run", "--dir", str(ck), "--flag", str(flag), "--hang-save", "2"], flag)  # 2nd save
    leftovers = list(ck.glob(".last.pt.tmp-*"))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 0  # the half-written file
    with pytest.raises(Exception):
        torch.load(leftovers[0], weights_only=True)
    assert load_checkpoint(ck / "last.pt")["epoch"] == 1  # the previous checkpoint, intact
    _run_worker("run", "--dir", str(ck), "--resume", "--out", str(tmp_path / "final.pt"))
    assert not list(ck.glob(".last.pt.tmp-*"))  # cleaned up by the next save
    _assert_same_run(reference_run, torch.load(tmp_path / "final.pt", weights_only=True))


# ------------------------------------------------------------------------------------------
# trainer behaviour in-process
# ------------------------------------------------------------------------------------------


def test_freeze_backbone_then_thaw(tmp_path: Path) -> None:
    train, val = tw.data()
    torch.manual_seed(0)
    model = tw.TinyCNN(norm=False)
    snapshots: list[dict[str, torch.Tensor]] = []

    def val_fn(m):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return {"n": len(snapshots), "note": "non-numbers are kept out of the history"}

    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, tw.loss_fn, DataLoader(train, batch_size=16, shuffle=True), val_fn=val_fn, epochs=2,
                      freeze="backbone", freeze_epochs=1, checkpoint_dir=tmp_path, best_metric="val_n", progress=False)
    history = trainer.fit()
    backbone = [k for k in start if k.startswith("backbone")]
    head = [k for k in start if k.startswith("head")]
    assert all(torch.equal(snapshots[0][k], start[k]) for k in backbone)  # frozen in epoch 1
    assert not any(torch.equal(snapshots[0][k], start[k]) for k in head)
    assert not any(torch.equal(snapshots[1][k], snapshots[0][k]) for k in backbone)  # thawed in 2
    assert all(p.requires_grad for p in model.parameters())
    assert history[1]["val_n"] == 2 and "val_note" not in history[1]
    assert trainer.last_val["note"].startswith("non-numbers")
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == 2 and best["record"]["val_n"] == 2
    assert (tmp_path / "history.json").exists()
    with pytest.raises(ValueError, match="no sub-module"):
        Trainer(model, tw.loss_fn, DataLoader(train), freeze="neck", freeze_epochs=1)


def test_list_targets_amp_off_on_cpu_and_nan() -> None:
    x = torch.randn(8, 4)
    targets = [torch.randn(2) for _ in range(8)]
    loader = [(x[:4], targets[:4]), (x[4:], targets[4:])]  # any iterable of (images, targets)
    model = nn.Linear(4, 2)

    def loss(out, tgt):
        assert isinstance(tgt, list) and len(tgt) == 4
        total = ((out - torch.stack(tgt)) ** 2).mean()
        return total, {"mse": total.detach(), "const": 1.0}

    trainer = Trainer(model, loss, loader, epochs=1, warmup_epochs=0, progress=True, device="cpu")
    assert trainer.use_amp is False
    history = trainer.fit()
    assert history[0]["train_const"] == 1.0 and history[0]["train_mse"] == pytest.approx(history[0]["train_loss"])
    with pytest.raises(ValueError, match="amp must be 'auto', True or False"):
        Trainer(model, loss, loader, amp="fp16", device="cpu")
    with pytest.raises(ValueError, match="mode must be 'auto', 'off' or one of"):
        Trainer(model, loss, loader, mode="fast", device="cpu")
    nan_loss = lambda out, tgt: (out.sum() * float("nan"), {})  # noqa: E731
    with pytest.raises(FloatingPointError, match="loss is nan"):
        Trainer(model, nan_loss, loader, epochs=1, progress=False).fit()


def test_resume_in_process_continues(tmp_path: Path) -> None:
    """fit(resume=True) with no checkpoint starts afresh; a longer run resumes the shorter one."""
    train, _ = tw.data()

    def make(epochs: int) -> Trainer:
        torch.manual_seed(0)
        loader = DataLoader(train, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(3))
        return Trainer(tw.TinyCNN(), tw.loss_fn, loader, epochs=epochs, checkpoint_dir=tmp_path, progress=False)

    assert len(make(1).fit(resume=True)) == 1
    longer = make(2)
    with pytest.warns(UserWarning, match="settings differ"):
        history = longer.fit(resume=True)
    assert [h["epoch"] for h in history] == [1, 2]
    assert longer.scheduler.lr_lambdas[0].total_steps == 2 * longer.steps_per_epoch  # this run's length
    assert history[0]["lr"] == pytest.approx(0.01 * 0.01)  # the 1-epoch run ended at min_lr ...
    assert history[1]["lr"] == pytest.approx(0.01 * 0.01)  # ... and so does the extended one
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2


# ------------------------------------------------------------------------------------------
# DDP: two gloo processes on the CPU
# ------------------------------------------------------------------------------------------


class _UnionOfRanks(Sampler):
    """Batches that are the union of what each DDP rank gets for the same step."""

    def __init__(self, n: int, world: int, per_rank: int, seed: int) -> None:
        self.n, self.world, self.per_rank, self.seed, self.epoch = n, world, per_rank, seed, 0

    def __iter__(self):
        shards = []
        for r in range(self.world):
            s = DistributedSampler(range(self.n), num_replicas=self.world, rank=r, shuffle=True, seed=self.seed)
            s.set_epoch(self.epoch)
            shards.append(list(s))
        self.epoch += 1
        for i in range(0, len(shards[0]), self.per_rank):
            yield [j for shard in shards for j in shard[i : i + self.per_rank]]

    def __len__(self) -> int:
        return math.ceil(self.n / self.world / self.per_rank)


def test_ddp_two_gloo_processes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           WORKER, "ddp", "--dir", str(tmp_path / "ck"), "--out", str(out), "--epochs", "2"]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r0 = torch.load(out / "rank0.pt", weights_only=True)
    r1 = torch.load(out / "rank1.pt", weights_only=True)
    assert r0["world_size"] == 2
    for name in r0["model"]:
        assert torch.equal(r0["model"][name], r1["model"][name]), name  # replicas stay identical
    ck = load_checkpoint(tmp_path / "ck" / "last.pt")
    assert ck["epoch"] == 2 and len(ck["rng"]) == 2  # one writer, every rank's random state

    # expected behaviour: the same as one process whose batches are the union of both ranks'
    train, _ = tw.data()
    torch.manual_seed(0)
    model = tw.TinyCNN(norm=False, dropout=0.0)
    loader = DataLoader(train, batch_sampler=_UnionOfRanks(len(train), 2, tw.BATCH // 2, seed=1))
    kwargs = tw.trainer_kwargs(2) | {"deterministic": False}
    history = Trainer(model, tw.loss_fn, loader, **kwargs).fit()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(r0["model"][name], value, rtol=1e-4, atol=1e-5)
    assert [h["train_loss"] for h in r0["history"]] == pytest.approx([h["train_loss"] for h in history], rel=1e-5)


def test_mixed_precision_and_channels_last_paths_run_on_the_cpu() -> None:
    """What CUDA uses by default (autocast, channels-last), exercised here: bfloat16 on the CPU."""
    train, _ = tw.data()
    runs = {}
    for amp, cl in [(False, False), (True, True)]:
        torch.manual_seed(0)
        model = tw.TinyCNN(dropout=0.0)
        trainer = Trainer(model, tw.loss_fn, DataLoader(train, batch_size=16), epochs=1, warmup_epochs=0,
                          progress=False, device="cpu", amp=amp, mode="channels_last" if cl else "off", seed=0)
        assert (trainer.use_amp, trainer.mode, trainer.scaler.is_enabled()) == (amp, "channels_last" if cl else "eager", False)
        if cl:
            conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        runs[amp] = trainer.fit()[0]["train_loss"]
    assert math.isfinite(runs[True]) and runs[True] != runs[False]
    assert runs[True] == pytest.approx(runs[False], rel=0.1)   # bfloat16: close, not equal


def test_auto_mode_is_the_fastest_measured_for_this_run() -> None:
    """mode="auto" asks attnlab.train.speed with the run's steps, image size and batch size."""
    from attnlab.train import speed

    train, _ = tw.data()
    loader = DataLoader(train, batch_size=16)
    measured = [{"device": "cpu", "mode": m, "median_ms": t, "size": 32, "batch": 16}
                for m, t in [("eager", 10.0), ("channels_last", 8.0)]]
    kwargs = dict(epochs=2, warmup_epochs=0, progress=False, device="cpu", seed=0)
    trainer = Trainer(tw.TinyCNN(), tw.loss_fn, loader, mode_bench=measured, image_size=32, **kwargs)
    assert trainer.mode == "channels_last"
    assert trainer.mode_reason == (
        f"channels_last: fastest in the given measurements at 32 px, batch 16 for {2 * len(loader)} steps "
        "(1.25x faster than eager)")
    # the default: the committed measurement, with this run's steps, size and batch
    trainer = Trainer(tw.TinyCNN(), tw.loss_fn, loader, image_size=32, **kwargs)
    choice = speed.choose_mode("cpu", steps=2 * len(loader), size=32, batch=16)
    assert (trainer.mode, trainer.mode_reason) == (choice.mode, choice.reason)
    assert "results/train_bench_cpu.json" in trainer.mode_reason
    trainer = Trainer(tw.TinyCNN(), tw.loss_fn, loader, mode="off", **kwargs)
    assert (trainer.mode, trainer.mode_reason) == ("eager", "eager: asked for")
