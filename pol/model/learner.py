"""Learner: one trial run of one hyper-parameter configuration."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ._normalise import now, plain
from .dataset import Indices
from .hyperparameters import LEARNER_TYPES, HyperParameters
from .ids import hex_id, object_id
from .layer import Layer
from .performance import LearnerPerformance

REQUESTS = ("pause", "cancel")
# How many of its latest snapshot ids a learner document keeps.
RECENT_SNAPSHOTS = 10
STATUSES = ("queued", "running", "paused", "completed", "stopped_early", "failed", "cancelled")
# Statuses a learner never leaves by itself.
FINISHED = ("completed", "stopped_early", "failed", "cancelled")
LEARNING_TYPES = ("supervised", "unsupervised", "reinforcement")
OPTIMISATION_METHODS = ("msgd",)


@dataclass
class Learner:
    """A trial run: its configuration, where training stands, and its latest performance.

    `configuration` numbers the configuration within its experiment and `run` the run of
    that configuration, so (configuration, run) names one of the paper's trial-runs.
    `best_epoch` is the zero-based epoch of the lowest validation loss so far.
    `failure_reason` says why a failed learner failed; `stop_reason` why a finished one
    stopped (early stopping, max epochs, max updates, or the failure).
    `indices` is None when the learner uses its experiment's split (the usual case), so the
    row indices are stored once per experiment rather than once per learner.
    A fork records the learner and epoch it started from in `parent_learner_id` and
    `parent_epoch`. `generation` counts roll-backs (see Snapshot). `request` is what a user
    asked of a running learner ("pause" or "cancel"), honoured at its next snapshot.
    `worker` holds the claim on a running learner until `lease_expires_at`; `claims`
    counts how often it was claimed. `recent_snapshot_ids` are the ids of its latest
    current end-of-epoch snapshots (at most RECENT_SNAPSHOTS, oldest first), so that the last
    few snapshots of many learners are read by id in one query.
    """

    experiment_id: str
    learner_type: str
    hyper_parameters: HyperParameters
    seed: int
    configuration: int = 0
    run: int = 0
    learning_type: str = "supervised"
    optimisation_method: str = "msgd"
    layers: list[Layer] = field(default_factory=list)
    performance: LearnerPerformance = field(default_factory=LearnerPerformance)
    trained: bool = False
    indices: Indices | None = None
    status: str = "queued"
    failure_reason: str | None = None
    stop_reason: str | None = None
    epochs: int = 0
    updates: int = 0
    best_epoch: int | None = None
    created_at: dt.datetime = field(default_factory=now)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    parent_learner_id: str | None = None
    parent_epoch: int | None = None
    generation: int = 0
    request: str | None = None
    worker: str | None = None
    lease_expires_at: dt.datetime | None = None
    claims: int = 0
    recent_snapshot_ids: list[str] = field(default_factory=list)
    id: str | None = None

    def __post_init__(self) -> None:
        if self.learner_type not in LEARNER_TYPES:
            raise ValidationError(
                "learner_type", self.learner_type, "one of " + ", ".join(LEARNER_TYPES)
            )
        if self.status not in STATUSES:
            raise ValidationError("status", self.status, "one of " + ", ".join(STATUSES))

    @property
    def finished(self) -> bool:
        """Return True when the learner will not train again by itself."""
        return self.status in FINISHED

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        document = {
            "experiment_id": object_id("experiment_id", self.experiment_id),
            "learner_type": self.learner_type,
            "learning_type": self.learning_type,
            "optimisation_method": self.optimisation_method,
            "hyper_parameters": self.hyper_parameters.to_document(),
            "layers": [layer.to_document() for layer in self.layers],
            "performance": self.performance.to_document(),
            "trained": self.trained,
            "indices": self.indices.to_document() if self.indices else None,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "stop_reason": self.stop_reason,
            "seed": self.seed,
            "configuration": self.configuration,
            "run": self.run,
            "epochs": self.epochs,
            "updates": self.updates,
            "best_epoch": self.best_epoch,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "parent_learner_id": (
                object_id("parent_learner_id", self.parent_learner_id)
                if self.parent_learner_id
                else None
            ),
            "parent_epoch": self.parent_epoch,
            "generation": self.generation,
            "request": self.request,
            "worker": self.worker,
            "lease_expires_at": self.lease_expires_at,
            "claims": self.claims,
            "recent_snapshots": [
                object_id("recent_snapshot_ids", item) for item in self.recent_snapshot_ids
            ],
        }
        if self.id is not None:
            document["_id"] = object_id("id", self.id)
        return plain(document)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Learner:
        """Return the learner a document holds (layer tensors without values)."""
        indices = document.get("indices")
        return cls(
            id=hex_id(document.get("_id")),
            experiment_id=hex_id(document["experiment_id"]),
            learner_type=document["learner_type"],
            learning_type=document.get("learning_type", "supervised"),
            optimisation_method=document.get("optimisation_method", "msgd"),
            hyper_parameters=HyperParameters.from_document(document["hyper_parameters"]),
            layers=[Layer.from_document(item) for item in document.get("layers", [])],
            performance=LearnerPerformance.from_document(document.get("performance")),
            trained=bool(document.get("trained", False)),
            indices=Indices.from_document(indices) if indices else None,
            status=document.get("status", "queued"),
            failure_reason=document.get("failure_reason"),
            stop_reason=document.get("stop_reason"),
            seed=document["seed"],
            configuration=document.get("configuration", 0),
            run=document.get("run", 0),
            epochs=document.get("epochs", 0),
            updates=document.get("updates", 0),
            best_epoch=document.get("best_epoch"),
            created_at=document.get("created_at") or now(),
            started_at=document.get("started_at"),
            finished_at=document.get("finished_at"),
            parent_learner_id=hex_id(document.get("parent_learner_id")),
            parent_epoch=document.get("parent_epoch"),
            generation=document.get("generation", 0),
            request=document.get("request"),
            worker=document.get("worker"),
            lease_expires_at=document.get("lease_expires_at"),
            claims=document.get("claims", 0),
            recent_snapshot_ids=[hex_id(item) for item in document.get("recent_snapshots", [])],
        )
