"""The screening rule of the comparisons: |delta| > 2 SE(delta) over paired seeds."""

from __future__ import annotations

import math

import pytest

from attnlab.experiments.verdict import compare_to_baseline, verdict_sentence


def runs_of(table: dict[str, list[float]], metric: str = "map50") -> list[dict]:
    return [{"variant": v, "seed": s, metric: x} for v, xs in table.items() for s, x in enumerate(xs)]


def test_rows_hold_mean_spread_delta_and_standard_error():
    rows = compare_to_baseline(runs_of({"none": [0.50, 0.52, 0.54], "se": [0.60, 0.61, 0.62]}))
    base, se = rows
    assert base["variant"] == "none" and base["delta"] == 0 and base["clear"] is False
    assert se["mean"] == pytest.approx(61.0) and se["std"] == pytest.approx(1.0)
    assert se["delta"] == pytest.approx(9.0)
    assert se["se"] == pytest.approx(math.sqrt((1.0**2 + 2.0**2) / 3))
    assert se["clear"] is True


def test_a_gap_inside_the_spread_is_not_clear_and_the_sentence_says_so():
    rows = compare_to_baseline(runs_of({"none": [0.50, 0.60, 0.55], "eca": [0.56, 0.50, 0.60], "ca": [0.57, 0.52, 0.58]}))
    assert [r["clear"] for r in rows] == [False, False, False]
    text = verdict_sentence(rows)
    assert text.startswith("none of the 2 attention variants differs from the plain model in mAP@0.5")
    assert "3 seeds" in text and "within noise" in text


def test_the_sentence_names_clear_variants_and_their_direction():
    rows = compare_to_baseline(runs_of({"none": [0.60, 0.61, 0.62], "se": [0.70, 0.71, 0.72], "cbam": [0.50, 0.51, 0.50]}))
    text = verdict_sentence(rows, what="reference run", metric="mAP@[.5:.95]")
    assert "2 of the 2 attention variants differ from the plain model in mAP@[.5:.95]" in text
    assert "SE (better, +10.0 points)" in text and "CBAM (worse" in text
    one = verdict_sentence(rows[:2])
    assert one.startswith("1 of the 1 attention variants differs from the plain model in mAP@0.5")


def test_one_seed_is_never_clear():
    rows = compare_to_baseline(runs_of({"none": [0.1], "se": [0.9]}))
    assert rows[1]["clear"] is False


def test_order_and_metric_and_scale():
    runs = runs_of({"se": [0.2, 0.4], "none": [0.1, 0.3]}, metric="map")
    rows = compare_to_baseline(runs, "map", order=["none", "se"], scale=1.0)
    assert [r["variant"] for r in rows] == ["none", "se"] and rows[1]["delta"] == pytest.approx(0.1)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="empty"):
        compare_to_baseline([])
    with pytest.raises(ValueError, match="baseline 'none' has no run"):
        compare_to_baseline(runs_of({"se": [0.1, 0.2]}))
    with pytest.raises(ValueError, match=r"runs\[0\] must have"):
        compare_to_baseline([{"variant": "none", "seed": 0, "map": 0.1}])
    uneven = runs_of({"none": [0.1, 0.2]}) + [{"variant": "se", "seed": 5, "map50": 0.3}, {"variant": "se", "seed": 1, "map50": 0.3}]
    with pytest.raises(ValueError, match="baseline's seeds"):
        compare_to_baseline(uneven)
    with pytest.raises(ValueError, match="without runs"):
        compare_to_baseline(runs_of({"none": [0.1], "se": [0.2]}), order=["none", "cbam"])
    with pytest.raises(ValueError, match="no variant besides"):
        verdict_sentence(compare_to_baseline(runs_of({"none": [0.1, 0.2]})))
