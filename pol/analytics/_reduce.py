"""reduce_search_space: a narrower search space from the statistics of the top-k learners."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..errors import ValidationError
from ..model.search_space import (
    Bound,
    CategoricalBound,
    FloatBound,
    HyperParamSearchSpace,
    IntBound,
)
from ._coalesce import CategoricalSummary, CoalescedHyperParameters
from ._text import format_number, render_table

logger = logging.getLogger(__name__)

MEDIAN_STD = "median ± std, clipped"
MIN_MAX = "top-k min..max (close to uniform)"
# Appended to the rule when rounding or clipping closed the bound to a single value.
ONE_VALUE = "closed to one value"
MOST_FREQUENT = "most frequent"
NOT_IN_STATS = "unchanged (not in top-k stats)"
TOO_FEW = "unchanged (fewer than 2 top-k values)"

# Below this Kolmogorov-Smirnov p-value the top-k values are taken to be concentrated;
# at or above it they are "close to uniform" over the original bound.
UNIFORM_THRESHOLD = 0.05

CategoricalCounts = CategoricalSummary | Mapping[Any, int]


@dataclass(frozen=True)
class ReducedBound:
    """One hyper-parameter's bound before and after the reduction, and how it was made.

    `numbers` are the inputs of the rule: median and std with the unclipped low and high
    for median ± std, min and max for min..max, the counts for most frequent, and the
    uniformity test's `ks_p_value` where it was computed.
    """

    name: str
    original: Bound
    bound: Bound
    rule: str
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass
class ReducedSearchSpace:
    """The reduced bound of every hyper-parameter of the original search space."""

    bounds: dict[str, ReducedBound]

    def __getitem__(self, name: str) -> ReducedBound:
        return self.bounds[name]

    def to_search_space(self) -> HyperParamSearchSpace:
        """Return the reduced bounds as a validated search space."""
        return HyperParamSearchSpace({name: item.bound for name, item in self.bounds.items()})

    def to_text(self) -> str:
        """Return one line per hyper-parameter: original bound, reduced bound, rule, numbers."""
        rows = [
            [
                name,
                bound_text(item.original),
                bound_text(item.bound),
                item.rule,
                ", ".join(f"{key} {format_number(value)}" for key, value in item.numbers.items()),
            ]
            for name, item in self.bounds.items()
        ]
        headers = ["hyper-parameter", "original", "reduced", "rule", "numbers"]
        return render_table(headers, rows, left=len(headers))


def reduce_search_space(
    stats: pd.DataFrame | CoalescedHyperParameters,
    space: HyperParamSearchSpace,
    *,
    categorical: Mapping[str, CategoricalCounts] | None = None,
    uniform: Iterable[str] = (),
    values: pd.DataFrame | None = None,
    uniform_threshold: float | None = UNIFORM_THRESHOLD,
) -> ReducedSearchSpace:
    """Return the search space reduced by the paper's rule, one rule named per bound.

    Numeric bounds become (median - std, median + std), clipped to the original bound,
    integers rounded half up. A hyper-parameter whose top-k values are close to uniform over
    the original bound keeps the top-k min..max instead: the names in `uniform`, and, when
    the top-k `values` are known (a CoalescedHyperParameters carries them), every numeric
    hyper-parameter whose Kolmogorov-Smirnov test against the uniform distribution on the
    original bound gives a p-value >= `uniform_threshold` (None: only the names in
    `uniform`). Integers are tested against the uniform on [low - 0.5, high + 0.5], log
    bounds on the log scale. A categorical keeps its most frequent top-k value (all of
    them when several tie). A bound
    that closes to one value becomes a categorical bound of that value.
    """
    if isinstance(stats, CoalescedHyperParameters):
        categorical = stats.categorical if categorical is None else categorical
        values = stats.values if values is None else values
        stats = stats.numeric
    uniform = set(uniform)
    _check_uniform_names(uniform, space)
    categorical = dict(categorical or {})

    reduced = {}
    for name, original in space.bounds.items():
        if isinstance(original, CategoricalBound):
            reduced[name] = _reduce_categorical(name, original, categorical, values)
        else:
            column = _column(values, name)
            reduced[name] = _reduce_numeric(
                name, original, stats, column, name in uniform, uniform_threshold
            )
        logger.debug("reduced %s: %s (%s)", name, reduced[name].bound, reduced[name].rule)
    return ReducedSearchSpace(reduced)


def _reduce_numeric(
    name: str,
    original: IntBound | FloatBound,
    stats: pd.DataFrame,
    column: np.ndarray | None,
    uniform: bool,
    uniform_threshold: float | None,
) -> ReducedBound:
    if name not in stats.columns:
        return ReducedBound(name, original, original, NOT_IN_STATS)
    statistic = stats[name]
    _check_rows(statistic)
    if ("count" in statistic.index and statistic["count"] < 2) or math.isnan(statistic["std"]):
        return ReducedBound(name, original, original, TOO_FEW)

    numbers: dict[str, float] = {}
    if column is not None and len(column) >= 2:
        numbers["ks_p_value"] = uniformity_p_value(column, original)
        if uniform_threshold is not None and numbers["ks_p_value"] >= uniform_threshold:
            uniform = True
    if uniform:
        low, high = float(statistic["min"]), float(statistic["max"])
        numbers = {"min": low, "max": high, **numbers}
        rule = MIN_MAX
    else:
        median, std = float(statistic["50%"]), float(statistic["std"])
        low, high = median - std, median + std
        numbers = {"median": median, "std": std, "low": low, "high": high, **numbers}
        rule = MEDIAN_STD
    bound = narrowed(original, low, high)
    if isinstance(bound, CategoricalBound):
        rule = f"{rule}, {ONE_VALUE}"
    return ReducedBound(name, original, bound, rule, numbers)


def narrowed(original: IntBound | FloatBound, low: float, high: float) -> Bound:
    """Return (low, high) clipped to `original`, integers rounded half up; a point becomes
    a categorical bound of that one value."""
    low = min(max(low, original.low), original.high)
    high = min(max(high, original.low), original.high)
    if isinstance(original, IntBound):
        low, high = _round_half_up(low), _round_half_up(high)
        return CategoricalBound((low,)) if low == high else IntBound(low, high)
    return CategoricalBound((low,)) if low == high else FloatBound(low, high, original.log)


def uniformity_p_value(values: np.ndarray, bound: IntBound | FloatBound) -> float:
    """Return the Kolmogorov-Smirnov p-value of `values` against uniform over `bound`."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if isinstance(bound, IntBound):
        low, high = bound.low - 0.5, bound.high + 0.5
    elif bound.log:
        values = np.log(values[values > 0])
        low, high = math.log(bound.low), math.log(bound.high)
    else:
        low, high = bound.low, bound.high
    return float(scipy_stats.kstest(values, "uniform", args=(low, high - low)).pvalue)


def _reduce_categorical(
    name: str,
    original: CategoricalBound,
    categorical: dict[str, CategoricalCounts],
    values: pd.DataFrame | None,
) -> ReducedBound:
    counts = categorical.get(name)
    if counts is None and values is not None and name in values.columns:
        counts = CategoricalSummary.of(values[name].tolist())
    if isinstance(counts, CategoricalSummary):
        counts = counts.counts
    # Only values the original space offers can be kept; equal counts keep their order.
    ranked = sorted(
        ((value, count) for value, count in (counts or {}).items() if value in original.choices),
        key=lambda item: -item[1],
    )
    if not ranked:
        return ReducedBound(name, original, original, NOT_IN_STATS)
    numbers = {str(value): float(count) for value, count in ranked}
    # Values tied for the most frequent did equally well: all of them are kept.
    kept = tuple(value for value, count in ranked if count == ranked[0][1])
    rule = MOST_FREQUENT if len(kept) == 1 else MOST_FREQUENT + " (tied)"
    return ReducedBound(name, original, CategoricalBound(kept), rule, numbers)


def bound_text(bound: Bound) -> str:
    """Return a bound as the paper prints it: (low, high) or (choice, ...)."""
    if isinstance(bound, CategoricalBound):
        return "(" + ", ".join(str(format_number(choice)) for choice in bound.choices) + ")"
    scale = " log" if isinstance(bound, FloatBound) and bound.log else ""
    return f"({format_number(bound.low)}, {format_number(bound.high)}){scale}"


def _column(values: pd.DataFrame | None, name: str) -> np.ndarray | None:
    if values is None or name not in values.columns:
        return None
    column = pd.to_numeric(values[name], errors="coerce").to_numpy(dtype=float)
    return column[np.isfinite(column)]


def _check_rows(statistic: pd.Series) -> None:
    missing = [row for row in ("std", "min", "50%", "max") if row not in statistic.index]
    if missing:
        raise ValidationError(
            "stats", missing[0], "a describe() table with rows std, min, 50% and max"
        )


def _check_uniform_names(uniform: set[str], space: HyperParamSearchSpace) -> None:
    numeric = [
        name for name, bound in space.bounds.items() if not isinstance(bound, CategoricalBound)
    ]
    for name in sorted(uniform):
        if name not in numeric:
            raise ValidationError("uniform", name, "names of numeric bounds: " + ", ".join(numeric))


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)
