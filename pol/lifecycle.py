"""Pausing, resuming, rolling back, forking and cancelling trials, from any stored epoch.

Each operation checks the learner's status first and changes nothing when the operation is
not allowed in it. Requests to a running learner (pause, cancel) are honoured by its worker
at the learner's next snapshot; everything else takes effect at once, and the trial workers
pick queued learners up from their latest current snapshot.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import ReturnDocument

from .errors import StateError, ValidationError
from .model import Learner, Snapshot
from .model._normalise import now
from .model.ids import object_id
from .model.learner import RECENT_SNAPSHOTS
from .store import Store

logger = logging.getLogger(__name__)

RESUMABLE = ("paused", "failed")


def pause(store: Store, learner_id: str) -> Learner:
    """Ask a running learner to stop at its next snapshot, with status paused."""
    return _request(store, learner_id, "pause")


def cancel(store: Store, learner_id: str) -> Learner:
    """Cancel a queued or paused learner at once, or ask a running one to stop."""
    document = store.learners.find_one_and_update(
        {"_id": object_id("id", learner_id), "status": {"$in": ["queued", "paused"]}},
        {"$set": {"status": "cancelled", "finished_at": now(), "request": None}},
        return_document=ReturnDocument.AFTER,
    )
    if document is not None:
        logger.info("learner %s cancelled", learner_id)
        return Learner.from_document(document)
    return _request(store, learner_id, "cancel", also="queued, paused")


def resume(store: Store, learner_id: str) -> Learner:
    """Queue a paused, failed or interrupted learner to continue from its latest snapshot."""
    document = store.learners.find_one_and_update(
        {
            "_id": object_id("id", learner_id),
            "$or": [
                {"status": {"$in": list(RESUMABLE)}},
                {"status": "running", "lease_expires_at": {"$lt": now()}},
            ],
        },
        {
            "$set": {
                "status": "queued",
                "request": None,
                "failure_reason": None,
                "finished_at": None,
                "trained": False,
            },
            "$unset": {"worker": "", "lease_expires_at": ""},
        },
        return_document=ReturnDocument.AFTER,
    )
    if document is None:
        current = store.learner(learner_id)
        raise StateError(
            f"learner {learner_id} is {current.status}; resume needs a paused, failed or "
            "interrupted learner (a running one whose worker's lease expired)",
            field="id",
        )
    latest = store.latest_snapshot(learner_id)
    logger.info(
        "learner %s queued to resume after %s",
        learner_id,
        _place(latest) if latest else "no snapshot (from the start)",
    )
    return Learner.from_document(document)


def roll_back(store: Store, learner_id: str, epoch: int) -> Learner:
    """Queue a learner to continue from its own earlier `epoch`; later snapshots are kept.

    The snapshots after `epoch` are marked superseded, never deleted, and training writes
    the new ones in the learner's next generation.
    """
    learner = store.learner(learner_id)
    if learner.status == "running":
        raise StateError(
            f"learner {learner_id} is running; pause it before rolling it back", field="id"
        )
    snapshot = store.snapshot(learner_id, epoch)
    recent = store.snapshots_of(learner_id, last_epoch=epoch)[-RECENT_SNAPSHOTS:]
    document = store.learners.find_one_and_update(
        {
            "_id": object_id("id", learner_id),
            "status": learner.status,
            "generation": learner.generation,
        },
        {
            "$set": {
                "status": "queued",
                "generation": learner.generation + 1,
                "request": None,
                "failure_reason": None,
                "finished_at": None,
                "trained": False,
                "epochs": epoch + 1,
                "updates": snapshot.updates,
                "performance": snapshot.performance.to_document(),
                "recent_snapshots": [object_id("id", item.id) for item in recent],
            },
        },
        return_document=ReturnDocument.AFTER,
    )
    if document is None:
        raise StateError(f"learner {learner_id} changed while rolling back; try again", field="id")
    superseded = store.snapshots.update_many(
        {
            "learner_id": object_id("learner_id", learner_id),
            "superseded": False,
            "$or": [{"epoch": {"$gt": epoch}}, {"epoch": epoch, "batch": {"$ne": None}}],
        },
        {"$set": {"superseded": True}},
    )
    logger.info(
        "learner %s rolled back to epoch %d; %d later snapshots superseded",
        learner_id,
        epoch,
        superseded.modified_count,
    )
    return Learner.from_document(document)


def fork(
    store: Store, learner_id: str, epoch: int, overrides: dict[str, Any] | None = None
) -> Learner:
    """Queue a new learner that starts from `learner_id`'s snapshot of `epoch`.

    `overrides` replace hyper-parameters (by their document names: alpha, patience, ...);
    those that change the architecture or the batches are refused.
    """
    from .training import check_fork_overrides
    from .trials import next_configuration

    parent = store.learner(learner_id)
    snapshot = store.snapshot(learner_id, epoch)
    hyper_parameters = check_fork_overrides(parent.hyper_parameters, overrides or {})
    if hyper_parameters.max_epochs <= epoch + 1:
        raise ValidationError(
            "hyper_parameters.max_epochs",
            hyper_parameters.max_epochs,
            f"more than {epoch + 1}: a fork at epoch {epoch} trains from epoch {epoch + 1} on",
        )
    if hyper_parameters.max_updates <= snapshot.updates:
        raise ValidationError(
            "hyper_parameters.max_updates",
            hyper_parameters.max_updates,
            f"more than the {snapshot.updates} updates made by epoch {epoch}",
        )
    child = Learner(
        experiment_id=parent.experiment_id,
        learner_type=parent.learner_type,
        learning_type=parent.learning_type,
        optimisation_method=parent.optimisation_method,
        hyper_parameters=hyper_parameters,
        seed=parent.seed,
        configuration=next_configuration(store, parent.experiment_id),
        indices=parent.indices,
        parent_learner_id=parent.id,
        parent_epoch=epoch,
        epochs=epoch + 1,
        updates=snapshot.updates,
        performance=snapshot.performance,
    )
    store.insert_learners([child])
    logger.info("learner %s forked from learner %s at epoch %d", child.id, learner_id, epoch)
    return child


def start_snapshot(store: Store, learner: Learner) -> Snapshot | None:
    """Return the snapshot, with values, that a worker continues `learner` from, or None."""
    latest = store.latest_snapshot(learner.id, values=True)
    if latest is not None or learner.parent_learner_id is None:
        return latest
    snapshot = store.snapshot(learner.parent_learner_id, learner.parent_epoch, values=True)
    snapshot.learner_id = learner.id
    snapshot.generation = learner.generation
    return snapshot


def _request(store: Store, learner_id: str, request: str, also: str = "") -> Learner:
    document = store.learners.find_one_and_update(
        {"_id": object_id("id", learner_id), "status": "running"},
        {"$set": {"request": request}},
        return_document=ReturnDocument.AFTER,
    )
    if document is None:
        current = store.learner(learner_id)
        allowed = f"{also} or running" if also else "running"
        raise StateError(
            f"learner {learner_id} is {current.status}; {request} needs a {allowed} learner",
            field="id",
        )
    logger.info("learner %s: %s requested", learner_id, request)
    return Learner.from_document(document)


def _place(snapshot: Snapshot) -> str:
    if snapshot.batch is None:
        return f"epoch {snapshot.epoch}"
    return f"batch {snapshot.batch} of epoch {snapshot.epoch}"
