"""The root Subscription type: live progress of an experiment's learners or of one learner.

Events come from polling the store (pol.resolvers.live); over WebSocket with the
graphql-transport-ws protocol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from .. import model
from ..resolvers import live
from .enums import Status
from .numbers import NonFiniteField, finite, non_finite_fields
from .scalars import Int64
from .types import PolInfo

SINCE_DESCRIPTION = (
    "Also report the snapshots written at or after this time, before the new ones; status "
    "changes are live only, except that learners created since then are reported as "
    "QUEUED first. Default: only what happens from now on."
)


@strawberry.type(description="A snapshot a worker has just written, with its headline metrics.")
class SnapshotProgress:
    learner_id: strawberry.ID
    experiment_id: strawberry.ID
    snapshot_id: strawberry.ID
    epoch: int = strawberry.field(description="Zero-based epoch.")
    batch: int | None = strawberry.field(
        description="Batches of the epoch done for a snapshot inside an epoch; null at its end."
    )
    generation: int = strawberry.field(description="The learner's roll-back generation.")
    updates: Int64
    elapsed: float | None = strawberry.field(description="Seconds of training so far.")
    created_at: dt.datetime
    train_loss: float | None
    train_accuracy: float | None
    valid_loss: float | None
    valid_accuracy: float | None
    non_finite: list[NonFiniteField] = strawberry.field(
        description="The metrics above that are null because they were NaN or infinite."
    )

    @classmethod
    def of(cls, snapshot: model.Snapshot) -> SnapshotProgress:
        """Return the progress event of a snapshot."""
        metrics = {"elapsed": snapshot.elapsed}
        for split in ("train", "valid"):
            performance = snapshot.performance.split(split)
            metrics[f"{split}Loss"] = performance.loss if performance else None
            metrics[f"{split}Accuracy"] = performance.accuracy if performance else None
        return cls(
            learner_id=strawberry.ID(snapshot.learner_id),
            experiment_id=strawberry.ID(snapshot.experiment_id),
            snapshot_id=strawberry.ID(snapshot.id or ""),
            epoch=snapshot.epoch,
            batch=snapshot.batch,
            generation=snapshot.generation,
            updates=Int64(snapshot.updates),
            elapsed=finite(snapshot.elapsed),
            created_at=snapshot.created_at,
            train_loss=finite(metrics["trainLoss"]),
            train_accuracy=finite(metrics["trainAccuracy"]),
            valid_loss=finite(metrics["validLoss"]),
            valid_accuracy=finite(metrics["validAccuracy"]),
            non_finite=non_finite_fields(metrics),
        )


@strawberry.type(description="A learner seen in a new status.")
class StatusChange:
    learner_id: strawberry.ID
    experiment_id: strawberry.ID
    previous_status: Status | None = strawberry.field(
        description="Null for a learner created since the subscription started: it is "
        "reported as QUEUED, the status every learner starts in."
    )
    status: Status
    failure_reason: str | None
    stop_reason: str | None = strawberry.field(
        description="Why a finished learner stopped: early stopping, max epochs or updates."
    )
    observed_at: dt.datetime = strawberry.field(description="When the server saw the change.")

    @classmethod
    def of(cls, change: live.StatusChanged) -> StatusChange:
        """Return the progress event of a status change."""
        return cls(
            learner_id=strawberry.ID(change.learner_id),
            experiment_id=strawberry.ID(change.experiment_id),
            previous_status=Status(change.previous) if change.previous else None,
            status=Status(change.status),
            failure_reason=change.failure_reason,
            stop_reason=change.stop_reason,
            observed_at=change.observed_at,
        )


Progress = Annotated[
    SnapshotProgress | StatusChange,
    strawberry.union("Progress", description="A new snapshot or a status change."),
]


def progress_of(event: live.ProgressEvent) -> SnapshotProgress | StatusChange:
    """Return the GraphQL form of a progress event."""
    if isinstance(event, live.SnapshotWritten):
        return SnapshotProgress.of(event.snapshot)
    return StatusChange.of(event)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each new snapshot and status change of an experiment's learners, as "
        "trial workers make them (the store is read every quarter second)."
    )
    async def experiment_progress(
        self,
        info: PolInfo,
        experiment_id: strawberry.ID,
        since: Annotated[
            dt.datetime | None, strawberry.argument(description=SINCE_DESCRIPTION)
        ] = None,
    ) -> AsyncGenerator[Progress, None]:
        events = await live.experiment_progress(info.context.store, experiment_id, since)
        return live.closing_map(events, progress_of)

    @strawberry.subscription(
        description="Each new snapshot and status change of one learner, as its worker "
        "makes them (the store is read every quarter second)."
    )
    async def learner_progress(
        self,
        info: PolInfo,
        learner_id: strawberry.ID,
        since: Annotated[
            dt.datetime | None, strawberry.argument(description=SINCE_DESCRIPTION)
        ] = None,
    ) -> AsyncGenerator[Progress, None]:
        events = await live.learner_progress(info.context.store, learner_id, since)
        return live.closing_map(events, progress_of)
