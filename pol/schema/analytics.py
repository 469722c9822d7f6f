"""Output types of the analytics: top-k learners, coalesced statistics, reduced space."""

from __future__ import annotations

import pandas as pd
import strawberry
from strawberry.scalars import JSON

from .. import analytics
from ..resolvers import queries
from .enums import NonFinite
from .numbers import NonFiniteField, finite, json_safe, non_finite, non_finite_fields
from .types import Learner, PolInfo, SearchSpaceBound

# pandas describe() row -> GraphQL field of NumericSummary.
DESCRIBE_FIELDS = {
    "count": "count",
    "mean": "mean",
    "std": "std",
    "min": "min",
    "25%": "q25",
    "50%": "median",
    "75%": "q75",
    "max": "max",
}


@strawberry.type(description="A learner ranked by its best snapshot on a metric.")
class TopKEntry:
    rank: int = strawberry.field(description="1 for the best.")
    learner_id: strawberry.ID
    value: float | None = strawberry.field(description="The learner's best value of the metric.")
    epoch: int = strawberry.field(description="The epoch of that value.")

    @classmethod
    def of(cls, entry: analytics.TopKEntry) -> TopKEntry:
        """Return the GraphQL form of a ranked learner."""
        return cls(
            rank=entry.rank,
            learner_id=strawberry.ID(entry.learner_id),
            value=finite(entry.value),
            epoch=entry.epoch,
        )

    @strawberry.field
    async def learner(self, info: PolInfo) -> Learner | None:
        return Learner.of(await queries.learner(info.context, self.learner_id, "learnerId"))


@strawberry.type(
    description="pandas describe() of one numeric hyper-parameter over the top-k learners; "
    "a statistic that is NaN (std of one value, or no value) is null and listed in nonFinite."
)
class NumericSummary:
    name: str
    count: float | None
    mean: float | None
    std: float | None
    min: float | None
    q25: float | None
    median: float | None
    q75: float | None
    max: float | None
    non_finite: list[NonFiniteField]

    @classmethod
    def of(cls, name: str, column: pd.Series) -> NumericSummary:
        """Return one column of a describe() table."""
        values = {field: column.get(row) for row, field in DESCRIBE_FIELDS.items()}
        return cls(
            name=name,
            **{field: finite(value) for field, value in values.items()},
            non_finite=non_finite_fields(values),
        )


@strawberry.type(description="How often one value occurs.")
class ValueCount:
    value: JSON
    count: int


@strawberry.type(description="Value counts of a categorical hyper-parameter, most frequent first.")
class CategoricalSummary:
    name: str
    counts: list[ValueCount]
    mode: JSON | None = strawberry.field(description="The most frequent value.")

    @classmethod
    def of(cls, name: str, summary: analytics.CategoricalSummary) -> CategoricalSummary:
        """Return the GraphQL form of a categorical summary."""
        return cls(
            name=name,
            counts=[
                ValueCount(value=json_safe(value), count=int(count))
                for value, count in summary.counts.items()
            ],
            mode=json_safe(summary.mode),
        )


@strawberry.type(description="Summary statistics of the top-k learners' hyper-parameters.")
class CoalescedHyperParameters:
    numeric: list[NumericSummary]
    categorical: list[CategoricalSummary]
    top_k: list[TopKEntry] = strawberry.field(description="The learners summarised.")

    @classmethod
    def of(cls, analysis: analytics.Analysis) -> CoalescedHyperParameters:
        """Return the coalesced statistics of an analysis."""
        table = analysis.coalesced.numeric
        return cls(
            numeric=[NumericSummary.of(str(name), table[name]) for name in table.columns],
            categorical=[
                CategoricalSummary.of(name, summary)
                for name, summary in analysis.coalesced.categorical.items()
            ],
            top_k=[TopKEntry.of(entry) for entry in analysis.top_k],
        )


@strawberry.type(description="A number a reduction rule used; null with a flag when not finite.")
class RuleNumber:
    name: str
    value: float | None
    non_finite: NonFinite | None = strawberry.field(description="Which value a null value was.")


@strawberry.type(description="One hyper-parameter's bound before and after the reduction.")
class ReducedBound:
    name: str
    rule: str = strawberry.field(description="How the reduced bound was made.")
    bound: SearchSpaceBound = strawberry.field(description="The reduced bound.")
    original: SearchSpaceBound = strawberry.field(description="The experiment's bound.")
    numbers: list[RuleNumber] = strawberry.field(description="The inputs of the rule.")

    @classmethod
    def of(cls, reduced: analytics.ReducedBound) -> ReducedBound:
        """Return the GraphQL form of a reduced bound."""
        return cls(
            name=reduced.name,
            rule=reduced.rule,
            bound=SearchSpaceBound.of(reduced.name, reduced.bound),
            original=SearchSpaceBound.of(reduced.name, reduced.original),
            numbers=[
                RuleNumber(name=name, value=finite(value), non_finite=non_finite(value))
                for name, value in reduced.numbers.items()
            ],
        )


@strawberry.type(description="The search space narrowed by the statistics of the top-k learners.")
class ReducedSearchSpace:
    bounds: list[ReducedBound]
    top_k: list[TopKEntry] = strawberry.field(description="The learners the reduction used.")

    @classmethod
    def of(cls, analysis: analytics.Analysis) -> ReducedSearchSpace:
        """Return the reduced search space of an analysis."""
        return cls(
            bounds=[ReducedBound.of(item) for item in analysis.reduced.bounds.values()],
            top_k=[TopKEntry.of(entry) for entry in analysis.top_k],
        )


@strawberry.type(
    description="Counts of one hyper-parameter's values among the top-k and among all "
    "learners, on the same bins."
)
class HpDistribution:
    name: str
    kind: str = strawberry.field(description="numeric or categorical.")
    labels: list[JSON] = strawberry.field(
        description="One label per bin: [a, b) ranges, integers, or categorical values."
    )
    edges: list[float | None] | None = strawberry.field(
        description="Bin edges of a numeric hyper-parameter (one more than the bins)."
    )
    top_k: list[int]
    all: list[int]

    @classmethod
    def of(cls, distribution: analytics.HpDistribution) -> HpDistribution:
        """Return the GraphQL form of one hyper-parameter's histogram."""
        edges = distribution.edges
        return cls(
            name=distribution.name,
            kind=distribution.kind,
            labels=json_safe(list(distribution.labels)),
            edges=None if edges is None else [finite(edge) for edge in edges],
            top_k=[int(count) for count in distribution.top_k],
            all=[int(count) for count in distribution.all],
        )
