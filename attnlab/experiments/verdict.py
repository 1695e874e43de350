r"""Is a difference between variants real? The book's one rule, as plain functions.

Every comparison in the book trains each variant with the same ``n`` seeds; a seed fixes the
initialisation and the order of the data, so run ``i`` of a variant and run ``i`` of the baseline
form a *pair*. The rule works on the paired differences :math:`d_i = m_{\text{att},i} -
m_{\text{base},i}`:

.. math::

    \bar d = \frac{1}{n}\sum_i d_i, \qquad
    \mathrm{SE}(\bar d) = \frac{s_d}{\sqrt n}, \qquad
    \bar d \pm t_{1-\alpha/(2k),\,n-1}\,\mathrm{SE}(\bar d)

with :math:`s_d` the sample standard deviation of the differences, :math:`t` the Student-t
quantile with :math:`n-1` degrees of freedom, :math:`\alpha = 0.05` and :math:`k` the number of
variants compared with the same baseline (Bonferroni's correction: with four attention variants
each interval is a 98.75% one, so that the chance of *any* false alarm stays at about 5%). A
difference is called *clear* when its interval excludes zero; with one seed there is no interval
and nothing is clear. With three to five seeds the intervals are wide: that is the honest answer.

Runs are dicts such as ``{"variant": "se", "seed": 0, "map50": 0.71}`` (Chapter 7's
``results/yolo_attention_*.json`` holds a list of them under ``"runs"``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from attnlab.viz.comparison import mean_and_spread

__all__ = ["compare_to_baseline", "verdict_sentence", "difference_phrase", "display_name", "t_quantile",
           "prediction_interval", "check_against_reference", "ALPHA"]

#: the family-wise error rate of one comparison table
ALPHA = 0.05

#: how the attention blocks' registry names are written in sentences
DISPLAY_NAMES = {"none": "no attention", "se": "SE", "cbam": "CBAM", "eca": "ECA", "ca": "CA",
                 "simam": "SimAM", "cbam-avg": "avg-pool-only CBAM", "cbam-k3": "3x3-kernel CBAM",
                 "cbam-spatial-first": "spatial-first CBAM"}


def display_name(variant: object) -> str:
    """``"se"`` -> ``"SE"``, ``"simam"`` -> ``"SimAM"``; any other name (``"SE (r=4)"``) unchanged."""
    return DISPLAY_NAMES.get(str(variant), str(variant))


def t_quantile(p: float, df: int) -> float:
    """The ``p``-quantile of Student's t distribution with ``df`` degrees of freedom."""
    if not 0 < p < 1:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p!r}")
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"t_quantile: df must be an integer >= 1, got {df!r}")
    from scipy.stats import t

    return float(t.ppf(p, df))


def compare_to_baseline(
    runs: Sequence[Mapping[str, Any]],
    metric: str = "map50",
    *,
    baseline: str = "none",
    order: Sequence[str] | None = None,
    scale: float = 100.0,
    alpha: float = ALPHA,
) -> list[dict[str, Any]]:
    """One row per variant: mean and spread of ``metric`` over seeds, and the paired difference to
    ``baseline`` with its interval (see the module docstring).

    Args:
        runs: dicts with ``"variant"``, ``"seed"`` and ``metric``.
        metric: the key to compare (e.g. ``"map50"``, ``"map"``, ``"val_acc"``).
        baseline: the variant every other one is compared with.
        order: variants in the order of the rows (default: order of first appearance).
        scale: multiplies every value (100: fractions to percentage points).
        alpha: family-wise error rate, shared by the ``k`` comparisons (Bonferroni).

    Returns:
        ``[{"variant", "n", "mean", "std", "delta", "se", "low", "high", "t", "level", "k",
        "clear"}, ...]``: ``delta`` is the mean paired difference, ``se`` its standard error,
        ``[low, high]`` its interval, ``t`` the quantile used and ``level`` the interval's
        confidence (``1 - alpha / k``). The baseline's row has ``delta = se = 0`` and
        ``clear = False``; with one seed ``low``/``high`` are NaN and nothing is clear.

    Raises:
        ValueError: ``runs`` is empty, a run lacks ``metric`` or has a non-finite one, ``baseline``
            has no run, a variant was not run with exactly the baseline's seeds (the rule needs
            pairs), or a seed appears twice for one variant.
    """
    if not runs:
        raise ValueError("compare_to_baseline: runs is empty")
    if not 0 < alpha < 1:
        raise ValueError(f"compare_to_baseline: alpha must be in (0, 1), got {alpha!r}")
    by_variant: dict[str, dict[Any, float]] = {}
    for i, run in enumerate(runs):
        if metric not in run or "variant" not in run or "seed" not in run:
            raise ValueError(
                f"compare_to_baseline: runs[{i}] must have 'variant', 'seed' and {metric!r}, got keys {sorted(run)}"
            )
        value = float(run[metric])
        if not math.isfinite(value):
            raise ValueError(f"compare_to_baseline: runs[{i}] ({run['variant']}, seed {run['seed']}) has "
                             f"{metric} = {value}; a run that diverged must be rerun or reported, not averaged")
        seeds = by_variant.setdefault(str(run["variant"]), {})
        if run["seed"] in seeds:
            raise ValueError(f"compare_to_baseline: {run['variant']!r} has seed {run['seed']!r} twice")
        seeds[run["seed"]] = scale * value
    if baseline not in by_variant:
        raise ValueError(f"compare_to_baseline: baseline {baseline!r} has no run; variants: {sorted(by_variant)}")
    base = by_variant[baseline]
    base_seeds = sorted(base, key=str)
    for name, seeds in by_variant.items():
        if sorted(seeds, key=str) != base_seeds:
            raise ValueError(
                f"compare_to_baseline: every variant must use the baseline's seeds {base_seeds} (the rule "
                f"compares pairs); {name!r} used {sorted(seeds, key=str)}"
            )
    names = list(order) if order is not None else list(by_variant)
    missing = [n for n in names if n not in by_variant]
    if missing:
        raise ValueError(f"compare_to_baseline: order names variants without runs: {missing}")
    n = len(base_seeds)
    k = max(1, sum(1 for name in names if name != baseline))
    level = 1 - alpha / k
    t = t_quantile(1 - alpha / (2 * k), n - 1) if n > 1 else math.nan
    rows = []
    for name in names:
        mean, std = mean_and_spread([by_variant[name][s] for s in base_seeds])
        row = {"variant": name, "n": n, "mean": mean, "std": std, "t": t, "level": level, "k": k}
        if name == baseline:
            rows.append({**row, "delta": 0.0, "se": 0.0, "low": 0.0, "high": 0.0, "clear": False})
            continue
        diffs = [by_variant[name][s] - base[s] for s in base_seeds]    # d_i, one per seed
        delta, s_d = mean_and_spread(diffs)                                   # mean and spread of d
        se = s_d / math.sqrt(n)                                         # SE(d) = s_d / sqrt(n)
        low, high = (delta - t * se, delta + t * se) if n > 1 else (math.nan, math.nan)
        clear = n > 1 and (low > 0 or high < 0)                         # the interval excludes 0
        rows.append({**row, "delta": delta, "se": se, "low": low, "high": high, "clear": clear})
    return rows


def verdict_sentence(
    rows: Sequence[Mapping[str, Any]],
    *,
    baseline: str = "none",
    what: str = "run",
    metric: str = "mAP@0.5",
    versus: str = "the plain model",
) -> str:
    """A sentence that says what :func:`compare_to_baseline`'s rows show, computed, never typed.

    Every difference is given with its interval, e.g. ``"in this run, SE is better than the plain
    model in mAP@0.5 by 1.6 points (98.75% interval +0.4 to +2.8); CBAM, ECA and CA are within
    noise (paired over 5 seeds; intervals corrected for 4 comparisons)"``. ``versus`` names the
    baseline in the sentence (``"the default CBAM"`` when the baseline is not the plain model);
    variant names are written as :func:`display_name` gives them.
    """
    others = [r for r in rows if r["variant"] != baseline]
    if not others:
        raise ValueError(f"verdict_sentence: rows hold no variant besides the baseline {baseline!r}")
    n, k, level = others[0]["n"], others[0]["k"], others[0]["level"]
    if n < 2:
        return (f"in this {what} each variant has one seed, so no difference in {metric} can be told from "
                f"noise (the rule needs at least two seeds)")
    pct = f"{100 * level:.4g}%"
    clear = [r for r in others if r["clear"]]
    unclear = [display_name(r["variant"]) for r in others if not r["clear"]]

    def listing(names: list[str]) -> str:
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    parts = [f"{display_name(r['variant'])} {'is better' if r['delta'] > 0 else 'is worse'} than {versus} "
             f"in {metric} by {abs(r['delta']):.1f} points ({pct} interval {r['low']:+.1f} to {r['high']:+.1f})"
             for r in clear]
    if unclear:
        verb = "is" if len(unclear) == 1 else "are"
        parts.append(f"{listing(unclear)} {verb} within noise" + ("" if clear else f" in {metric}"))
    tail = f"paired over {n} seeds" + (f"; intervals corrected for {k} comparisons" if k > 1 else "")
    return f"in this {what}, " + "; ".join(parts) + f" ({tail})"


def difference_phrase(row: Mapping[str, Any], unit: str = "points") -> str:
    """One row of :func:`compare_to_baseline` in words: ``"+1.2 points (98.75% interval +0.3 to
    +2.1): clear"`` or ``"... : within noise"``; with one seed, ``"+1.2 points (one seed, no
    interval)"``."""
    for key in ("delta", "low", "high", "clear", "n", "level"):
        if key not in row:
            raise ValueError(f"difference_phrase: row must come from compare_to_baseline; it lacks {key!r}")
    if row["n"] < 2:
        return f"{row['delta']:+.1f} {unit} (one seed, no interval)"
    return (f"{row['delta']:+.1f} {unit} ({100 * row['level']:.4g}% interval {row['low']:+.1f} to "
            f"{row['high']:+.1f}): {'clear' if row['clear'] else 'within noise'}")


def prediction_interval(reference: Sequence[float], alpha: float = ALPHA) -> tuple[float, float]:
    r"""Where one more run of the same recipe, with a new seed, should land: the reference runs'
    mean :math:`\pm\, t_{1-\alpha/2,\,n-1}\, s \sqrt{1 + 1/n}`.

    This is how a chapter checks a live re-run against a committed reference run: a value outside
    the interval says the code or the recipe changed (or a 1-in-20 chance), so the check can fail.
    Needs at least two reference values, all finite.
    """
    values = [float(v) for v in reference]
    if len(values) < 2:
        raise ValueError(f"prediction_interval: needs at least 2 reference values, got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"prediction_interval: reference values must be finite, got {values}")
    if not 0 < alpha < 1:
        raise ValueError(f"prediction_interval: alpha must be in (0, 1), got {alpha!r}")
    n = len(values)
    mean, std = mean_and_spread(values)
    half = t_quantile(1 - alpha / 2, n - 1) * std * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


def check_against_reference(
    live: Sequence[Mapping[str, Any]],
    reference: Sequence[Mapping[str, Any]],
    metric: str,
    *,
    scale: float = 100.0,
    alpha: float = ALPHA,
) -> list[dict[str, Any]]:
    """Each live run against the reference runs of its variant: is it inside their
    :func:`prediction_interval`?

    Args:
        live: runs made now (``{"variant", "seed", metric}``), with the reference's recipe.
        reference: the committed reference's runs, same keys.
        metric, scale: the value compared (``scale`` as in :func:`compare_to_baseline`).

    Returns:
        one row per live run: ``{"variant", "seed", "value", "low", "high", "inside",
        "same_seed"}``, where ``same_seed`` is the reference's value for the same variant and
        seed (``None`` if the reference has no such run). The caller asserts ``inside``.

    Raises:
        ValueError: a live variant has fewer than two reference runs.
    """
    rows = []
    for run in live:
        values = {r["seed"]: scale * float(r[metric]) for r in reference if r["variant"] == run["variant"]}
        if len(values) < 2:
            raise ValueError(f"check_against_reference: the reference has {len(values)} runs of "
                             f"{run['variant']!r}; at least 2 are needed for an interval")
        low, high = prediction_interval(list(values.values()), alpha)
        value = scale * float(run[metric])
        rows.append({"variant": run["variant"], "seed": run["seed"], "value": value, "low": low,
                     "high": high, "inside": low <= value <= high, "same_seed": values.get(run["seed"])})
    return rows
