r"""Is a difference between variants real? The book's screening rule, as plain functions.

Every comparison in the book trains each variant with the same ``n`` seeds and calls the
difference between a variant and the baseline *clear* only if it exceeds twice its standard
error:

.. math::

    \Delta = \bar m_{\text{att}} - \bar m_{\text{base}}, \qquad
    \mathrm{SE}(\Delta) = \sqrt{s_{\text{att}}^2 / n + s_{\text{base}}^2 / n}, \qquad
    \text{clear if } |\Delta| > 2\,\mathrm{SE}(\Delta)

with :math:`s` the sample standard deviation over seeds. With two to five seeds this is a rough
screen, not a significance test; it stops noise being read as a result.

Runs are dicts such as ``{"variant": "se", "seed": 0, "map50": 0.71}`` (Chapter 7's
``results/yolo_attention_*.json`` holds a list of them under ``"runs"``).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from attnlab.viz.comparison import mean_and_spread

__all__ = ["compare_to_baseline", "verdict_sentence"]


def compare_to_baseline(
    runs: Sequence[Mapping[str, Any]],
    metric: str = "map50",
    *,
    baseline: str = "none",
    order: Sequence[str] | None = None,
    scale: float = 100.0,
) -> list[dict[str, Any]]:
    """One row per variant: mean and spread of ``metric`` over seeds, and its difference to ``baseline``.

    Args:
        runs: dicts with ``"variant"``, ``"seed"`` and ``metric``.
        metric: the key to compare (e.g. ``"map50"``, ``"map"``, ``"val_acc"``).
        baseline: the variant every other one is compared with.
        order: variants in the order of the rows (default: order of first appearance).
        scale: multiplies every value (100: fractions to percentage points).

    Returns:
        ``[{"variant", "n", "mean", "std", "delta", "se", "clear"}, ...]``; the baseline's row has
        ``delta = 0``, ``se = 0`` and ``clear = False``.

    Raises:
        ValueError: ``runs`` is empty, a run lacks ``metric``, ``baseline`` has no run, or the
            variants were not run with the same seeds (the rule compares paired designs).
    """
    if not runs:
        raise ValueError("compare_to_baseline: runs is empty")
    seeds: dict[str, list[Any]] = {}
    values: dict[str, list[float]] = {}
    for i, run in enumerate(runs):
        if metric not in run or "variant" not in run:
            raise ValueError(
                f"compare_to_baseline: runs[{i}] must have 'variant' and {metric!r}, got keys {sorted(run)}"
            )
        name = str(run["variant"])
        seeds.setdefault(name, []).append(run.get("seed"))
        values.setdefault(name, []).append(scale * float(run[metric]))
    if baseline not in values:
        raise ValueError(f"compare_to_baseline: baseline {baseline!r} has no run; variants: {sorted(values)}")
    base_seeds = sorted(seeds[baseline], key=str)
    for name, s in seeds.items():
        if sorted(s, key=str) != base_seeds:
            raise ValueError(
                f"compare_to_baseline: every variant must use the baseline's seeds {base_seeds}; "
                f"{name!r} used {sorted(s, key=str)}"
            )
    names = list(order) if order is not None else list(values)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"compare_to_baseline: order names variants without runs: {missing}")
    n = len(base_seeds)
    base_mean, base_std = mean_and_spread(values[baseline])
    rows = []
    for name in names:
        mean, std = mean_and_spread(values[name])
        if name == baseline:
            delta = se = 0.0
        else:
            delta = mean - base_mean
            se = ((std**2 + base_std**2) / n) ** 0.5  # SE(delta) = sqrt(s_att^2 / n + s_base^2 / n)
        clear = name != baseline and n > 1 and abs(delta) > 2 * se
        rows.append({"variant": name, "n": n, "mean": mean, "std": std, "delta": delta, "se": se, "clear": clear})
    return rows


def verdict_sentence(
    rows: Sequence[Mapping[str, Any]], *, baseline: str = "none", what: str = "run", metric: str = "mAP@0.5"
) -> str:
    """A sentence that says what :func:`compare_to_baseline`'s rows show, computed, never typed.

    Example: ``"none of the 4 attention variants differs from the plain model in mAP@0.5 by more
    than twice the standard error over 3 seeds: in this run the differences are within noise"``.
    """
    others = [r for r in rows if r["variant"] != baseline]
    if not others:
        raise ValueError(f"verdict_sentence: rows hold no variant besides the baseline {baseline!r}")
    n = others[0]["n"]
    clear = [r for r in others if r["clear"]]
    if not clear:
        return (
            f"none of the {len(others)} attention variants differs from the plain model in {metric} by more "
            f"than twice the standard error over {n} seeds: in this {what} the differences are within noise"
        )
    names = ", ".join(
        f"{str(r['variant']).upper()} ({'better' if r['delta'] > 0 else 'worse'}, {r['delta']:+.1f} points)" for r in clear
    )
    verb = "differs" if len(clear) == 1 else "differ"
    return (
        f"{len(clear)} of the {len(others)} attention variants {verb} from the plain model in {metric} by more than "
        f"twice the standard error over {n} seeds: {names}; with so few seeds, confirm with more before believing it"
    )
