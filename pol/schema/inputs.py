"""Input types of the GraphQL API's mutations."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from ..resolvers.mutations import API_DATASETS
from .enums import BoundKind, HpOptMethod, LearnerType
from .scalars import Int64


@strawberry.input(description="The range or choices of one hyper-parameter of a search space.")
class BoundInput:
    name: str = strawberry.field(
        description="A tunable hyper-parameter's search-space name, e.g. alpha, lambda, batch_size."
    )
    kind: BoundKind
    low: float | None = strawberry.field(default=None, description="Required for FLOAT and INT.")
    high: float | None = strawberry.field(
        default=None, description="Required for FLOAT and INT; included in the range."
    )
    log: bool = strawberry.field(default=False, description="Draw a FLOAT log-uniformly.")
    choices: list[JSON] | None = strawberry.field(
        default=None, description="Required for CATEGORICAL: the values to draw from."
    )

    def to_document(self) -> dict[str, Any]:
        """Return the model's document form of this bound; fields not given are left out."""
        document = {
            "kind": self.kind.value,
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "choices": self.choices,
        }
        return {key: value for key, value in document.items() if value is not None}


@strawberry.input(description="A new experiment over one of the bundled datasets.")
class CreateExperimentInput:
    name: str
    dataset: str = strawberry.field(description="One of " + ", ".join(API_DATASETS) + ".")
    search_space: list[BoundInput]
    description: str = ""
    learner_type: LearnerType = LearnerType.MLP
    hp_opt_method: HpOptMethod = HpOptMethod.RANDOM
    seed: Int64 = strawberry.field(
        default=0, description="Seed of the shuffled train/valid/test split."
    )
    snapshot_every: int = strawberry.field(
        default=1, description="Epochs between two snapshots of a learner (1: every epoch)."
    )
    snapshot_every_updates: int | None = strawberry.field(
        default=None,
        description="Also a snapshot inside an epoch every this many updates (null: none).",
    )
    window: int | None = strawberry.field(
        default=None, description="Time steps per sequence for a time series (default 12)."
    )


@strawberry.input(
    description="Hyper-parameters a fork changes; those left null keep the parent's values. "
    "The architecture and the batch size cannot change at a fork."
)
class ForkOverridesInput:
    alpha: float | None = None
    regularisation_lambda: float | None = strawberry.field(
        default=None, description="The search-space hyper-parameter `lambda`."
    )
    momentum: float | None = None
    patience: int | None = None
    max_epochs: int | None = None
    max_updates: Int64 | None = None
    lr_step_size: int | None = None
    lr_gamma: float | None = None

    def to_document(self) -> dict[str, Any]:
        """Return the overrides by their document names, leaving out those not given."""
        overrides = {
            "alpha": self.alpha,
            "lambda": self.regularisation_lambda,
            "momentum": self.momentum,
            "patience": self.patience,
            "max_epochs": self.max_epochs,
            "max_updates": self.max_updates,
            "lr_step_size": self.lr_step_size,
            "lr_gamma": self.lr_gamma,
        }
        return {key: value for key, value in overrides.items() if value is not None}
