"""GraphQL enums; each value is the string the model stores."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="A learner's place in its life cycle.")
class Status(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED_EARLY = "stopped_early"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.enum(description="A performance metric; loss, mse and mae are better when lower.")
class Metric(Enum):
    LOSS = "loss"
    ACCURACY = "accuracy"
    PRECISION = "precision"
    RECALL = "recall"
    F1 = "f1"
    MSE = "mse"
    MAE = "mae"


@strawberry.enum(description="A split of the dataset's rows.")
class Split(Enum):
    TRAIN = "train"
    VALID = "valid"
    TEST = "test"


@strawberry.enum(description="How a search-space bound draws its values.")
class BoundKind(Enum):
    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"


@strawberry.enum(description="The architecture family of an experiment's learners.")
class LearnerType(Enum):
    MLP = "mlp"
    RNN = "rnn"
    LSTM = "lstm"
    GRU = "gru"


@strawberry.enum(description="How an experiment's configurations are chosen.")
class HpOptMethod(Enum):
    RANDOM = "random"
    GRID = "grid"
    MANUAL = "manual"
    FORK = "fork"


@strawberry.enum(description="How startTrials draws configurations from the search space.")
class TrialMethod(Enum):
    RANDOM = "random"
    GRID = "grid"


@strawberry.enum(description="Which value a non-finite number had; the field itself is null.")
class NonFinite(Enum):
    NAN = "nan"
    POSITIVE_INFINITY = "inf"
    NEGATIVE_INFINITY = "-inf"


@strawberry.enum(description="The direction of one key of an ordering.")
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"
