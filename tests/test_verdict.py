"""The book's one rule: paired per-seed differences, a t interval, Bonferroni across variants."""

from __future__ import annotations

import math

import pytest

from attnlab.experiments.verdict import (compare_to_baseline, difference_phrase, display_name, prediction_interval,
                                       t_quantile, verdict_sentence)


def runs_of(table: dict[str, list[float]], metric: str = "map50") -> list[dict]:
    return [{"variant": v, "seed": s, metric: x} for v, xs in table.items() for s, x in enumerate(xs)]


@pytest.mark.parametrize("p, df, expected", [(0.975, 2, 4.303), (0.975, 4, 2.776), (0.9875, 2, 6.205),
                                             (0.975, 1000, 1.962)])
def test_t_quantiles_match_the_printed_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-3)


def test_paired_difference_its_standard_error_and_interval():
    rows = compare_to_baseline(runs_of({"none": [0.50, 0.52, 0.54], "se": [0.60, 0.61, 0.62]}))
    base, se = rows
    assert base["variant"] == "none" and base["delta"] == 0 and base["clear"] is False
    assert se["mean"] == pytest.approx(61.0) and se["std"] == pytest.approx(1.0)
    # differences 10, 9, 8 points: mean 9, s_d 1, SE 1/sqrt(3); t(0.975, 2) = 4.303
    assert se["delta"] == pytest.approx(9.0) and se["se"] == pytest.approx(1 / math.sqrt(3))
    assert (se["low"], se["high"]) == (pytest.approx(9 - 4.3027 / math.sqrt(3), abs=1e-3),
                                       pytest.approx(9 + 4.3027 / math.sqrt(3), abs=1e-3))
    assert se["clear"] is True and se["level"] == pytest.approx(0.95) and se["k"] == 1


def test_pairing_removes_the_seed_to_seed_spread():
    """Seeds that move both variants alike: unpaired, the spread (10 points) hides a 1-point gain;
    paired, every difference is +1 and the gain is clear."""
    rows = compare_to_baseline(runs_of({"none": [0.50, 0.60, 0.70], "se": [0.51, 0.61, 0.71]}))
    assert rows[1]["std"] == pytest.approx(10.0) and rows[1]["delta"] == pytest.approx(1.0)
    assert rows[1]["clear"] is True and rows[1]["low"] == pytest.approx(1.0)


def test_a_gain_that_one_sd_would_call_real_is_not_clear_with_three_seeds():
    rows = compare_to_baseline(runs_of({"none": [0.50, 0.60, 0.55], "eca": [0.56, 0.50, 0.60], "ca": [0.57, 0.52, 0.58]}))
    assert [r["clear"] for r in rows] == [False, False, False]
    text = verdict_sentence(rows)
    assert text == "in this run, ECA and CA are within noise in mAP@0.5 (paired over 3 seeds; intervals corrected for 2 comparisons)"


def test_bonferroni_widens_each_interval_with_the_number_of_variants():
    one = compare_to_baseline(runs_of({"none": [0.5, 0.6, 0.7], "se": [0.52, 0.61, 0.73]}))[1]
    two = compare_to_baseline(runs_of({"none": [0.5, 0.6, 0.7], "se": [0.52, 0.61, 0.73], "eca": [0.5, 0.6, 0.7]}))[1]
    assert one["delta"] == two["delta"] and two["level"] == pytest.approx(0.975)
    assert two["t"] == pytest.approx(6.205, abs=1e-3) and (two["high"] - two["low"]) > (one["high"] - one["low"])


def test_the_sentence_names_clear_variants_with_direction_and_interval():
    rows = compare_to_baseline(runs_of({"none": [0.60, 0.61, 0.62], "se": [0.70, 0.715, 0.72], "cbam": [0.50, 0.51, 0.505]}))
    text = verdict_sentence(rows, what="reference run", metric="mAP@[.5:.95]")
    assert text.startswith("in this reference run, SE is better than the plain model in mAP@[.5:.95] by 10.2 points "
                           "(97.5% interval ")
    assert "CBAM is worse than the plain model" in text and text.endswith("(paired over 3 seeds; intervals corrected for 2 comparisons)")


def test_one_seed_is_never_clear_and_says_why():
    rows = compare_to_baseline(runs_of({"none": [0.1], "se": [0.9]}))
    assert rows[1]["clear"] is False and math.isnan(rows[1]["low"])
    assert "one seed" in verdict_sentence(rows)


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
    with pytest.raises(ValueError, match="seed 0 twice"):
        compare_to_baseline(runs_of({"none": [0.1]}) + runs_of({"none": [0.2]}))
    with pytest.raises(ValueError, match="map50 = nan"):
        compare_to_baseline(runs_of({"none": [0.1, 0.2], "se": [math.nan, 0.3]}))
    with pytest.raises(ValueError, match="without runs"):
        compare_to_baseline(runs_of({"none": [0.1], "se": [0.2]}), order=["none", "cbam"])
    with pytest.raises(ValueError, match="no variant besides"):
        verdict_sentence(compare_to_baseline(runs_of({"none": [0.1, 0.2]})))
    with pytest.raises(ValueError, match="df must be"):
        t_quantile(0.9, 0)


def test_prediction_interval_for_one_more_seed():
    low, high = prediction_interval([70.0, 71.0, 72.0, 71.0, 71.0])   # mean 71, s = 0.7071, n = 5
    half = 2.7764 * 0.70711 * math.sqrt(1.2)
    assert (low, high) == (pytest.approx(71 - half, abs=1e-3), pytest.approx(71 + half, abs=1e-3))
    assert low < 71.5 < high and not low < 75 < high
    with pytest.raises(ValueError, match="at least 2"):
        prediction_interval([70.0])
    with pytest.raises(ValueError, match="finite"):
        prediction_interval([70.0, math.inf])


def test_names_versus_and_the_difference_phrase():
    """Part I compares with a named baseline ("baseline", "CBAM") and prints one difference per
    row; the words follow the numbers (one row clear, one not), and names are written as in the
    papers."""
    runs = runs_of({"CBAM": [0.60, 0.61, 0.62], "simam": [0.70, 0.715, 0.72], "kernel 3": [0.61, 0.60, 0.625]})
    rows = compare_to_baseline(runs, "map50", baseline="CBAM")
    text = verdict_sentence(rows, baseline="CBAM", what="ablation", metric="accuracy", versus="the default CBAM")
    assert text.startswith("in this ablation, SimAM is better than the default CBAM in accuracy by 10.2 points")
    assert "kernel 3 is within noise" in text
    assert difference_phrase(rows[1]).startswith("+10.2 points (97.5% interval +") and difference_phrase(rows[1]).endswith(": clear")
    assert difference_phrase(rows[2]).endswith(": within noise")
    one = compare_to_baseline(runs_of({"none": [0.1], "se": [0.2]}))
    assert difference_phrase(one[1]) == "+10.0 points (one seed, no interval)"
    assert display_name("ca") == "CA" and display_name("SE (r=4)") == "SE (r=4)"
    with pytest.raises(ValueError, match="lacks 'delta'"):
        difference_phrase({"variant": "se"})
