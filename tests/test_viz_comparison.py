"""attnlab.viz.comparison: the statistics behind the plots, and that the plots draw what they say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.viz import comparison as vc  # noqa: E402

ROWS = [
    {"variant": "none", "seed": 0, "val_acc": 0.50},
    {"variant": "se", "seed": 0, "val_acc": 0.60},
    {"variant": "none", "seed": 1, "val_acc": 0.54},
    {"variant": "se", "seed": 1, "val_acc": 0.70},
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_group_by_variant_keeps_first_seen_order_and_all_seeds():
    groups = vc.group_by_variant(ROWS)
    assert list(groups) == ["none", "se"]
    assert groups["se"] == [0.60, 0.70]


def test_group_by_variant_names_the_missing_key():
    with pytest.raises(KeyError, match="val_acc"):
        vc.group_by_variant([{"variant": "se", "acc": 0.5}])


def test_mean_and_spread_uses_the_sample_standard_deviation():
    mean, sd = vc.mean_and_spread([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert sd == pytest.approx(1.0)  # ddof = 1, not the population 0.816
    assert vc.mean_and_spread([4.0]) == (4.0, 0.0)
    with pytest.raises(ValueError, match="no values"):
        vc.mean_and_spread([])


def test_seed_spread_draws_one_dot_per_seed_and_the_mean():
    ax = vc.plot_seed_spread(ROWS, order=["se", "none"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["se", "none"]
    dots = np.concatenate([c.get_offsets() for c in ax.collections if c.get_offsets().shape[0] == 2
                           and c.get_offsets().shape[1] == 2 and c.__class__.__name__ == "PathCollection"])
    assert sorted(np.round(dots[:, 1], 6)) == [50.0, 54.0, 60.0, 70.0]  # percent
    means = sorted(round(float(seg[0][1]), 6) for c in ax.collections
                   if c.__class__.__name__ == "LineCollection" for seg in c.get_segments()
                   if len(seg) == 2 and seg[0][1] == seg[1][1] and abs(seg[1][0] - seg[0][0] - 0.5) < 1e-9)
    assert means == [52.0, 65.0]
    lo, hi = ax.get_ylim()
    assert lo < 50 and hi > 70


def test_seed_spread_rejects_unknown_variants():
    with pytest.raises(KeyError, match="cbam"):
        vc.plot_seed_spread(ROWS, order=["none", "cbam"])


def test_kernel_size_rules_checks_lengths_and_marks_disagreements():
    ax = vc.plot_kernel_size_rules([64, 128], {"a": [3, 5], "b": [3, 3]}, highlight=[128])
    assert len(ax.get_lines()) == 3  # two rules and one highlight
    with pytest.raises(ValueError, match="rule 'b' has 1 values for 2 channels"):
        vc.plot_kernel_size_rules([64, 128], {"b": [3]})


def test_param_growth_labels_every_point_with_its_count():
    ax = vc.plot_param_growth([64, 128], {"se": [512, 2048], "eca": [3, 5]})
    labels = {t.get_text() for t in ax.texts}
    assert {"512", "2,048", "3", "5"} <= labels


def test_effective_maps_share_a_symmetric_colour_scale():
    fig = vc.plot_effective_maps({"a": np.eye(3), "b": -2 * np.eye(3)})
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 2
    assert all(im.get_clim() == (-2.0, 2.0) for im in images)
    with pytest.raises(ValueError, match="not a matrix"):
        vc.plot_effective_maps({"v": np.ones(3)})


def test_comparison_draws_one_panel_per_column_and_rejects_bad_scales():
    table = [{"variant": "none", "p": 0, "acc": 80.0, "sd": 1.0},
             {"variant": "eca", "p": 9, "acc": 81.0, "sd": 0.5}]
    fig = vc.plot_comparison(table, [("p", "params", None, "symlog"), ("acc", "acc", "sd", "linear")])
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["none", "eca"]
    assert fig.axes[0].get_xscale() == "symlog"
    lo, hi = fig.axes[1].get_xlim()  # zoomed on the accuracies, which are far from zero
    assert 0 < lo < 79.0 and 82.0 < hi < 90
    with pytest.raises(ValueError, match="unknown scale"):
        vc.plot_comparison(table, [("p", "params", None, "cubic")])
    with pytest.raises(ValueError, match="at least one row"):
        vc.plot_comparison([], [("p", "params", None, "linear")])


def test_diagrams_validate_their_arguments():
    vc.draw_eca_diagram(channels=8, k=3, focus=0)
    texts = lambda ax: " ".join(t.get_text() for t in ax.texts)  # noqa: E731
    assert "BN + ReLU" in texts(vc.draw_coord_attention_diagram())  # the default block's activation
    assert "BN + h-swish" in texts(vc.draw_coord_attention_diagram(activation="hswish"))
    with pytest.raises(ValueError, match="activation must be 'relu' or 'hswish', got 'gelu'"):
        vc.draw_coord_attention_diagram(activation="gelu")
    with pytest.raises(ValueError, match="k must be odd"):
        vc.draw_eca_diagram(channels=8, k=4)
    with pytest.raises(ValueError, match="focus"):
        vc.draw_eca_diagram(channels=8, k=3, focus=8)


def test_pooled_profiles_are_the_row_and_column_means():
    img = np.zeros((3, 6, 4))
    img[:, 1, :] = 1.0  # a bright row 1
    fig = vc.plot_pooled_profiles(img)
    ax_h = fig.axes[1]
    x, y = ax_h.get_lines()[0].get_data()
    assert list(y) == list(range(6)) and x[1] == 1.0 and x[0] == 0.0
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        vc.plot_pooled_profiles(np.zeros((6, 4)))


def test_colours_are_stable_per_mechanism_and_prefix():
    assert vc.color_for("se") == vc.MECHANISM_COLORS["se"]
    assert vc.color_for("se-early") == vc.MECHANISM_COLORS["se"]
    assert vc.color_for("something") == vc.color_for("something")


def test_effective_maps_can_scale_each_panel_on_its_own():
    fig = vc.plot_effective_maps({"a": np.eye(3), "b": -2 * np.eye(3)}, shared_scale=False)
    clims = [im.get_clim() for ax in fig.axes for im in ax.get_images()]
    assert clims == [(-1.0, 1.0), (-2.0, 2.0)]
