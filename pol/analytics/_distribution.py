"""visualise_hp_distribution: histograms of the top-k hyper-parameters against all of them."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from ..model.search_space import (
    Bound,
    CategoricalBound,
    FloatBound,
    HyperParamSearchSpace,
    IntBound,
)
from ._coalesce import CategoricalSummary
from ._text import format_number

BAR_WIDTH = 30


@dataclass(frozen=True)
class HpDistribution:
    """Counts of one hyper-parameter's values, top-k and all learners, on the same bins.

    For a numeric hyper-parameter `edges` holds the bin edges (len(edges) = bins + 1; each
    bin includes its left edge, the last bin both edges) and `labels` one "[a, b)" label
    per bin; for a categorical one `edges` is None and `labels` are the values.
    """

    name: str
    kind: str
    labels: list[Any]
    edges: list[float] | None
    top_k: list[int]
    all: list[int]

    def to_text(self) -> str:
        """Return one line per bin: label, top-k count and bar, all count."""
        widest = max(self.all + self.top_k + [1])
        width = max([len(str(label)) for label in self.labels] + [len(self.name)])
        lines = [f"{self.name.ljust(width)}  {'top-k':>5}  {'':{BAR_WIDTH}}  {'all':>5}"]
        for label, top, every in zip(self.labels, self.top_k, self.all):
            bar = "#" * round(BAR_WIDTH * top / widest)
            lines.append(f"{str(label).ljust(width)}  {top:>5}  {bar:{BAR_WIDTH}}  {every:>5}")
        return "\n".join(lines)


def visualise_hp_distribution(
    table_top_k: pd.DataFrame,
    table_all: pd.DataFrame,
    space: HyperParamSearchSpace,
    bins: int = 10,
) -> dict[str, HpDistribution]:
    """Return, per hyper-parameter of the search space, the top-k and all-learner counts.

    Numeric bins span the original bound (widened to any value outside it): `bins` equal
    bins, log-spaced for a log bound, or one bin per integer when an integer bound has at
    most `bins` values. Categoricals count each value: the space's choices first, in order.
    """
    distributions = {}
    for name, bound in space.bounds.items():
        top_k = _values(table_top_k, name)
        every = _values(table_all, name)
        if isinstance(bound, CategoricalBound):
            distributions[name] = _categorical(name, bound, top_k, every)
        else:
            distributions[name] = _numeric(name, bound, top_k, every, bins)
    return distributions


def _categorical(
    name: str, bound: CategoricalBound, top_k: list[Any], every: list[Any]
) -> HpDistribution:
    seen = CategoricalSummary.of(every).counts
    labels = list(bound.choices) + [value for value in seen if value not in bound.choices]
    top_counts = CategoricalSummary.of(top_k).counts
    return HpDistribution(
        name=name,
        kind="categorical",
        labels=labels,
        edges=None,
        top_k=[top_counts.get(label, 0) for label in labels],
        all=[seen.get(label, 0) for label in labels],
    )


def _numeric(
    name: str, bound: IntBound | FloatBound, top_k: list[Any], every: list[Any], bins: int
) -> HpDistribution:
    top_values = _finite(top_k)
    all_values = _finite(every)
    edges = bin_edges(bound, np.concatenate([top_values, all_values]), bins)
    return HpDistribution(
        name=name,
        kind="numeric",
        labels=_bin_labels(edges),
        edges=[float(edge) for edge in edges],
        top_k=np.histogram(top_values, edges)[0].tolist(),
        all=np.histogram(all_values, edges)[0].tolist(),
    )


def _bin_labels(edges: np.ndarray) -> list[str]:
    # Bins one integer wide, centred on integers, are labelled by the integer they hold.
    if np.allclose(np.diff(edges), 1.0) and edges[0] % 1 == 0.5:
        return [str(int(edge + 0.5)) for edge in edges[:-1]]
    last = len(edges) - 2
    return [
        f"[{format_number(low)}, {format_number(high)}{']' if index == last else ')'}"
        for index, (low, high) in enumerate(pairwise(edges))
    ]


def bin_edges(bound: Bound, values: np.ndarray, bins: int) -> np.ndarray:
    """Return the bin edges for a numeric bound, widened to cover every value."""
    low = min([bound.low, *values.tolist()])
    high = max([bound.high, *values.tolist()])
    if isinstance(bound, IntBound) and high - low + 1 <= bins:
        return np.arange(low, high + 2, dtype=float) - 0.5
    if isinstance(bound, FloatBound) and bound.log and low > 0:
        return np.geomspace(low, high, bins + 1)
    return np.linspace(low, high, bins + 1)


def _values(table: pd.DataFrame, name: str) -> list[Any]:
    return table[name].tolist() if name in table.columns else []


def _finite(values: list[Any]) -> np.ndarray:
    array = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    return array[np.isfinite(array)]
