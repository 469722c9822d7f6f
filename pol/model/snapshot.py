"""Snapshot: a learner at the end of one epoch (the paper's "updates")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ._normalise import now, plain
from .ids import hex_id, object_id
from .layer import Layer
from .performance import LearnerPerformance
from .tensor import Tensor


@dataclass
class Snapshot:
    """Everything about a learner at the end of epoch `epoch` (zero-based), or inside it.

    `training_state` is a serialized blob (a Tensor of uint8 bytes) holding the optimiser,
    scheduler, early-stopping and random-number-generator states needed to continue.
    `batch` is None for a snapshot at the end of an epoch (which has the performance on
    every split); a snapshot taken inside an epoch has the number of that epoch's batches
    done, and no performance. `generation` counts the learner's roll-backs: rolling back
    marks later snapshots `superseded` and writes new ones in the next generation. A
    (learner, generation, epoch, batch) names at most one snapshot; none is overwritten.
    """

    learner_id: str
    experiment_id: str
    epoch: int
    updates: int
    elapsed: float
    performance: LearnerPerformance
    layers: list[Layer] = field(default_factory=list)
    training_state: Tensor | None = None
    batch: int | None = None
    generation: int = 0
    superseded: bool = False
    created_at: dt.datetime = field(default_factory=now)
    id: str | None = None

    @property
    def end_of_epoch(self) -> bool:
        """Return True for a snapshot taken when its epoch was complete."""
        return self.batch is None

    def tensors(self) -> list[Tensor]:
        """Return every tensor of the snapshot: the layers' and the training state."""
        tensors = [tensor for layer in self.layers for tensor in layer.tensors]
        if self.training_state is not None:
            tensors.append(self.training_state)
        return tensors

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form; tensor values are kept apart, by checksum."""
        document = {
            "learner_id": object_id("learner_id", self.learner_id),
            "experiment_id": object_id("experiment_id", self.experiment_id),
            "epoch": self.epoch,
            "updates": self.updates,
            "elapsed": self.elapsed,
            "performance": self.performance.to_document(),
            "layers": [layer.to_document() for layer in self.layers],
            "training_state": self.training_state.metadata() if self.training_state else None,
            "batch": self.batch,
            "generation": self.generation,
            "superseded": self.superseded,
            "created_at": self.created_at,
        }
        if self.id is not None:
            document["_id"] = object_id("id", self.id)
        return plain(document)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Snapshot:
        """Return the snapshot a document holds, tensors without their values."""
        state = document.get("training_state")
        return cls(
            id=hex_id(document.get("_id")),
            learner_id=hex_id(document["learner_id"]),
            experiment_id=hex_id(document["experiment_id"]),
            epoch=document["epoch"],
            updates=document["updates"],
            elapsed=document["elapsed"],
            performance=LearnerPerformance.from_document(document.get("performance")),
            layers=[Layer.from_document(item) for item in document.get("layers", [])],
            training_state=Tensor.from_metadata(state) if state else None,
            batch=document.get("batch"),
            generation=document.get("generation", 0),
            superseded=bool(document.get("superseded", False)),
            created_at=document.get("created_at") or now(),
        )
