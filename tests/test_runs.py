"""Saved runs (attnlab.experiments.runs): saved at once, skipped on re-run, pooled across folders."""

from __future__ import annotations

import json
import math

import pytest

from attnlab.experiments.runs import FORMAT, RunStore, config_hash, pool, runs_folder

RECIPE = {"image_size": 64, "epochs": 2, "lr": 3e-3, "anchors_mask": ((3, 4, 5), (0, 1, 2))}


def test_config_hash_is_stable_and_sees_every_field():
    assert config_hash(RECIPE) == config_hash(dict(reversed(list(RECIPE.items()))))
    assert config_hash(RECIPE) != config_hash({**RECIPE, "epochs": 3})


def test_a_finished_run_is_saved_and_never_trained_again(tmp_path):
    store = RunStore(tmp_path, "exp", RECIPE)
    calls = []

    def train():
        calls.append(1)
        return {"acc": 0.5, "seconds": 1.0}

    first, now = store.run("se", 0, train)
    assert now and first == {"acc": 0.5, "seconds": 1.0} and len(calls) == 1
    again, now = RunStore(tmp_path, "exp", dict(RECIPE)).run("se", 0, train)   # a new session
    assert not now and again == first and len(calls) == 1
    saved = json.loads(store.path("se", 0).read_text())
    assert saved["format"] == FORMAT and saved["config"]["image_size"] == 64 and "torch" in saved["provenance"]
    assert not list(tmp_path.glob("*.tmp"))
    # the machine, down to the vector instructions torch's CPU kernels use (they decide rounding)
    import torch

    from attnlab.bench import cpu_model

    prov = saved["provenance"]
    assert prov["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and prov["cpu_capability"]
    assert prov["cpu_model"] == cpu_model() and prov["cpu_model"]


def test_another_configuration_does_not_reuse_the_run(tmp_path):
    RunStore(tmp_path, "exp", RECIPE).put("se", 0, {"acc": 0.5})
    other = RunStore(tmp_path, "exp", {**RECIPE, "epochs": 30})
    assert other.get("se", 0) is None and other.rows() == []


def test_put_refuses_to_overwrite_and_refuses_non_finite_results(tmp_path):
    store = RunStore(tmp_path, "exp", RECIPE)
    store.put("none", 1, {"acc": 0.25})
    with pytest.raises(FileExistsError, match="already holds this run"):
        store.put("none", 1, {"acc": 0.3})
    with pytest.raises(ValueError, match=r"result\['acc'\] is nan"):
        store.put("none", 2, {"acc": math.nan})
    assert store.get("none", 2) is None


@pytest.mark.parametrize("variant, seed, error", [("a/b", 0, ValueError), ("", 0, ValueError),
                                                  ("se", 0.5, TypeError), ("se", True, TypeError)])
def test_bad_variant_or_seed_is_refused_by_name(tmp_path, variant, seed, error):
    with pytest.raises(error, match="variant|seed"):
        RunStore(tmp_path, "exp", RECIPE).path(variant, seed)


def test_pool_gathers_several_folders_and_keeps_a_repeated_run_once(tmp_path):
    for student, runs in {"ana": [("none", 0), ("se", 0)], "ben": [("none", 1), ("se", 1), ("se", 0)]}.items():
        store = RunStore(tmp_path / student, "exp", RECIPE)
        for variant, seed in runs:
            store.put(variant, seed, {"acc": 0.1 * seed + (0.05 if variant == "se" else 0.0)})
    (tmp_path / "ben" / "results.json").write_text("{}")      # other JSON files are not runs
    with pytest.warns(UserWarning, match="1 run"):
        rows = pool([tmp_path / "ana", tmp_path / "ben"])
    assert [(r["variant"], r["seed"]) for r in rows] == [("none", 0), ("none", 1), ("se", 0), ("se", 1)]
    assert rows[2]["acc"] == pytest.approx(0.05) and rows[2]["source"].startswith(str(tmp_path / "ana"))


def test_pool_refuses_to_mix_configurations_unless_one_is_chosen(tmp_path):
    a = RunStore(tmp_path / "a", "exp", RECIPE)
    b = RunStore(tmp_path / "b", "exp", {**RECIPE, "epochs": 30})
    a.put("se", 0, {"acc": 0.5})
    b.put("se", 0, {"acc": 0.9})
    with pytest.raises(ValueError, match=r"2 different configurations \(recipes\)"):
        pool([tmp_path])
    assert [r["acc"] for r in pool([tmp_path], config_hash=b.hash)] == [0.9]
    with pytest.raises(ValueError, match="no run files"):
        pool([tmp_path], experiment="other")
    with pytest.raises(FileNotFoundError, match="neither a folder nor a run file"):
        pool([tmp_path / "missing"])


def test_runs_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNLAB_RUNS_DIR", str(tmp_path))
    assert runs_folder("ch07") == tmp_path / "ch07"
    monkeypatch.delenv("ATTNLAB_RUNS_DIR")
    assert runs_folder("ch07", base="x") .as_posix() == "x/ch07"
    with pytest.raises(ValueError, match="name"):
        runs_folder("../up")
