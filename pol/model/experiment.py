"""Experiment: the entry point of the POL model; one search over one dataset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ._normalise import now, plain
from .dataset import Dataset, Indices
from .hyperparameters import HP_OPT_METHODS, LEARNER_TYPES
from .ids import hex_id, object_id
from .search_space import HyperParamSearchSpace

NAME_LIMIT = 200
DESCRIPTION_LIMIT = 10_000


def _shown(value: object) -> object:
    """Return `value` short enough to quote in an error message."""
    if isinstance(value, str) and len(value) > 60:
        return f"{value[:40]}... ({len(value)} characters)"
    return value


def _check_text(field: str, text: object) -> None:
    """Refuse text MongoDB cannot store as it is: lone surrogates, NUL characters."""
    if not isinstance(text, str):
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, _shown(text), "text of whole Unicode characters") from None
    if "\x00" in text:
        raise ValidationError(field, _shown(text), "text without NUL characters")


@dataclass
class Experiment:
    """A dataset, how its rows were split, and the search space its learners are drawn from.

    Learners are kept in their own collection and point back at the experiment.
    `snapshot_every` is the number of epochs between two snapshots of a learner (1: every
    epoch); the last epoch of a learner always gets one. `snapshot_every_updates`, when
    set, adds a snapshot inside an epoch every that many updates, so a trial can be paused
    and continued from the middle of a long epoch.
    """

    name: str
    dataset: Dataset
    indices: Indices
    search_space: HyperParamSearchSpace
    learner_type: str = "mlp"
    hp_opt_method: str = "random"
    description: str = ""
    snapshot_every: int = 1
    snapshot_every_updates: int | None = None
    created_at: dt.datetime = field(default_factory=now)
    updated_at: dt.datetime = field(default_factory=now)
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > NAME_LIMIT:
            raise ValidationError("name", _shown(self.name), f"1 to {NAME_LIMIT} characters")
        _check_text("name", self.name)
        _check_text("description", self.description)
        if not isinstance(self.description, str) or len(self.description) > DESCRIPTION_LIMIT:
            raise ValidationError(
                "description", _shown(self.description), f"at most {DESCRIPTION_LIMIT} characters"
            )
        if self.learner_type not in LEARNER_TYPES:
            raise ValidationError(
                "learner_type", self.learner_type, "one of " + ", ".join(LEARNER_TYPES)
            )
        if self.hp_opt_method not in HP_OPT_METHODS:
            raise ValidationError(
                "hp_opt_method", self.hp_opt_method, "one of " + ", ".join(HP_OPT_METHODS)
            )
        if (
            isinstance(self.snapshot_every, bool)
            or not isinstance(self.snapshot_every, int)
            or (self.snapshot_every < 1)
        ):
            raise ValidationError("snapshot_every", self.snapshot_every, "an integer >= 1")
        if self.snapshot_every_updates is not None and (
            isinstance(self.snapshot_every_updates, bool)
            or not isinstance(self.snapshot_every_updates, int)
            or self.snapshot_every_updates < 1
        ):
            raise ValidationError(
                "snapshot_every_updates", self.snapshot_every_updates, "null or an integer >= 1"
            )

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        document = {
            "name": self.name,
            "description": self.description,
            "dataset": self.dataset.to_document(),
            "indices": self.indices.to_document(),
            "search_space": self.search_space.to_document(),
            "learner_type": self.learner_type,
            "hp_opt_method": self.hp_opt_method,
            "snapshot_every": self.snapshot_every,
            "snapshot_every_updates": self.snapshot_every_updates,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.id is not None:
            document["_id"] = object_id("id", self.id)
        return plain(document)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Experiment:
        """Return the experiment a document holds."""
        return cls(
            id=hex_id(document.get("_id")),
            name=document["name"],
            description=document.get("description", ""),
            dataset=Dataset.from_document(document["dataset"]),
            indices=Indices.from_document(document["indices"]),
            search_space=HyperParamSearchSpace.from_document(document["search_space"]),
            learner_type=document.get("learner_type", "mlp"),
            hp_opt_method=document.get("hp_opt_method", "random"),
            snapshot_every=document.get("snapshot_every", 1),
            snapshot_every_updates=document.get("snapshot_every_updates"),
            created_at=document.get("created_at") or now(),
            updated_at=document.get("updated_at") or now(),
        )
