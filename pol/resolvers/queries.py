"""Query resolvers: read the store through the request's loaders, never on the event loop."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from ..analytics import (
    LOWER_IS_BETTER,
    Analysis,
    HpDistribution,
    TopKEntry,
    get_hyper_parameters,
    get_learner_ids,
    get_top_k_ids,
    visualise_hp_distribution,
)
from ..errors import ValidationError
from ..model import Experiment, Learner, Snapshot
from ..model.performance import METRICS, SPLITS
from ..store.store import snapshot_filter
from .arguments import optional_at_least, top_k_size, valid_id
from .connections import Ordering, Page, PageQuery, SortField, Window, window
from .context import Context
from .filters import LearnerCriteria, OrderTerm, learner_query
from .loaders import CountKey
from .tensors import MAX_TENSOR_VALUES, TensorValues, tensor_values

__all__ = ["MAX_TENSOR_VALUES", "TensorValues", "tensor_values"]

MAX_BINS = 1_000

EXPERIMENT_ORDER: Ordering = (SortField("created_at", True), SortField("_id", True))
# Training order: by epoch; inside an epoch by batch, the end of the epoch last; roll-back
# generations in turn.
SNAPSHOT_ORDER: Ordering = (
    SortField("epoch"),
    SortField("_pol_end", expression=json.dumps({"$cond": [{"$eq": ["$batch", None]}, 1, 0]})),
    SortField("batch"),
    SortField("generation"),
    SortField("_id"),
)


@dataclass
class Connection:
    """A page of a list, and the key that counts the whole list when asked."""

    page: Page
    count: CountKey


async def experiments(context: Context, limit: int | None) -> list[Experiment]:
    """Return the experiments, newest first; `limit` None or 0 means all."""
    limit = optional_at_least("limit", limit, 0)
    return await run_in_threadpool(context.store.list_experiments, limit or 0)


async def experiment(context: Context, experiment_id: str, field: str = "id") -> Experiment:
    """Return one experiment, or raise NotFoundError."""
    return await context.loaders.experiment.load(valid_id(field, experiment_id))


async def learner(context: Context, learner_id: str, field: str = "id") -> Learner:
    """Return one learner, or raise NotFoundError."""
    return await context.loaders.learner.load(valid_id(field, learner_id))


async def learners_of(
    context: Context,
    experiment_id: str,
    *,
    status: str | None = None,
    order_by: str | None = None,
    split: str = "valid",
    descending: bool | None = None,
    limit: int | None = None,
) -> list[Learner]:
    """Return an experiment's learners, by (configuration, run) or best `order_by` first.

    Ordered by a metric, learners whose latest value is missing, NaN or infinite come last.
    """
    limit = optional_at_least("limit", limit, 0)
    learners = await context.loaders.learners_of.load((experiment_id, status))
    if order_by is not None:
        learners = _ranked(learners, order_by, split, descending)
    elif descending:
        learners = learners[::-1]
    return learners[:limit] if limit else learners


def _ranked(
    learners: list[Learner], metric: str, split: str, descending: bool | None
) -> list[Learner]:
    if descending is None:
        descending = metric not in LOWER_IS_BETTER
    sign = -1.0 if descending else 1.0

    def key(item: Learner) -> tuple[bool, float]:
        performance = item.performance.split(split)
        value = performance.metric(metric) if performance else None
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        return (not finite, sign * value if finite else 0.0)

    return sorted(learners, key=key)


async def learner_counts(context: Context, experiment_id: str) -> dict[str, int]:
    """Return the number of an experiment's learners in each status."""
    return await context.loaders.learner_counts.load(experiment_id)


async def snapshots_of(
    context: Context,
    learner_id: str,
    *,
    from_epoch: int | None = None,
    to_epoch: int | None = None,
    last: int | None = None,
    superseded: bool = False,
    mid_epoch: bool = False,
    recent: list[str] | None = None,
) -> list[Snapshot]:
    """Return a learner's snapshots in epoch order within [from_epoch, to_epoch], the `last` few.

    `recent` are the learner's latest snapshot ids, when the caller has its document.
    """
    _check_epochs(from_epoch, to_epoch)
    optional_at_least("last", last, 1)
    plain = from_epoch is None and to_epoch is None and not superseded and not mid_epoch
    if last and plain and recent is not None and len(recent) >= last:
        # The learner document keeps its latest snapshot ids: read those by id.
        found = await context.loaders.snapshot.load_many(recent[-last:])
        return sorted(found, key=lambda snapshot: (snapshot.epoch, snapshot.generation))
    if last:
        # The last few of each learner in one aggregate, not all of every learner's.
        query = PageQuery(
            "snapshots",
            "learner_id",
            _snapshot_match(from_epoch, to_epoch, superseded, mid_epoch),
            SNAPSHOT_ORDER,
            Window(last, forward=False),
        )
        page = await context.loaders.pages.load((learner_id, query))
        return [Snapshot.from_document(row) for row in page.rows]
    return await context.loaders.snapshots_of.load(
        (learner_id, from_epoch, to_epoch, superseded, mid_epoch)
    )


def _snapshot_match(
    from_epoch: int | None, to_epoch: int | None, superseded: bool, mid_epoch: bool
) -> str:
    return json.dumps(snapshot_filter(from_epoch, to_epoch, superseded, mid_epoch), sort_keys=True)


def _check_epochs(from_epoch: int | None, to_epoch: int | None) -> None:
    optional_at_least("fromEpoch", from_epoch, 0)
    optional_at_least("toEpoch", to_epoch, 0)
    if from_epoch is not None and to_epoch is not None and to_epoch < from_epoch:
        raise ValidationError("toEpoch", to_epoch, f"an epoch >= fromEpoch ({from_epoch})")


async def experiments_page(
    context: Context, first: int | None, after: str | None, last: int | None, before: str | None
) -> Connection:
    """Return a page of the experiments, newest first."""
    query = PageQuery(
        "experiments",
        None,
        "{}",
        EXPERIMENT_ORDER,
        window(EXPERIMENT_ORDER, first, after, last, before),
    )
    page = await context.loaders.pages.load((None, query))
    return Connection(page, (None, "experiments", None, "{}"))


async def learners_page(
    context: Context,
    experiment_id: str,
    criteria: LearnerCriteria | None,
    order: list[OrderTerm] | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection:
    """Return a page of an experiment's learners that meet `criteria`, in `order`."""
    learners = learner_query(criteria, order)
    page_window = window(learners.ordering, first, after, last, before)
    query = PageQuery("learners", "experiment_id", learners.match, learners.ordering, page_window)
    page = await context.loaders.pages.load((experiment_id, query))
    return Connection(page, (experiment_id, "learners", "experiment_id", learners.match))


async def snapshots_page(
    context: Context,
    learner_id: str,
    *,
    from_epoch: int | None,
    to_epoch: int | None,
    superseded: bool,
    mid_epoch: bool,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection:
    """Return a page of a learner's snapshots in training order."""
    _check_epochs(from_epoch, to_epoch)
    match = _snapshot_match(from_epoch, to_epoch, superseded, mid_epoch)
    page_window = window(SNAPSHOT_ORDER, first, after, last, before)
    query = PageQuery("snapshots", "learner_id", match, SNAPSHOT_ORDER, page_window)
    page = await context.loaders.pages.load((learner_id, query))
    return Connection(page, (learner_id, "snapshots", "learner_id", match))


async def total_count(context: Context, key: CountKey) -> int:
    """Return how many rows the list of a connection holds, over all its pages."""
    return await context.loaders.counts.load(key)


async def top_k(
    context: Context,
    experiment_id: str,
    k: float,
    *,
    metric: str,
    split: str,
    descending: bool | None,
) -> list[TopKEntry]:
    """Return the k best learners of an experiment by their best snapshot."""
    experiment_id = valid_id("experimentId", experiment_id)
    size = top_k_size(k)
    ascending = None if descending is None else not descending
    return await run_in_threadpool(
        get_top_k_ids,
        context.store.analytics_database,
        experiment_id,
        size,
        metric=metric,
        split=split,
        ascending=ascending,
    )


async def analysis(
    context: Context, experiment_id: str, k: float, *, metric: str, split: str
) -> Analysis:
    """Return the top-k analysis (coalesced hyper-parameters, reduced space) of an experiment."""
    experiment_id = valid_id("experimentId", experiment_id)
    size = top_k_size(k)
    _check_choice("metric", metric, METRICS)
    _check_choice("split", split, SPLITS)
    return await context.loaders.analysis.load((experiment_id, size, metric, split))


async def hp_distributions(
    context: Context, experiment_id: str, k: float, *, metric: str, split: str, bins: int
) -> list[HpDistribution]:
    """Return per bounded hyper-parameter the top-k and all-learner counts on the same bins."""
    if not 1 <= bins <= MAX_BINS:
        raise ValidationError("bins", bins, f"an integer 1 .. {MAX_BINS}")
    result = await analysis(context, experiment_id, k, metric=metric, split=split)

    def distributions() -> list[HpDistribution]:
        database = context.store.analytics_database
        table_all = get_hyper_parameters(database, get_learner_ids(database, result.experiment_id))
        return list(
            visualise_hp_distribution(
                result.hyper_parameters, table_all, result.space, bins
            ).values()
        )

    return await run_in_threadpool(distributions)


def _check_choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValidationError(field, value, "one of " + ", ".join(allowed))


async def forks_of(context: Context, learner_id: str) -> list[Learner]:
    """Return the learners forked from `learner_id`, oldest first."""
    return await context.loaders.forks_of.load(learner_id)
