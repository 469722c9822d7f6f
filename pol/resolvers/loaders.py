"""Per-request data loaders: one store round trip per batch of ids, however many asked.

Each loader collects the keys the resolvers of one execution step ask for and reads them
with a single `$in` query, in a worker thread so that the event loop never waits on the
store. Loaders cache by key for the life of one request only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from ..analytics import Analysis, analyse
from ..errors import NotFoundError, PolError
from ..model import Experiment, Learner, Snapshot
from ..model.learner import STATUSES
from ..model.tensor import checksum
from ..store import Store

logger = logging.getLogger(__name__)

Key = TypeVar("Key")
Value = TypeVar("Value")

# A learners key: (experiment id, status or None for every status).
LearnersKey = tuple[str, str | None]
# An analysis key: (experiment id, k, metric, split).
AnalysisKey = tuple[str, int | float, str, str]
# A snapshots key: (learner id, first epoch or None, last epoch or None, both inclusive,
# with superseded snapshots, with mid-epoch snapshots).
SnapshotsKey = tuple[str, int | None, int | None, bool, bool]

LEARNER_ORDER = [("configuration", ASCENDING), ("run", ASCENDING), ("_id", ASCENDING)]


class Loaders:
    """The data loaders of one request, each keyed by hexadecimal id."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.experiment = _loader(self._experiments)
        self.learner = _loader(self._learners)
        self.learners_of = _loader(self._learners_of)
        self.learner_counts = _loader(self._learner_counts)
        self.snapshots_of = _loader(self._snapshots_of)
        self.tensor_values = _loader(self._tensor_values)
        self.analysis = _loader(self._analyses)

    def _experiments(self, ids: Sequence[str]) -> list[Experiment | NotFoundError]:
        found = {
            str(document["_id"]): Experiment.from_document(document)
            for document in self.store.experiments.find({"_id": {"$in": _object_ids(ids)}})
        }
        return [found.get(key) or NotFoundError("experiment", key, field="id") for key in ids]

    def _learners(self, ids: Sequence[str]) -> list[Learner | NotFoundError]:
        found = {
            str(document["_id"]): Learner.from_document(document)
            for document in self.store.learners.find({"_id": {"$in": _object_ids(ids)}})
        }
        return [found.get(key) or NotFoundError("learner", key, field="id") for key in ids]

    def _learners_of(self, keys: Sequence[LearnersKey]) -> list[list[Learner]]:
        found: dict[LearnersKey, list[Learner]] = defaultdict(list)
        for status, experiment_ids in _group(keys, lambda key: key[1]).items():
            query: dict[str, Any] = {"experiment_id": {"$in": _object_ids(experiment_ids)}}
            if status is not None:
                query["status"] = status
            for document in self.store.learners.find(query, sort=LEARNER_ORDER):
                learner = Learner.from_document(document)
                found[(learner.experiment_id, status)].append(learner)
        return [found.get(key, []) for key in keys]

    def _learner_counts(self, ids: Sequence[str]) -> list[dict[str, int]]:
        counts = {key: {status: 0 for status in STATUSES} for key in ids}
        pipeline = [
            {"$match": {"experiment_id": {"$in": _object_ids(ids)}}},
            {
                "$group": {
                    "_id": {"experiment": "$experiment_id", "status": "$status"},
                    "count": {"$sum": 1},
                }
            },
        ]
        for row in self.store.learners.aggregate(pipeline):
            counts[str(row["_id"]["experiment"])][row["_id"]["status"]] = row["count"]
        return [counts[key] for key in ids]

    def _snapshots_of(self, keys: Sequence[SnapshotsKey]) -> list[list[Snapshot]]:
        found: dict[SnapshotsKey, list[Snapshot]] = defaultdict(list)
        for options, learner_ids in _group(keys, lambda key: key[1:]).items():
            first, last, superseded, mid_epoch = options
            query: dict[str, Any] = {"learner_id": {"$in": _object_ids(learner_ids)}}
            epochs = {"$gte": first, "$lte": last}
            epochs = {operator: epoch for operator, epoch in epochs.items() if epoch is not None}
            if epochs:
                query["epoch"] = epochs
            if not superseded:
                query["superseded"] = False
            if not mid_epoch:
                query["batch"] = None
            for document in self.store.snapshots.find(query):
                snapshot = Snapshot.from_document(document)
                found[(snapshot.learner_id, *options)].append(snapshot)
        for snapshots in found.values():
            snapshots.sort(key=_training_order)
        return [found.get(key, []) for key in keys]

    def _tensor_values(self, checksums: Sequence[str]) -> list[bytes | NotFoundError]:
        chunks: dict[str, list[bytes]] = defaultdict(list)
        query = {"checksum": {"$in": list(checksums)}}
        for chunk in self.store.tensor_chunks.find(query, sort=[("checksum", 1), ("n", 1)]):
            chunks[chunk["checksum"]].append(bytes(chunk["data"]))
        values = {key: b"".join(parts) for key, parts in chunks.items()}
        return [
            values[key]
            if key in values and checksum(values[key]) == key
            else NotFoundError("tensor values", key, field="values")
            for key in checksums
        ]

    def _analyses(self, keys: Sequence[AnalysisKey]) -> list[Analysis | PolError]:
        # Each key is its own analysis; the loader's part is to run it once per request.
        results: list[Analysis | PolError] = []
        for experiment_id, k, metric, split in keys:
            try:
                results.append(
                    analyse(self.store.analytics_database, experiment_id, k, metric, split)
                )
            except PolError as error:
                results.append(error)
        return results


def _loader(fetch: Callable[[Sequence[Key]], list[Value]]) -> DataLoader[Key, Value]:
    async def load(keys: list[Key]) -> list[Value]:
        logger.debug("loading %d keys with %s", len(keys), fetch.__name__)
        return await run_in_threadpool(fetch, keys)

    return DataLoader(load_fn=load)


def _group(keys: Sequence[tuple], by: Callable[[tuple], Any]) -> dict[Any, list[str]]:
    groups: dict[Any, list[str]] = defaultdict(list)
    for key in keys:
        groups[by(key)].append(key[0])
    return groups


def _training_order(snapshot: Snapshot) -> tuple[int, bool, int, int]:
    # Inside an epoch by batch, the end of the epoch last; roll-back generations in turn.
    return (snapshot.epoch, snapshot.batch is None, snapshot.batch or 0, snapshot.generation)


def _object_ids(ids: Sequence[str]) -> list[ObjectId]:
    return [ObjectId(key) for key in dict.fromkeys(ids)]
