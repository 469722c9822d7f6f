"""Dataset and Indices: which rows a learner saw, kept so a split can be reproduced exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ValidationError
from ._normalise import plain

TASKS = ("classification", "regression")


@dataclass
class Dataset:
    """Where an experiment's rows came from and what they hold.

    `window` is the number of time steps per sequence for a windowed time series, else None.
    `labels` are the class labels of a classification task, in order.
    """

    name: str
    source: str
    rows: int
    features: list[str]
    target: str
    task: str
    window: int | None = None
    labels: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValidationError("dataset.task", self.task, "one of " + ", ".join(TASKS))

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return plain(dict(self.__dict__))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Dataset:
        """Return the dataset a document holds."""
        return cls(**{name: document.get(name) for name in cls.__dataclass_fields__})


@dataclass
class Indices:
    """The seed and the row indices of the train, valid and test splits."""

    seed: int
    train: list[int]
    valid: list[int]
    test: list[int]

    @classmethod
    def split(cls, rows: int, seed: int, fractions: tuple[float, float] = (0.6, 0.2)) -> Indices:
        """Return a shuffled split of `rows` rows: train and valid fractions, test the rest."""
        order = np.random.default_rng(seed).permutation(rows)
        n_train = round(rows * fractions[0])
        n_valid = round(rows * fractions[1])
        return cls(
            seed=seed,
            train=sorted(order[:n_train].tolist()),
            valid=sorted(order[n_train : n_train + n_valid].tolist()),
            test=sorted(order[n_train + n_valid :].tolist()),
        )

    @classmethod
    def in_order(cls, rows: int, fractions: tuple[float, float] = (0.6, 0.2)) -> Indices:
        """Return a split that keeps time order: first rows train, then valid, then test."""
        n_train = round(rows * fractions[0])
        n_valid = round(rows * fractions[1])
        return cls(
            seed=0,
            train=list(range(n_train)),
            valid=list(range(n_train, n_train + n_valid)),
            test=list(range(n_train + n_valid, rows)),
        )

    def sizes(self) -> dict[str, int]:
        """Return the number of rows in each split."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return plain(dict(self.__dict__))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Indices:
        """Return the indices a document holds."""
        return cls(
            **{
                name: list(document[name]) if name != "seed" else document[name]
                for name in cls.__dataclass_fields__
            }
        )
