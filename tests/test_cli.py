"""The command line: --help for every command, a tiny end-to-end train -> eval -> predict -> export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from attnlab.__main__ import main as attnlab_main
from attnlab.train import cli

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--profile", "quick", "--image-size", "64", "--n-train", "16", "--n-val", "8", "--n-test", "8", "--epochs", "1",
        "--batch-size", "8", "--no-progress"]


@pytest.mark.parametrize("command", ["train", "eval", "predict", "export"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        attnlab_main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"python -m attnlab {command}" in out and "--" in out


def test_bench_train_help(capsys):
    with pytest.raises(SystemExit) as exc:
        attnlab_main(["bench", "train", "--help"])
    assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_help_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "attnlab", "train", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "--attention" in out.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run through the CLI, shared by the tests below: (run folder, stdout)."""
    import contextlib
    import io

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("runs") / "tiny"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.train_main([*TINY, "--attention", "se", "--out", str(out)]) == 0
    return out, buf.getvalue()


@pytest.fixture(scope="module")
def run_dir(trained):
    return trained[0]


def test_train_writes_results(run_dir, capsys):
    results = json.loads((run_dir / "results.json").read_text())
    assert results["attention"] == "se" and results["profile"] == "quick"
    assert results["recipe"]["image_size"] == 64 and results["recipe"]["n_train"] == 16
    assert len(results["history"]) == 1 and "train_loss" in results["history"][0]
    assert set(results["metrics"]) >= {"map50", "map50_voc11", "map"}
    assert results["model"]["input_size"] == [64, 64] and len(results["model"]["anchors"]) == 6
    assert (run_dir / "curves.png").stat().st_size > 0
    assert (run_dir / "last.pt").exists() and (run_dir / "history.json").exists()


def test_train_prints_the_profile(trained):
    out = trained[1]
    assert "attnlab profile 'quick'" in out and "recipe: 16 train / 8 val / 8 test images at 64px" in out and "mAP@0.5" in out


def test_eval(run_dir, tmp_path):
    out = tmp_path / "eval.json"
    assert cli.eval_main(["--checkpoint", str(run_dir), "--n", "4", "--device", "cpu", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["n"] == 4 and payload["image_size"] == 64
    assert payload["model"]["attention"] == "se"
    assert {"map50", "map50_voc11", "map", "per_class"} <= set(payload["metrics"])


def test_eval_without_checkpoint_explains(tmp_path, capsys):
    assert cli.eval_main(["--checkpoint", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "--checkpoint" in err and "no such file or folder" in err and len(err.strip().splitlines()) == 1


def test_predict(run_dir, tmp_path):
    image = tmp_path / "img.png"
    from PIL import Image

    from attnlab.data.shapes import image_rng, make_detection_image

    Image.fromarray(make_detection_image(image_rng(0, "test", 1), 96)[0]).save(image)
    out = tmp_path / "pred"
    assert cli.predict_main([str(image), "--demo", "astronaut", "--checkpoint", str(run_dir), "--conf", "0.0",
                             "--device", "cpu", "--out", str(out)]) == 0
    for name in ("img", "demo_astronaut"):
        payload = json.loads((out / f"{name}.json").read_text())
        assert payload["trained"] is True and isinstance(payload["detections"], list)
        assert (out / f"{name}.png").stat().st_size > 0
    rec = json.loads((out / "img.json").read_text())
    assert rec["image_size"] == [96, 96]
    assert all(0 <= d["box"][0] <= d["box"][2] <= 96 for d in rec["detections"])


def test_export(run_dir, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    assert cli.export_main(["--checkpoint", str(run_dir), "--out", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["input_size"] == 64 and meta["model"]["num_classes"] == 6
    from attnlab.train.recipes import load_trained

    model, _ = load_trained(run_dir)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
    got = ort.InferenceSession(str(out)).run(None, {meta["input"]: x.numpy()})
    for r, g in zip(ref, got):
        assert torch.allclose(r, torch.from_numpy(g), atol=1e-3)


def test_bench_train_quick(tmp_path):
    out = tmp_path / "bench.json"
    assert attnlab_main(["bench", "train", "--quick", "--device", "cpu", "--phis", "0,1,3", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    rows = payload["results"]
    assert [r["attention"] for r in rows] == ["none", "se", "eca"]
    assert all(r["images_per_s"] > 0 and r["device"] == "cpu" for r in rows)
    assert payload["environment"]["cpu"]["device"] == "cpu"
