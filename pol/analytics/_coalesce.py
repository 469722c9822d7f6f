"""Hyper-parameters of learners as a table, and their summary statistics (coalesce)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from pymongo.database import Database

from ..errors import NotFoundError, ValidationError
from ..model.hyperparameters import HYPER_PARAMETER_NAMES
from ..model.ids import object_id
from ..model.search_space import CATEGORICAL_NAMES
from ._text import format_number, render_table

logger = logging.getLogger(__name__)

# The rows pandas' describe() gives a numeric column, in its order.
DESCRIBE_ROWS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


def get_learner_ids(db: Database, experiment_id: str) -> list[str]:
    """Return the ids of every learner of an experiment, oldest first."""
    experiment = object_id("experiment_id", experiment_id)
    cursor = db["learners"].find({"experiment_id": experiment}, {"_id": 1}).sort("_id", 1)
    return [str(document["_id"]) for document in cursor]


def get_hyper_parameters(db: Database, learner_ids: Sequence[str]) -> pd.DataFrame:
    """Return one row per learner (index: learner id, in the given order), one column per
    tunable hyper-parameter.

    `hidden_nodes` is one number per learner: the per-layer count when every hidden layer
    has the same count, else the mean count over the hidden layers (so 2 layers of 4 and 6
    nodes read 5.0); the number of layers is in `n_hidden_layers`.
    """
    ids = [object_id("learner_ids", learner_id) for learner_id in learner_ids]
    if len(set(ids)) != len(ids):
        raise ValidationError("learner_ids", list(learner_ids), "learner ids without repeats")

    found = {
        document["_id"]: document.get("hyper_parameters") or {}
        for document in db["learners"].find({"_id": {"$in": ids}}, {"hyper_parameters": 1})
    }
    missing = [str(learner) for learner in ids if learner not in found]
    if missing:
        raise NotFoundError("learner", missing[0], field="learner_ids")

    rows = [_row(found[learner]) for learner in ids]
    table = pd.DataFrame(rows, columns=list(HYPER_PARAMETER_NAMES))
    table.index = pd.Index([str(learner) for learner in ids], name="learner_id")
    for name in HYPER_PARAMETER_NAMES:
        if name not in CATEGORICAL_NAMES:
            table[name] = pd.to_numeric(table[name])
    return table


def _row(hyper_parameters: dict[str, Any]) -> dict[str, Any]:
    row = {name: hyper_parameters.get(name) for name in HYPER_PARAMETER_NAMES}
    row["hidden_nodes"] = hidden_nodes_number(row["hidden_nodes"])
    return row


def hidden_nodes_number(hidden_nodes: Any) -> float | int | None:
    """Return the per-layer node count, or the mean count when the layers differ."""
    if hidden_nodes is None or isinstance(hidden_nodes, (int, float)):
        return hidden_nodes
    counts = list(hidden_nodes)
    if not counts:
        return None
    if all(count == counts[0] for count in counts):
        return counts[0]
    return float(np.mean(counts))


@dataclass(frozen=True)
class CategoricalSummary:
    """How often each value of a categorical hyper-parameter occurs in a table, and its mode.

    `counts` is ordered by count, most frequent first; equal counts keep the order in which
    the values first occur in the table (for a top-k table: the better-ranked learner's
    value comes first). `mode` is the first value of `counts`.
    """

    counts: dict[Any, int]

    @property
    def mode(self) -> Any:
        """Return the most frequent value (None when there is no value)."""
        return next(iter(self.counts), None)

    @classmethod
    def of(cls, values: Iterable[Any]) -> CategoricalSummary:
        """Return the summary of `values`; None and NaN are left out."""
        counts: dict[Any, int] = {}
        for value in values:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            counts[value] = counts.get(value, 0) + 1
        # sorted() is stable, so equal counts keep their first-occurrence order.
        ordered = sorted(counts.items(), key=lambda item: -item[1])
        return cls(counts=dict(ordered))


@dataclass
class CoalescedHyperParameters:
    """Summary statistics of a table of hyper-parameters (the paper's Table 3).

    `numeric` is pandas' describe() of the numeric hyper-parameters: rows count, mean, std
    (ddof=1), min, 25%, 50%, 75%, max and one column per hyper-parameter. `categorical`
    holds the value counts and mode of the others. `values` is the table summarised.
    """

    numeric: pd.DataFrame
    categorical: dict[str, CategoricalSummary] = field(default_factory=dict)
    values: pd.DataFrame | None = None

    def to_text(self) -> str:
        """Return the statistics as fixed-width tables for a terminal."""
        names = list(self.numeric.columns)
        rows = [
            [statistic] + [format_number(self.numeric.at[statistic, name]) for name in names]
            for statistic in self.numeric.index
        ]
        parts = [render_table(["statistic", *names], rows)] if names else []
        if self.categorical:
            categorical_rows = [
                [name, str(summary.mode), _counts_text(summary.counts)]
                for name, summary in self.categorical.items()
            ]
            parts.append(
                render_table(["hyper-parameter", "mode", "counts"], categorical_rows, left=3)
            )
        return "\n\n".join(parts)


def coalesce_hyper_parameters(
    table: pd.DataFrame,
    names: Iterable[str] | None = None,
    *,
    categorical: Iterable[str] = (),
) -> CoalescedHyperParameters:
    """Return summary statistics of the hyper-parameters `names` (default: every column).

    Numeric hyper-parameters get pandas' describe(); `activation`, `regularisation`, columns
    that are not numeric and the names in `categorical` get value counts and a mode instead.
    """
    names = list(table.columns if names is None else names)
    unknown = [name for name in names if name not in table.columns]
    if unknown:
        raise ValidationError("names", unknown[0], "one of " + ", ".join(map(str, table.columns)))
    forced = set(categorical)
    counted = [
        name
        for name in names
        if name in forced or name in CATEGORICAL_NAMES or not is_numeric_dtype(table[name])
    ]
    described = [name for name in names if name not in counted]

    numeric = _describe(table[described])
    summaries = {name: CategoricalSummary.of(table[name].tolist()) for name in counted}
    return CoalescedHyperParameters(numeric=numeric, categorical=summaries, values=table[names])


def _describe(table: pd.DataFrame) -> pd.DataFrame:
    if table.shape[1] == 0:
        return pd.DataFrame(index=list(DESCRIBE_ROWS))
    # describe() of a column with no values at all is a column of NaN with count 0.
    return table.astype(float).describe()


def _counts_text(counts: dict[Any, int]) -> str:
    return ", ".join(f"{value} {count}" for value, count in counts.items())
