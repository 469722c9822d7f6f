"""Mutation resolvers: validate every argument first, so that invalid input writes nothing."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from .. import lifecycle
from ..errors import ValidationError
from ..model import Experiment, HyperParamSearchSpace, Learner
from ..model.search_space import bound_from_document
from ..training.datasets import DATASETS
from ..trials import MAX_TRIALS, TRIAL_METHODS, create_experiment, queue_trials
from .arguments import at_least, optional_at_least, valid_id
from .context import Context

# A CSV dataset names a file on the server's disk; only the CLI may create one.
API_DATASETS = tuple(name for name in DATASETS if name != "csv")


async def new_experiment(
    context: Context,
    *,
    name: str,
    dataset: str,
    search_space: list[tuple[str, dict[str, Any]]],
    learner_type: str,
    hp_opt_method: str,
    description: str,
    seed: int,
    snapshot_every: int,
    window: int | None,
    snapshot_every_updates: int | None = None,
) -> Experiment:
    """Store a new experiment over a bundled dataset; raise ValidationError before any write."""
    if dataset not in API_DATASETS:
        raise ValidationError("dataset", dataset, "one of " + ", ".join(API_DATASETS))
    at_least("seed", seed, 0)
    at_least("snapshotEvery", snapshot_every, 1)
    optional_at_least("snapshotEveryUpdates", snapshot_every_updates, 1)
    optional_at_least("window", window, 1)
    space = search_space_of(search_space)

    return await run_in_threadpool(
        create_experiment,
        context.store,
        name,
        dataset,
        space,
        learner_type=learner_type,
        hp_opt_method=hp_opt_method,
        description=description,
        seed=seed,
        snapshot_every=snapshot_every,
        snapshot_every_updates=snapshot_every_updates,
        window=window,
    )


def search_space_of(bounds: list[tuple[str, dict[str, Any]]]) -> HyperParamSearchSpace:
    """Return the validated search space of (name, bound document) pairs, each name once."""
    documents: dict[str, dict[str, Any]] = {}
    for name, document in bounds:
        if name in documents:
            raise ValidationError("searchSpace", name, "each hyper-parameter bounded once")
        documents[name] = document
    return HyperParamSearchSpace(
        {name: bound_from_document(name, document) for name, document in documents.items()}
    )


async def start_trials(
    context: Context,
    experiment_id: str,
    count: int,
    *,
    method: str,
    runs: int,
    seed: int | None,
) -> list[Learner]:
    """Queue `count` configurations of `runs` learners each; return the queued learners."""
    experiment_id = valid_id("experimentId", experiment_id)
    at_least("count", count, 1)
    at_least("runsPerConfiguration", runs, 1)
    optional_at_least("seed", seed, 0)
    if method not in TRIAL_METHODS:
        raise ValidationError("method", method, "one of " + ", ".join(TRIAL_METHODS))
    if count * runs > MAX_TRIALS:
        raise ValidationError("count", count, f"count x runsPerConfiguration at most {MAX_TRIALS}")

    return await run_in_threadpool(
        queue_trials,
        context.store,
        experiment_id,
        count,
        method=method,
        runs=runs,
        seed=seed,
    )


async def change_learner(context: Context, operation: str, learner_id: str) -> Learner:
    """Pause, resume or cancel a learner; raise StateError when its status does not allow it."""
    learner_id = valid_id("id", learner_id)
    change = {"pause": lifecycle.pause, "resume": lifecycle.resume, "cancel": lifecycle.cancel}[
        operation
    ]
    return await run_in_threadpool(change, context.store, learner_id)


async def roll_back(context: Context, learner_id: str, epoch: int) -> Learner:
    """Queue a learner to continue from its own earlier epoch."""
    learner_id = valid_id("id", learner_id)
    at_least("epoch", epoch, 0)
    return await run_in_threadpool(lifecycle.roll_back, context.store, learner_id, epoch)


async def fork(context: Context, learner_id: str, epoch: int, overrides: dict[str, Any]) -> Learner:
    """Queue a new learner starting from a learner's snapshot of `epoch`."""
    learner_id = valid_id("id", learner_id)
    at_least("epoch", epoch, 0)
    return await run_in_threadpool(lifecycle.fork, context.store, learner_id, epoch, overrides)
