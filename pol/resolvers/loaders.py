"""Per-request data loaders: one store round trip per batch of keys, however many asked.

Each loader collects the keys the resolvers of one execution step ask for and reads them
with a single `$in` query, in a worker thread so that the event loop never waits on the
store. Loaders cache by key for the life of one request only.
"""

from __future__ import annotations

import json
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
from ..store import Store
from ..store.store import snapshot_filter, training_order
from .connections import Page, PageQuery, page_of, page_pipeline

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
# A page key: (parent id, or None for a list without a parent; what the page holds).
PageKey = tuple[str | None, PageQuery]
# A count key: (parent id or None, collection, parent field or None, filter as JSON text).
CountKey = tuple[str | None, str, str | None, str]

LEARNER_ORDER = [("configuration", ASCENDING), ("run", ASCENDING), ("_id", ASCENDING)]
FORK_ORDER = [("created_at", ASCENDING), ("_id", ASCENDING)]
# Chunks are read in one reply, not 101 documents and then more (a server's default).
CHUNK_BATCH = 10_000


class Loaders:
    """The data loaders of one request, each keyed by hexadecimal id."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.experiment = _loader(self._experiments)
        self.learner = _loader(self._learners)
        self.learners_of = _loader(self._learners_of)
        self.learner_counts = _loader(self._learner_counts)
        self.snapshot = _loader(self._snapshots)
        self.snapshots_of = _loader(self._snapshots_of)
        self.forks_of = _loader(self._forks_of)
        self.pages = _loader(self._pages)
        self.counts = _loader(self._counts)
        self.tensor_chunks = _loader(self._tensor_chunks)
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

    def _snapshots(self, ids: Sequence[str]) -> list[Snapshot | NotFoundError]:
        found = {
            str(document["_id"]): Snapshot.from_document(document)
            for document in self.store.snapshots.find({"_id": {"$in": _object_ids(ids)}})
        }
        return [found.get(key) or NotFoundError("snapshot", key, field="id") for key in ids]

    def _forks_of(self, ids: Sequence[str]) -> list[list[Learner]]:
        found: dict[str, list[Learner]] = defaultdict(list)
        query = {"parent_learner_id": {"$in": _object_ids(ids)}}
        for document in self.store.learners.find(query, sort=FORK_ORDER):
            learner = Learner.from_document(document)
            found[learner.parent_learner_id].append(learner)
        return [found.get(key, []) for key in ids]

    def _pages(self, keys: Sequence[PageKey]) -> list[Page]:
        found: dict[PageKey, Page] = {}
        for query, parents in _group(keys, lambda key: key[1]).items():
            parent_ids = _object_ids(parents) if query.parent_field else [None]
            collection = getattr(self.store, query.collection)
            for group in collection.aggregate(page_pipeline(query, parent_ids)):
                parent = None if query.parent_field is None else str(group["_id"])
                found[(parent, query)] = page_of(group["rows"], query)
        return [found.get(key) or page_of([], key[1]) for key in keys]

    def _counts(self, keys: Sequence[CountKey]) -> list[int]:
        found: dict[CountKey, int] = {}
        for (collection, parent_field, match), parents in _group(keys, lambda key: key[1:]).items():
            query = json.loads(match)
            if parent_field is not None:
                scope = {parent_field: {"$in": _object_ids(parents)}}
                query = {"$and": [scope, query]} if query else scope
            group = {"_id": f"${parent_field}" if parent_field else None, "count": {"$sum": 1}}
            pipeline = [{"$match": query}, {"$group": group}]
            for row in getattr(self.store, collection).aggregate(pipeline):
                parent = None if parent_field is None else str(row["_id"])
                found[(parent, collection, parent_field, match)] = row["count"]
        return [found.get(key, 0) for key in keys]

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
            query = {
                "learner_id": {"$in": _object_ids(learner_ids)},
                **snapshot_filter(*options),
            }
            for document in self.store.snapshots.find(query):
                snapshot = Snapshot.from_document(document)
                found[(snapshot.learner_id, *options)].append(snapshot)
        for snapshots in found.values():
            snapshots.sort(key=training_order)
        return [found.get(key, []) for key in keys]

    def _tensor_chunks(self, ids: Sequence[str]) -> list[bytes | None]:
        cursor = self.store.tensor_chunks.find({"_id": {"$in": list(dict.fromkeys(ids))}})
        chunks = {chunk["_id"]: bytes(chunk["data"]) for chunk in cursor.batch_size(CHUNK_BATCH)}
        return [chunks.get(key) for key in ids]

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


def _object_ids(ids: Sequence[str | None]) -> list[ObjectId]:
    return [ObjectId(key) for key in dict.fromkeys(ids) if key is not None]
