"""Time estimates (attnlab.experiments.budget): the method, the sizing of the full profile, and
the measured pre-flight, which also runs the mixed-precision and channels-last paths on a CPU."""

from __future__ import annotations

import pytest
import torch

from attnlab import get_profile
from attnlab.experiments import budget
from attnlab.models.classifier import AttentionCNN


def test_t4_estimate_follows_the_stated_formula():
    full = get_profile("full")
    model, size, batch, steps = budget._build("detector", full)
    fwd = budget.forward_flops(model, torch.zeros(1, 3, size, size))
    expected = steps * (3 * fwd * batch / 3e12 + 5e-3)
    assert budget.t4_seconds("detector", full) == pytest.approx(expected)
    # doubling the image side costs about four times the FLOPs
    small = budget.t4_seconds("detector", full, {"image_size": 160})
    assert small < budget.t4_seconds("detector", full) < 4.5 * small


def test_every_chapter_fits_a_colab_session_in_the_full_profile():
    rows = budget.budget_table(get_profile("full"))
    assert [r["chapter"] for r in rows] == sorted(budget.CHAPTERS)
    too_long = [r for r in rows if r["minutes"] > 65]
    assert not too_long, f"chapters estimated over an hour on a T4: {too_long}"
    assert all(r["minutes"] > 0 and r["runs"] >= 1 for r in rows)


def test_chapter_budget_states_the_method_and_rejects_unknown_chapters():
    text = budget.chapter_budget("07", get_profile("quick"))
    assert "3 TFLOP/s" in text and "5 ms per step" in text and "T4" in text
    assert "15 in the full profile" in text
    assert "2 run(s) in this profile ('quick')" in text      # the quick profile trains a slice
    with pytest.raises(ValueError, match="chapter must be one of"):
        budget.chapter_budget("99")


@pytest.mark.parametrize("seconds, text", [(12.4, "12 s"), (600, "10 min"), (6000, "1 h 40 min")])
def test_format_duration(seconds, text):
    assert budget.format_duration(seconds) == text


def test_format_duration_refuses_nan():
    with pytest.raises(ValueError, match="seconds"):
        budget.format_duration(float("nan"))


@pytest.mark.parametrize("amp, channels_last", [(False, False), (True, True)])
def test_measure_step_trains_a_copy_on_every_code_path(amp, channels_last):
    """amp=True on a CPU autocasts to bfloat16 (float16 on CUDA); channels_last converts the model
    and the batch; the caller's model is never changed."""
    model = AttentionCNN(6, attention="se", width=32, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    seconds = budget.measure_step(model, lambda out: out.float().mean(), torch.rand(4, 3, 16, 16),
                                  steps=2, warmup=1, amp=amp, channels_last=channels_last)
    assert 0 < seconds < 10
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_preflight_measures_and_projects(one_thread):
    text = budget.preflight("classifier", get_profile("quick"), runs=4, steps=1, warmup=0)
    assert text.startswith("measured on cpu:") and "x 4 run(s)" in text
    with pytest.raises(ValueError, match="runs must be >= 1"):
        budget.preflight("classifier", get_profile("quick"), runs=0)
    with pytest.raises(ValueError, match="kind must be"):
        budget.preflight("segmenter", get_profile("quick"), runs=1)
