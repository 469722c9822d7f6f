"""Input types that filter and order an experiment's learners, checked in pol.resolvers.filters.

Every condition given must hold; `and` and `or` combine whole filters. A range on a metric
or a numeric hyper-parameter matches finite values only (never NaN, an infinity or a
missing value); ordered by a number, learners without a finite value come last.
"""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from ..resolvers import filters
from .enums import Metric, SortDirection, Split, Status

HYPER_PARAMETER_NAMES = ", ".join(filters.HYPER_PARAMETERS)


@strawberry.input(description="A learner's status: equal to eq, or one of in (not both).")
class StatusFilter:
    eq: Status | None = None
    in_: list[Status] | None = strawberry.field(default=None, name="in")

    def criteria(self) -> filters.StatusCondition:
        """Return the condition as the resolvers check it."""
        return filters.StatusCondition(
            eq=self.eq.value if self.eq else None,
            in_=[status.value for status in self.in_] if self.in_ is not None else None,
        )


@strawberry.input(
    description="A hyper-parameter equal to eq, one of in, or within a range (gte or gt, "
    "lte or lt): one kind per condition."
)
class HyperParameterFilter:
    name: str = strawberry.field(description="One of " + HYPER_PARAMETER_NAMES + ".")
    eq: JSON | None = None
    in_: list[JSON] | None = strawberry.field(default=None, name="in")
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None

    def criteria(self) -> filters.HyperParameterCondition:
        """Return the condition as the resolvers check it."""
        return filters.HyperParameterCondition(
            name=self.name,
            eq=self.eq,
            in_=self.in_,
            gte=self.gte,
            lte=self.lte,
            gt=self.gt,
            lt=self.lt,
        )


@strawberry.input(
    description="A metric of the learner's performance on a split (the latest while it "
    "trains, at its best epoch once finished) within a range."
)
class MetricFilter:
    metric: Metric
    split: Split = Split.VALID
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None

    def criteria(self) -> filters.MetricCondition:
        """Return the condition as the resolvers check it."""
        return filters.MetricCondition(
            metric=self.metric.value,
            split=self.split.value,
            gte=self.gte,
            lte=self.lte,
            gt=self.gt,
            lt=self.lt,
        )


@strawberry.input(description="Conditions on a learner; every one given must hold.")
class LearnerFilter:
    status: StatusFilter | None = None
    hyper_parameter: list[HyperParameterFilter] | None = None
    metric: list[MetricFilter] | None = None
    and_: list[LearnerFilter] | None = strawberry.field(
        default=None, name="and", description="Filters that must all hold."
    )
    or_: list[LearnerFilter] | None = strawberry.field(
        default=None, name="or", description="Filters of which at least one must hold."
    )

    def criteria(self) -> filters.LearnerCriteria:
        """Return the filter as the resolvers check it."""
        return filters.LearnerCriteria(
            status=self.status.criteria() if self.status else None,
            hyper_parameters=_each(self.hyper_parameter),
            metrics=_each(self.metric),
            all_of=_each(self.and_),
            any_of=_each(self.or_),
        )


def _each(items: list | None) -> list | None:
    return None if items is None else [item.criteria() for item in items]


@strawberry.input(
    description="One key of a learner ordering: a metric of a split, or a hyper-parameter "
    "(exactly one). direction null: best first for a metric, ascending for a hyper-parameter."
)
class LearnerOrder:
    metric: Metric | None = None
    hyper_parameter: str | None = strawberry.field(
        default=None, description="One of " + HYPER_PARAMETER_NAMES + "."
    )
    split: Split = Split.VALID
    direction: SortDirection | None = None

    def criteria(self) -> filters.OrderTerm:
        """Return the ordering term as the resolvers check it."""
        return filters.OrderTerm(
            metric=self.metric.value if self.metric else None,
            hyper_parameter=self.hyper_parameter,
            split=self.split.value,
            descending=None if self.direction is None else self.direction == SortDirection.DESC,
        )
