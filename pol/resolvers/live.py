"""Live progress of learners: new snapshots and status changes, found by polling the store.

Neither the embedded engine nor every MongoDB deployment has change streams, so a
subscription reads the store every POLL_SECONDS, in a worker thread, and reports what
changed since its last read:

- a snapshot is new when its (generation, updates) is past the highest its learner had
  at the previous read: a learner writes its snapshots in that order, one at a time, and
  a roll-back starts the next generation;
- a status change is a learner whose status differs from the previous read. A change and
  its reversal within one interval (a pause and a resume) go unseen, and several changes
  in one interval are reported as one. A learner created after the subscription started
  is reported as QUEUED first, as every learner is created queued.

Within one read, changes into QUEUED or RUNNING come before the snapshots and the others
(COMPLETED, PAUSED, ...) after them, the order in which a worker makes them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from starlette.concurrency import run_in_threadpool

from ..errors import NotFoundError
from ..model import Snapshot
from ..model._normalise import now
from ..store import Store
from .arguments import valid_id

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25
# A snapshot's fields a progress event reports; its layers and training state stay unread.
SNAPSHOT_SUMMARY = {
    "learner_id": 1,
    "experiment_id": 1,
    "epoch": 1,
    "batch": 1,
    "generation": 1,
    "updates": 1,
    "elapsed": 1,
    "performance": 1,
    "superseded": 1,
    "created_at": 1,
}
LEARNER_STATE = {
    "status": 1,
    "failure_reason": 1,
    "stop_reason": 1,
    "experiment_id": 1,
    "created_at": 1,
}
STARTED = ("queued", "running")
NO_SNAPSHOT = (-1, -1)

# The polls now running, by number: a subscription's poll ends when its client leaves.
_active: dict[int, str] = {}
_active_lock = threading.Lock()
_numbers = itertools.count(1)


@dataclass
class StatusChanged:
    """A learner seen in a new status; `previous` None for a learner new to the poll."""

    learner_id: str
    experiment_id: str
    previous: str | None
    status: str
    failure_reason: str | None
    stop_reason: str | None
    observed_at: dt.datetime


@dataclass
class SnapshotWritten:
    """A snapshot new to the poll, without its layers and training state."""

    snapshot: Snapshot


ProgressEvent = StatusChanged | SnapshotWritten


def active_polls() -> int:
    """Return how many live-progress polls are running in this process."""
    with _active_lock:
        return len(_active)


async def experiment_progress(
    store: Store, experiment_id: str, since: dt.datetime | None = None
) -> AsyncIterator[ProgressEvent]:
    """Return the progress events of an experiment's learners from now (or `since`) on.

    The id is checked and the starting point read before this returns, so an invalid or
    unknown id raises here and no poll starts.
    """
    experiment_id = valid_id("experimentId", experiment_id)
    poll = ProgressPoll(store, {"experiment_id": ObjectId(experiment_id)}, since)
    replay = await run_in_threadpool(poll.start, "experiment", experiment_id, "experimentId")
    return _follow(poll, replay, f"experiment {experiment_id}")


async def learner_progress(
    store: Store, learner_id: str, since: dt.datetime | None = None
) -> AsyncIterator[ProgressEvent]:
    """Return the progress events of one learner from now (or `since`) on; see above."""
    learner_id = valid_id("learnerId", learner_id)
    poll = ProgressPoll(store, {"_id": ObjectId(learner_id)}, since)
    replay = await run_in_threadpool(poll.start, "learner", learner_id, "learnerId")
    return _follow(poll, replay, f"learner {learner_id}")


async def _follow(
    poll: ProgressPoll, replay: list[ProgressEvent], subject: str
) -> AsyncIterator[ProgressEvent]:
    number = next(_numbers)
    with _active_lock:
        _active[number] = subject
    logger.debug("live poll %d of %s started", number, subject)
    try:
        for event in replay:
            yield event
        while True:
            await asyncio.sleep(POLL_SECONDS)
            for event in await run_in_threadpool(poll.read):
                yield event
    finally:
        with _active_lock:
            del _active[number]
        logger.debug("live poll %d of %s ended", number, subject)


async def closing_map(events: AsyncIterator[Any], convert: Any) -> AsyncIterator[Any]:
    """Yield `convert(event)` for each event, closing `events` when this generator closes."""
    async with aclosing(events):
        async for event in events:
            yield convert(event)


class ProgressPoll:
    """What a subscription has seen of some learners: their statuses and latest snapshots.

    `scope` selects the learners (`{"experiment_id": ...}` or `{"_id": ...}`). Its methods
    read the store and run in a worker thread.
    """

    def __init__(self, store: Store, scope: dict[str, Any], since: dt.datetime | None) -> None:
        self.store = store
        self.scope = scope
        # A time without an offset is UTC, as every time the store holds.
        self.since = since.replace(tzinfo=dt.UTC) if since and since.tzinfo is None else since
        self.statuses: dict[str, str] = {}
        self.latest: dict[str, tuple[int, int]] = {}

    def start(self, kind: str, key: str, field: str) -> list[ProgressEvent]:
        """Read the starting point; return the events since `since` (none without it)."""
        if kind == "experiment":
            found = self.store.experiments.find_one({"_id": ObjectId(key)}, {"_id": 1})
        else:
            found = self.store.learners.find_one({"_id": ObjectId(key)}, {"_id": 1})
        if found is None:
            raise NotFoundError(kind, key, field=field)

        learners = self._learners()
        self.statuses = {
            learner_id: document["status"]
            for learner_id, document in learners.items()
            if self.since is None or document["created_at"] < self.since
        }
        replayed = []
        projection = SNAPSHOT_SUMMARY if self.since else {"generation": 1, "updates": 1}
        for document in self.store.snapshots.find(
            self._snapshot_scope(), {"learner_id": 1, **projection}
        ):
            learner_id = str(document["learner_id"])
            place = (document.get("generation", 0), document["updates"])
            self.latest[learner_id] = max(self.latest.get(learner_id, NO_SNAPSHOT), place)
            if self.since is not None and document["created_at"] >= self.since:
                replayed.append(SnapshotWritten(Snapshot.from_document(document)))
        replayed.sort(key=lambda event: (event.snapshot.created_at, event.snapshot.updates))
        changes = self._changes(learners)
        self.statuses.update({key: document["status"] for key, document in learners.items()})
        return _in_order(changes, replayed)

    def read(self) -> list[ProgressEvent]:
        """Return the status changes and snapshots since the previous read."""
        learners = self._learners()
        changes = self._changes(learners)
        changed = {change.learner_id for change in changes}
        watched = [
            learner_id
            for learner_id, document in learners.items()
            if document["status"] == "running" or learner_id in changed
        ]
        # Also those running at the previous read: their last snapshots came before the end.
        watched += [
            learner_id
            for learner_id, status in self.statuses.items()
            if status == "running" and learner_id not in watched
        ]
        written = [event for learner_id in watched for event in self._new_snapshots(learner_id)]
        self.statuses.update({key: document["status"] for key, document in learners.items()})
        return _in_order(changes, written)

    def _learners(self) -> dict[str, dict[str, Any]]:
        documents = self.store.learners.find(self.scope, LEARNER_STATE)
        return {str(document["_id"]): document for document in documents}

    def _changes(self, learners: dict[str, dict[str, Any]]) -> list[StatusChanged]:
        changes = []
        moment = now()
        for learner_id, document in learners.items():
            previous = self.statuses.get(learner_id)
            if previous is None:
                changes.append(_change_of(learner_id, document, moment, None, "queued"))
                previous = "queued"
            if document["status"] != previous:
                changes.append(
                    _change_of(learner_id, document, moment, previous, document["status"])
                )
        return changes

    def _new_snapshots(self, learner_id: str) -> list[SnapshotWritten]:
        generation, updates = self.latest.get(learner_id, NO_SNAPSHOT)
        query = {
            "learner_id": ObjectId(learner_id),
            "$or": [
                {"generation": {"$gt": generation}},
                {"generation": generation, "updates": {"$gt": updates}},
            ],
        }
        snapshots = [
            Snapshot.from_document(document)
            for document in self.store.snapshots.find(query, SNAPSHOT_SUMMARY)
        ]
        snapshots.sort(key=_training_place)
        if snapshots:
            self.latest[learner_id] = _training_place(snapshots[-1])
        return [SnapshotWritten(snapshot) for snapshot in snapshots]

    def _snapshot_scope(self) -> dict[str, Any]:
        if "_id" in self.scope:
            return {"learner_id": self.scope["_id"]}
        return dict(self.scope)


def _change_of(
    learner_id: str,
    document: dict[str, Any],
    moment: dt.datetime,
    previous: str | None,
    status: str,
) -> StatusChanged:
    return StatusChanged(
        learner_id=learner_id,
        experiment_id=str(document["experiment_id"]),
        previous=previous,
        status=status,
        failure_reason=document.get("failure_reason"),
        stop_reason=document.get("stop_reason"),
        observed_at=moment,
    )


def _in_order(changes: list[StatusChanged], written: list[SnapshotWritten]) -> list:
    started = [change for change in changes if change.status in STARTED]
    ended = [change for change in changes if change.status not in STARTED]
    return [*started, *written, *ended]


def _training_place(snapshot: Snapshot) -> tuple[int, int]:
    return (snapshot.generation, snapshot.updates)
