"""Learner filters and orderings, checked and translated to a MongoDB query and sort.

Metrics are those the learner document holds: its latest performance while it trains,
at its best epoch once finished (`performance.<split>.<metric>`). A range on a metric or
a numeric hyper-parameter matches finite numbers only: NaN, infinities, null and missing
values never match one. Ordered by a number, learners without a finite value come last,
in either direction, by id.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..analytics import LOWER_IS_BETTER
from ..errors import ValidationError
from ..model.hyperparameters import ACTIVATIONS, HP_OPT_METHODS, REGULARISATIONS
from ..model.learner import STATUSES
from ..model.performance import METRICS, SPLITS
from .connections import FINITE_MAX, Ordering, SortField, finite_first

# Hyper-parameters a learner may be filtered and ordered by, by their document (search
# space) names: numbers, or strings from a fixed set. hidden_nodes, a list, is not one.
NUMERIC_HYPER_PARAMETERS = (
    "alpha",
    "lambda",
    "dropout",
    "momentum",
    "batch_size",
    "n_hidden_layers",
    "max_updates",
    "max_epochs",
    "patience",
    "truncate_gradient",
    "lr_step_size",
    "lr_gamma",
)
CATEGORICAL_HYPER_PARAMETERS = {
    "activation": ACTIVATIONS,
    "regularisation": REGULARISATIONS,
    "hp_opt_method": HP_OPT_METHODS,
}
HYPER_PARAMETERS = NUMERIC_HYPER_PARAMETERS + tuple(CATEGORICAL_HYPER_PARAMETERS)
MAX_ORDER_TERMS = 4

# The learners' default order: as trained, by (configuration, run).
DEFAULT_LEARNER_ORDER: Ordering = (
    SortField("configuration"),
    SortField("run"),
    SortField("_id"),
)


@dataclass
class StatusCondition:
    """A learner status equal to `eq` or one of `in_`."""

    eq: str | None = None
    in_: list[str] | None = None


@dataclass
class HyperParameterCondition:
    """A hyper-parameter equal to `eq`, one of `in_`, or within the bounds given."""

    name: str
    eq: Any = None
    in_: list[Any] | None = None
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None


@dataclass
class MetricCondition:
    """A metric of a split within the bounds given."""

    metric: str
    split: str = "valid"
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None


@dataclass
class LearnerCriteria:
    """Conditions a learner meets; those given must all hold."""

    status: StatusCondition | None = None
    hyper_parameters: list[HyperParameterCondition] | None = None
    metrics: list[MetricCondition] | None = None
    all_of: list[LearnerCriteria] | None = None
    any_of: list[LearnerCriteria] | None = None


@dataclass
class OrderTerm:
    """One key of a learner ordering: a metric of a split, or a hyper-parameter.

    `descending` None means best first for a metric (lower first for loss, mse and mae)
    and ascending for a hyper-parameter.
    """

    metric: str | None = None
    hyper_parameter: str | None = None
    split: str = "valid"
    descending: bool | None = None


@dataclass(frozen=True)
class LearnerQuery:
    """A checked filter as MongoDB query text, and the sort order it is read in."""

    match: str
    ordering: Ordering = field(default=DEFAULT_LEARNER_ORDER)


def learner_query(criteria: LearnerCriteria | None, order: list[OrderTerm] | None) -> LearnerQuery:
    """Return the query and ordering for a filter and an orderBy, or raise ValidationError."""
    match = learner_match(criteria, "filter") if criteria is not None else {}
    ordering = learner_ordering(order) if order is not None else DEFAULT_LEARNER_ORDER
    return LearnerQuery(json.dumps(match, sort_keys=True), ordering)


def learner_match(criteria: LearnerCriteria, where: str) -> dict[str, Any]:
    """Return the MongoDB query of `criteria`; `where` names it in errors."""
    clauses: list[dict[str, Any]] = []
    if criteria.status is not None:
        clauses.append(_status(criteria.status, f"{where}.status"))
    for position, condition in enumerate(
        _given(criteria.hyper_parameters, where, "hyperParameter")
    ):
        clauses.append(_hyper_parameter(condition, f"{where}.hyperParameter[{position}]"))
    for position, condition in enumerate(_given(criteria.metrics, where, "metric")):
        clauses.append(_metric(condition, f"{where}.metric[{position}]"))
    all_of = _given(criteria.all_of, where, "and")
    clauses += [learner_match(item, f"{where}.and[{n}]") for n, item in enumerate(all_of)]
    any_of = _given(criteria.any_of, where, "or")
    if any_of:
        clauses.append(
            {"$or": [learner_match(item, f"{where}.or[{n}]") for n, item in enumerate(any_of)]}
        )
    if not clauses:
        raise ValidationError(where, {}, "at least one of status, hyperParameter, metric, and, or")
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _given(items: list | None, where: str, name: str) -> list:
    if items is not None and not items:
        raise ValidationError(f"{where}.{name}", [], "a non-empty list, or no " + name)
    return items or []


def _status(condition: StatusCondition, where: str) -> dict[str, Any]:
    allowed = "one of " + ", ".join(status.upper() for status in STATUSES)
    if (condition.eq is None) == (condition.in_ is None):
        raise ValidationError(where, "eq and in" if condition.eq else {}, "exactly one of eq, in")
    if condition.eq is not None:
        return {"status": condition.eq}
    if not condition.in_:
        raise ValidationError(f"{where}.in", [], f"a non-empty list, each {allowed}")
    return {"status": {"$in": list(condition.in_)}}


def _hyper_parameter(condition: HyperParameterCondition, where: str) -> dict[str, Any]:
    name = condition.name
    if name not in HYPER_PARAMETERS:
        raise ValidationError(f"{where}.name", name, "one of " + ", ".join(HYPER_PARAMETERS))
    path = f"hyper_parameters.{name}"
    bounds = _bounds(condition)
    given = [kind for kind in ("eq", "in") if getattr(condition, _attribute(kind)) is not None]
    if len(given) + bool(bounds) > 1:
        raise ValidationError(where, name, "one of eq, in, or a range (gte/gt, lte/lt)")
    if not given and not bounds:
        raise ValidationError(where, name, "one of eq, in, gte, lte, gt, lt")
    categorical = CATEGORICAL_HYPER_PARAMETERS.get(name)
    if bounds:
        if categorical is not None:
            raise ValidationError(
                f"{where}.name",
                name,
                "a numeric hyper-parameter for a range; "
                + name
                + " is one of "
                + ", ".join(categorical),
            )
        return {path: _range(bounds, where)}
    if condition.eq is not None:
        return {path: _hyper_parameter_value(condition.eq, f"{where}.eq", categorical)}
    if not condition.in_:
        raise ValidationError(f"{where}.in", [], "a non-empty list")
    values = [_hyper_parameter_value(value, f"{where}.in", categorical) for value in condition.in_]
    return {path: {"$in": values}}


def _attribute(kind: str) -> str:
    return "in_" if kind == "in" else kind


def _hyper_parameter_value(value: Any, where: str, choices: tuple[str, ...] | None) -> Any:
    if choices is not None:
        if value not in choices:
            raise ValidationError(where, value, "one of " + ", ".join(choices))
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(where, value, "a finite number")
    return value


def _metric(condition: MetricCondition, where: str) -> dict[str, Any]:
    if condition.metric not in METRICS:
        raise ValidationError(f"{where}.metric", condition.metric, "one of " + ", ".join(METRICS))
    if condition.split not in SPLITS:
        raise ValidationError(f"{where}.split", condition.split, "one of " + ", ".join(SPLITS))
    bounds = _bounds(condition)
    if not bounds:
        raise ValidationError(where, condition.metric, "at least one of gte, lte, gt, lt")
    return {f"performance.{condition.split}.{condition.metric}": _range(bounds, where)}


def _bounds(condition: HyperParameterCondition | MetricCondition) -> dict[str, float]:
    names = ("gte", "lte", "gt", "lt")
    return {
        name: getattr(condition, name) for name in names if getattr(condition, name) is not None
    }


def _range(bounds: dict[str, float], where: str) -> dict[str, float]:
    """Return a range query of finite numbers only, or raise for contradictory bounds."""
    for name, value in bounds.items():
        if not math.isfinite(value):
            raise ValidationError(f"{where}.{name}", value, "a finite number")
    if "gte" in bounds and "gt" in bounds:
        raise ValidationError(f"{where}.gt", bounds["gt"], "gte or gt, not both")
    if "lte" in bounds and "lt" in bounds:
        raise ValidationError(f"{where}.lt", bounds["lt"], "lte or lt, not both")
    lower = next(((name, bounds[name]) for name in ("gte", "gt") if name in bounds), None)
    upper = next(((name, bounds[name]) for name in ("lte", "lt") if name in bounds), None)
    if lower and upper:
        touching = lower[1] == upper[1] and (lower[0] == "gt" or upper[0] == "lt")
        if lower[1] > upper[1] or touching:
            raise ValidationError(
                f"{where}.{upper[0]}",
                upper[1],
                f"a bound that leaves a non-empty range with {lower[0]} {lower[1]}",
            )
    query = {"$gte": -FINITE_MAX, "$lte": FINITE_MAX}
    if lower:
        query.pop("$gte")
        query[f"${lower[0]}"] = lower[1]
    if upper:
        query.pop("$lte")
        query[f"${upper[0]}"] = upper[1]
    return query


def learner_ordering(terms: list[OrderTerm]) -> Ordering:
    """Return the sort order of `terms`, ties broken by id; raise ValidationError on bad terms."""
    if not 1 <= len(terms) <= MAX_ORDER_TERMS:
        raise ValidationError("orderBy", len(terms), f"1 .. {MAX_ORDER_TERMS} terms")
    fields: list[SortField] = []
    for position, term in enumerate(terms):
        where = f"orderBy[{position}]"
        if (term.metric is None) == (term.hyper_parameter is None):
            raise ValidationError(
                where, "both" if term.metric else {}, "exactly one of metric, hyperParameter"
            )
        if term.metric is not None:
            if term.metric not in METRICS:
                raise ValidationError(
                    f"{where}.metric", term.metric, "one of " + ", ".join(METRICS)
                )
            if term.split not in SPLITS:
                raise ValidationError(f"{where}.split", term.split, "one of " + ", ".join(SPLITS))
            descending = term.descending
            if descending is None:
                descending = term.metric not in LOWER_IS_BETTER
            path = f"performance.{term.split}.{term.metric}"
            fields += finite_first(path, descending, position)
            continue
        name = term.hyper_parameter
        if name not in HYPER_PARAMETERS:
            raise ValidationError(
                f"{where}.hyperParameter", name, "one of " + ", ".join(HYPER_PARAMETERS)
            )
        path = f"hyper_parameters.{name}"
        descending = bool(term.descending)
        if name in CATEGORICAL_HYPER_PARAMETERS:
            fields.append(SortField(path, descending))
        else:
            fields += finite_first(path, descending, position)
    return (*fields, SortField("_id"))
