"""attnlab.train.speed (the trainer's mode) and `bench train`'s modes side by side."""

from __future__ import annotations

import json

import pytest
import torch

from attnlab.train import speed
from attnlab.train.speed import MODES, training_mode


def rows(**ms):
    out = []
    for mode, (step_ms, compile_s) in ms.items():
        out.append({"device": "cpu", "mode": mode, "median_ms": step_ms, "compile_s": compile_s})
    return out


@pytest.fixture
def can_compile(monkeypatch):
    monkeypatch.setattr(speed, "compile_available", lambda device="cpu": True)


@pytest.fixture
def nothing_committed(monkeypatch):
    monkeypatch.setattr(speed, "committed_rows", lambda device="cpu": ([], None))


def test_defaults_without_measurements_and_switch_off(can_compile, nothing_committed):
    assert training_mode("cpu") == speed.DEFAULT_MODES["cpu"] == "eager"
    assert training_mode(torch.device("cpu"), enabled=False) == "eager"
    assert speed.DEFAULT_MODES["cuda"] == "channels_last"
    assert training_mode("cuda:0") == "channels_last"  # no CUDA needed to choose
    assert "no measurement" in speed.choose_mode("cuda").reason


def test_the_committed_measurement_is_the_default(can_compile):
    """Without ``measured`` the rows of results/train_bench_cpu.json decide, as if passed."""
    rows, source = speed.committed_rows("cpu")
    assert source == "results/train_bench_cpu.json" and rows
    assert {r["device"] for r in rows} == {"cpu"} and {r["size"] for r in rows} >= {128, 416}
    for run in [dict(steps=1600, size=128, batch=8), dict(steps=30_000, size=416, batch=8), {}]:
        got = speed.choose_mode("cpu", **run)
        assert got.mode == training_mode("cpu", measured=rows, **run)
        assert got.reason.startswith(f"{got.mode}: ") and f" in {source} at " in got.reason
    assert training_mode("cpu", enabled=False) == "eager"


def test_the_nearest_measured_size_decides_and_step_times_scale(can_compile):
    """Small images: channels-last's saving is small and compiling does not pay; large images
    over many steps: it does. The run's step time is the nearest measurement's, scaled by pixels."""
    measured = [{"device": "cpu", "mode": m, "median_ms": t, "compile_s": c, "size": size, "batch": 8}
                for size, m, t, c in [(128, "eager", 100.0, None), (128, "channels_last", 90.0, None),
                                      (128, "compile", 85.0, 60.0),
                                      (416, "eager", 1000.0, None), (416, "channels_last", 900.0, None),
                                      (416, "compile", 700.0, 60.0)]]
    # 128 px: 1,000 steps cost 100 / 90 / 85 + 60 s -> channels_last
    assert training_mode("cpu", measured=measured, steps=1000, size=128, batch=8) == "channels_last"
    # 416 px: 1,000 steps cost 1000 / 900 / 760 s -> compile
    assert training_mode("cpu", measured=measured, steps=1000, size=416, batch=8) == "compile"
    # 160 px, batch 8 is nearest 128 px; its steps take (160/128)^2 = 1.5625x as long:
    # 1,000 steps cost 156 / 141 / 133 + 60 s -> channels_last; 10,000 steps: 1,406 vs 1,388 s -> compile
    assert training_mode("cpu", measured=measured, steps=1000, size=160, batch=8) == "channels_last"
    assert training_mode("cpu", measured=measured, steps=10_000, size=160, batch=8) == "compile"
    choice = speed.choose_mode("cpu", measured=measured, steps=1000, size=416, batch=8)
    assert choice.reason == ("compile: fastest in the given measurements at 416 px, batch 8 for 1,000 steps, "
                             "compile time counted (1.32x faster than eager)")
    # each mode is judged by its mean over the attention variants measured
    two = measured[:2] + [dict(r, median_ms=r["median_ms"] + 40.0) for r in measured[:2]]  # a slower variant
    assert training_mode("cpu", measured=two, size=128, batch=8) == "channels_last"  # 110 vs 120 ms


def test_a_saving_within_the_noise_keeps_eager(can_compile):
    """Leaving eager needs an expected saving of at least MIN_SAVING (5 %) of eager's time."""
    assert speed.MIN_SAVING == 0.05
    near = rows(eager=(100.0, None), channels_last=(96.0, None))  # 4 % saved
    choice = speed.choose_mode("cpu", measured=near)
    assert choice.mode == "eager" and choice.reason == "eager: no other mode saves 5% of its time in the given measurements"
    assert training_mode("cpu", measured=rows(eager=(100.0, None), channels_last=(94.0, None))) == "channels_last"
    with pytest.raises(ValueError, match="size must be a positive int or None, got 0"):
        training_mode("cpu", measured=near, size=0, batch=8)


def test_fastest_measured_mode_wins_and_compile_time_counts(can_compile):
    measured = rows(eager=(100.0, None), channels_last=(90.0, None), compile=(60.0, 90.0))
    assert training_mode("cpu", measured=measured) == "compile"  # per step only
    assert training_mode("cpu", measured=measured, steps=100) == "channels_last"  # 9 s vs 96 s
    assert training_mode("cpu", measured=measured, steps=10_000) == "compile"  # 900 s vs 690 s
    assert training_mode("cpu", measured=measured, steps=10_000, allow_compile=False) == "channels_last"
    assert training_mode("cpu", measured=measured, enabled=False) == "eager"


def test_other_devices_errors_and_ties(can_compile):
    measured = rows(eager=(100.0, None), channels_last=(100.0, None))
    measured += [{"device": "cuda", "mode": "compile", "median_ms": 1.0, "compile_s": 1.0},
                 {"device": "cpu", "mode": "compile", "median_ms": None, "error": "InductorError: no compiler"}]
    assert training_mode("cpu", measured=measured) == "eager"  # a tie goes to the simpler mode
    assert training_mode("cuda", measured=measured) == "compile"


def test_no_compiler_means_no_compiled_mode(monkeypatch):
    monkeypatch.setattr(speed, "compile_available", lambda device="cpu": False)
    measured = rows(eager=(100.0, None), compile=(10.0, 1.0))
    assert training_mode("cpu", measured=measured, steps=1000) == "eager"


def test_measured_from_a_file_and_bad_arguments(tmp_path, can_compile):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"benchmark": "train", "results": rows(eager=(50.0, None), channels_last=(40.0, None))}))
    assert training_mode("cpu", measured=path) == "channels_last"
    assert training_mode("cpu", measured=str(path)) == "channels_last"
    with pytest.raises(FileNotFoundError, match="bench train"):
        training_mode("cpu", measured=tmp_path / "missing.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="no 'results'"):
        training_mode("cpu", measured=tmp_path / "other.json")
    with pytest.raises(ValueError, match="steps must be a positive int or None, got 0"):
        training_mode("cpu", steps=0)
    with pytest.raises(TypeError, match="measured must be"):
        training_mode("cpu", measured=3)


def test_apply_mode_and_prepare_images():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    x = torch.rand(2, 3, 8, 8)
    assert speed.apply_training_mode(net, "eager") is net and speed.prepare_images(x, "eager") is x
    speed.apply_training_mode(net, "channels_last")
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert speed.prepare_images(x, "channels_last").is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match=r"mode must be one of \['eager', 'channels_last', 'compile', "
                                         r"'compile_channels_last'\], got 'fast'"):
        speed.apply_training_mode(net, "fast")
    assert speed.mode_list("eager, compile,eager") == ["eager", "compile"]
    with pytest.raises(ValueError, match="--modes"):
        speed.mode_list("eager,jit")
    assert set(MODES) == {"eager", "channels_last", "compile", "compile_channels_last"}


def test_bench_train_modes_side_by_side(tmp_path, capsys):
    from attnlab.__main__ import main

    out = tmp_path / "train.json"
    assert main(["bench", "train", "--quick", "--device", "cpu", "--phis", "0",
                 "--modes", "eager,channels_last", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "speedup_vs_eager" in text and "compile_s" in text and "profile's detector run (128 px, batch 8" in text
    payload = json.loads(out.read_text())
    got = payload["results"]
    assert [(r["attention"], r["mode"]) for r in got] == [("none", "eager"), ("none", "channels_last")]
    for r in got:
        assert r["images_per_s"] == pytest.approx(r["batch"] / (r["median_ms"] / 1e3))
        assert r["first_step_s"] > 0 and r["compile_s"] is None and r["optimizer"] == "sgd"
    assert got[0]["speedup_vs_eager"] == 1.0
    assert payload["training_mode"]["cpu"] in ("eager", "channels_last")
    assert payload["modes"] == ["eager", "channels_last"]


def test_bench_train_bad_modes_are_refused(capsys):
    from attnlab.train.bench import main

    with pytest.raises(SystemExit):
        main(["--quick", "--modes", "eager,turbo"])
    assert "--modes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--quick", "--phis", "7"])


def test_a_failing_mode_is_reported_and_the_others_still_run(monkeypatch):
    from attnlab.train import bench

    real = bench.apply_training_mode

    def broken(model, mode, **kw):
        if mode == "compile":
            raise RuntimeError("no C++ compiler\nmore lines")
        return real(model, mode, **kw)

    monkeypatch.setattr(bench, "apply_training_mode", broken)
    got = bench.measure("cpu", size=64, batch=1, repeats=1, warmup=0, phis=[0], modes=["eager", "compile"])
    assert got[0]["images_per_s"] > 0 and got[0]["speedup_vs_eager"] == 1.0
    assert got[1]["error"] == "RuntimeError: no C++ compiler" and got[1]["images_per_s"] is None


@pytest.mark.slow
def test_bench_train_compiled_mode_cpu():
    """torch.compile of the detector's training step (about a minute or two on 2 CPU cores)."""
    from attnlab.train.bench import measure

    got = measure("cpu", size=64, batch=1, repeats=1, warmup=0, phis=[0], modes=["eager", "compile"])
    assert "error" not in got[1], got[1].get("error")
    assert got[1]["compile_s"] > 0 and got[1]["images_per_s"] > 0
    torch._dynamo.reset()
