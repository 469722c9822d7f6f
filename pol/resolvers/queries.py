"""Query resolvers: read the store through the request's loaders, never on the event loop."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
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
from ..model import Experiment, Learner, Snapshot, Tensor
from ..model.performance import METRICS, SPLITS
from .arguments import at_least, optional_at_least, top_k_size, valid_id
from .context import Context

# The most tensor values one request may read; larger tensors are read in pages.
MAX_TENSOR_VALUES = 100_000
MAX_BINS = 1_000


@dataclass
class TensorValues:
    """A slice of a tensor's values in row-major order, as float64."""

    offset: int
    size: int
    values: np.ndarray


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
) -> list[Snapshot]:
    """Return a learner's snapshots in epoch order within [from_epoch, to_epoch], the `last` few."""
    optional_at_least("fromEpoch", from_epoch, 0)
    optional_at_least("toEpoch", to_epoch, 0)
    optional_at_least("last", last, 1)
    if from_epoch is not None and to_epoch is not None and to_epoch < from_epoch:
        raise ValidationError("toEpoch", to_epoch, f"an epoch >= fromEpoch ({from_epoch})")
    snapshots = await context.loaders.snapshots_of.load(
        (learner_id, from_epoch, to_epoch, superseded, mid_epoch)
    )
    return snapshots[-last:] if last else snapshots


async def tensor_values(
    context: Context, tensor: Tensor, offset: int, length: int | None
) -> TensorValues:
    """Return `length` values of a tensor from `offset` on (default: to its end), capped."""
    size = tensor.size
    at_least("offset", offset, 0)
    if offset > size:
        raise ValidationError("offset", offset, f"0 .. {size}, the tensor's size")
    length = size - offset if length is None else at_least("length", length, 0)
    if length > MAX_TENSOR_VALUES:
        raise ValidationError(
            "length",
            length,
            f"at most {MAX_TENSOR_VALUES} values per request; page through the "
            f"{size} values with offset and length",
        )

    values = await context.loaders.tensor_values.load(tensor.checksum)
    dtype = np.dtype(tensor.dtype).newbyteorder("<")
    flat = np.frombuffer(values, dtype=dtype)[offset : offset + length]
    return TensorValues(offset=offset, size=size, values=flat.astype(np.float64))


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
    return await run_in_threadpool(context.store.forks_of, learner_id)
