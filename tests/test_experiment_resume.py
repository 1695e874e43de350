"""Chapter 7's experiment killed halfway and restarted continues from the runs already saved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(image_size=64, n_train=16, n_val=8, n_test=8, epochs=1, batch_size=8, eval_every=0)
SCRIPT = f"""
import sys, torch
sys.path.insert(0, {str(ROOT)!r})
torch.set_num_threads(1)
from attnlab import get_profile
from attnlab.experiments.detection import compare_detectors, detector_store
from attnlab.train.recipes import detector_recipe
profile = get_profile("quick")
recipe = detector_recipe(profile, **{TINY!r})
store = detector_store(sys.argv[1], recipe)
rows = compare_detectors(["none", "se"], [0, 1], store, profile=profile, log=None, **{TINY!r})
print("TRAINED", sum(r["trained_now"] for r in rows))
"""


def run_experiment(folder: Path, kill_after_files: int | None = None) -> str | None:
    """Run the experiment in a child process; with ``kill_after_files``, SIGKILL it as soon as
    that many runs are saved. Returns the child's output when it ends by itself."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    if kill_after_files is None:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        return out
    deadline = time.monotonic() + 300
    while len(list(folder.glob("*.json"))) < kill_after_files:
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stdout.read()}"
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return None


def results(folder: Path) -> dict[tuple[str, int], dict]:
    out = {}
    for f in folder.glob("*.json"):
        d = json.loads(f.read_text())
        out[(d["variant"], d["seed"])] = {k: d["result"][k] for k in ("map50", "map", "map50_voc11", "epochs")}
    return out


@pytest.mark.slow
def test_killed_experiment_restarts_from_saved_runs_and_matches_an_uninterrupted_one(tmp_path):
    interrupted, clean = tmp_path / "interrupted", tmp_path / "clean"
    run_experiment(interrupted, kill_after_files=1)
    saved = results(interrupted)
    assert len(saved) == 1, "the kill should land after the first of four runs"
    out = run_experiment(interrupted)
    assert "TRAINED 3" in out, out            # the saved run was not trained again
    run_experiment(clean)
    assert results(interrupted) == results(clean)    # same numbers as a run never interrupted
    assert len(results(clean)) == 4
    # the first seed keeps its weights for the chapter's pictures; the others were cleaned up
    kept = sorted(p.name for p in clean.iterdir() if p.is_dir())
    assert len(kept) == 2 and all("seed0" in k for k in kept)


def test_reference_run_writes_the_chapter_7_format_and_reuses_saved_runs(tmp_path):
    from attnlab.experiments.detection import REFERENCE_FORMAT, reference_run

    out = tmp_path / "ref.json"
    first = reference_run(["none", "se"], [0, 1], profile="quick", runs_dir=tmp_path / "runs", out=out, log=None, **TINY)
    saved = json.loads(out.read_text())
    assert saved["format"] == REFERENCE_FORMAT and saved["evaluated_on"] == "test split, 8 images"
    assert [(r["variant"], r["seed"]) for r in saved["runs"]] == [("none", 0), ("se", 0), ("none", 1), ("se", 1)]
    assert saved["recipe"]["n_train"] == 16 and "commit" in saved["provenance"]
    assert not [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]      # no checkpoints kept
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    again = reference_run(["none", "se"], [0, 1], profile="quick", runs_dir=tmp_path / "runs", log=None, **TINY)
    assert again["runs"] == first["runs"]
    assert mtimes == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}   # nothing retrained
