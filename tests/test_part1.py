"""Part I's reference run (attnlab.experiments.part1), the live check against a reference, and
the learning-curve plot the chapters draw from it."""

import json
from dataclasses import replace

import matplotlib
import pytest

matplotlib.use("Agg")

from attnlab import get_profile
from attnlab.experiments import part1
from attnlab.experiments.verdict import check_against_reference, prediction_interval
from attnlab.viz.comparison import plot_learning_curves

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_profile():
    p = get_profile("quick", device="cpu")
    c = replace(p.classifier, image_size=16, n_train=64, n_val=32, epochs=2, batch_size=32, width=4)
    return replace(p, classifier=c)


def test_every_variant_is_capacity_fair_and_described():
    # SE, CBAM and CA share the hidden width C/4; the ablations change one option of that CBAM
    assert part1.VARIANTS["se"]["attention_options"] == {"reduction": 4}
    assert part1.VARIANTS["ca"]["attention_options"] == {"reduction": 4}
    for name in ("cbam", "cbam-avg", "cbam-k3", "cbam-spatial-first"):
        assert part1.VARIANTS[name]["attention_options"]["ratio"] == 4
    assert part1.describe_variant("cbam-k3") == "cbam(ratio=4, kernel_size=3)"
    assert part1.describe_variant("none") == "none()"
    assert set(part1.LABELS) == set(part1.VARIANTS)
    with pytest.raises(ValueError, match="Part I variant must be one of"):
        part1.describe_variant("se16")


def test_reference_run_writes_resumes_and_loads(tmp_path):
    lines = []
    out = tmp_path / "ref.json"
    ref = part1.reference_run(["none", "se"], [0, 1], profile=tiny_profile(), runs_dir=tmp_path / "runs",
                              out=out, log=lines.append)
    assert sum("trained in" in line for line in lines) == 4
    loaded = part1.load_reference(out)
    assert loaded == json.loads(out.read_text()) and loaded["format"] == part1.REFERENCE_FORMAT
    assert [(r["variant"], r["seed"]) for r in ref["runs"]] == [("none", 0), ("se", 0), ("none", 1), ("se", 1)]
    run = ref["runs"][0]
    assert len(run["history"]) == 2 and 0 <= run["history"][-1]["train_acc"] <= 1
    assert ref["variants"] == {"none": "none()", "se": "se(reduction=4)"}
    assert ref["recipe"]["epochs"] == 2 and "python -m attnlab.experiments.part1" in ref["provenance"]["command"]
    # a second call trains nothing and gives the same numbers
    again = part1.reference_run(["none", "se"], [0, 1], profile=tiny_profile(), runs_dir=tmp_path / "runs",
                                log=lines.append)
    assert sum("saved earlier" in line for line in lines) == 4
    assert [r["val_acc"] for r in again["runs"]] == [r["val_acc"] for r in ref["runs"]]
    # a live run of the same variant and seed is the reference's run again (CPU is deterministic)
    live = part1.live_slice(["se"], [1], tiny_profile())
    assert live[0]["val_acc"] == ref["runs"][3]["val_acc"]
    assert part1.recipe_differences(ref, tiny_profile()) == []
    assert part1.recipe_differences(ref, get_profile("quick", device="cpu")) == ["epochs", "image_size",
                                                                      "n_train", "n_val", "width"]


def test_load_reference_refuses_another_format(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"format": "attnlab.yolo_attention/1"}))
    with pytest.raises(ValueError, match="expected 'attnlab.part1_reference/1'"):
        part1.load_reference(bad)


def test_the_committed_reference_is_the_quick_recipe_with_five_seeds():
    ref = part1.load_reference()
    assert part1.recipe_differences(ref, get_profile("quick", device="cpu")) == []
    assert len(ref["seeds"]) >= 5 and set(ref["variants"]) == set(part1.VARIANTS)
    assert not ref["provenance"]["dirty"]


def test_check_against_reference_inside_outside_and_same_seed():
    reference = [{"variant": "se", "seed": s, "acc": v} for s, v in enumerate([0.80, 0.82, 0.84])]
    low, high = prediction_interval([80.0, 82.0, 84.0])
    live = [{"variant": "se", "seed": 1, "acc": 0.82}, {"variant": "se", "seed": 7, "acc": high / 100 + 0.01}]
    rows = check_against_reference(live, reference, "acc")
    assert [r["inside"] for r in rows] == [True, False]
    assert rows[0]["same_seed"] == pytest.approx(82.0) and rows[1]["same_seed"] is None
    assert (rows[0]["low"], rows[0]["high"]) == pytest.approx((low, high))
    with pytest.raises(ValueError, match="the reference has 0 runs of 'ca'"):
        check_against_reference([{"variant": "ca", "seed": 0, "acc": 0.5}], reference, "acc")


def test_learning_curves_draw_mean_curves_and_refuse_ragged_runs():
    def run(variant, seed, accs):
        return {"variant": variant, "seed": seed,
                "history": [{"epoch": i + 1, "train_acc": a, "val_acc": a - 0.1} for i, a in enumerate(accs)]}

    ax = plot_learning_curves([run("none", 0, [0.5, 0.7]), run("none", 1, [0.7, 0.9])], labels={"none": "plain"})
    solid = ax.lines[0]
    assert list(solid.get_ydata()) == pytest.approx([50.0, 70.0])     # mean of the two seeds, in %
    assert ax.get_legend().get_texts()[0].get_text() == "plain"
    with pytest.raises(ValueError, match="have \\[1, 2\\] epochs"):
        plot_learning_curves([run("se", 0, [0.5]), run("se", 1, [0.5, 0.6])])
    with pytest.raises(KeyError, match="no runs for variants \\['ca'\\]"):
        plot_learning_curves([run("se", 0, [0.5])], order=["ca"])


def test_a_task_is_part_of_the_recipe_and_of_the_file_name(tmp_path):
    from attnlab.data.tasks import make_task

    assert "task" not in part1.recipe(tiny_profile())
    assert part1.recipe(tiny_profile(), "what")["task"] == "what"
    assert part1.reference_file() == "part1_reference.json"
    assert part1.reference_file("where") == "part1_reference_where.json"
    ref = part1.reference_run(["none"], [0, 1], profile=tiny_profile(), runs_dir=tmp_path, log=None, task="what")
    assert ref["recipe"]["task"] == "what" and "--task what" in ref["provenance"]["command"]
    assert part1.recipe_differences(ref, tiny_profile()) == ["task"]
    from attnlab.experiments.classification import load_data
    train, _, _ = load_data(tiny_profile(), task="what")
    assert torch_equal(train[0], make_task("what", 64, image_size=16, seed=0, split="train").images)


def torch_equal(a, b):
    import torch

    return bool(torch.equal(a, b))
