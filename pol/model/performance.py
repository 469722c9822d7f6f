"""Performance of a learner on one split, and on every split at once."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ._normalise import plain

SPLITS = ("train", "valid", "test")
CLASSIFICATION_METRICS = ("loss", "accuracy", "precision", "recall", "f1")
REGRESSION_METRICS = ("loss", "mse", "mae")
METRICS = ("loss", "accuracy", "precision", "recall", "f1", "mse", "mae")


@dataclass
class ConfusionMatrix:
    """Counts of (true label, predicted label) pairs; rows are true labels."""

    labels: list[int]
    counts: list[list[int]]

    @classmethod
    def of(cls, targets: np.ndarray, predictions: np.ndarray, labels: list[int]) -> ConfusionMatrix:
        """Return the confusion matrix of `predictions` against `targets`."""
        position = {label: index for index, label in enumerate(labels)}
        rows = np.fromiter((position[item] for item in targets.tolist()), dtype=np.int64)
        columns = np.fromiter((position[item] for item in predictions.tolist()), dtype=np.int64)
        return cls.of_positions(rows, columns, labels)

    @classmethod
    def of_positions(
        cls, targets: np.ndarray, predictions: np.ndarray, labels: list[int]
    ) -> ConfusionMatrix:
        """Return the confusion matrix of class positions (0..len(labels)-1) against targets."""
        size = len(labels)
        flat = np.bincount(targets * size + predictions, minlength=size * size)
        return cls(labels=list(labels), counts=flat.reshape(size, size).tolist())

    def macro_scores(self) -> tuple[float, float, float]:
        """Return macro-averaged (precision, recall, F1) over every label; 0 where undefined."""
        counts = np.asarray(self.counts, dtype=np.float64)
        true_positives = np.diag(counts)
        predicted = counts.sum(axis=0)
        actual = counts.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, true_positives / predicted, 0.0)
            recall = np.where(actual > 0, true_positives / actual, 0.0)
            both = predicted + actual
            f1 = np.where(both > 0, 2 * true_positives / both, 0.0)
        return float(precision.mean()), float(recall.mean()), float(f1.mean())

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return {"labels": plain(self.labels), "counts": plain(self.counts)}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ConfusionMatrix:
        """Return the confusion matrix a document holds."""
        return cls(
            labels=list(document["labels"]), counts=[list(row) for row in document["counts"]]
        )


@dataclass
class Performance:
    """Metrics of a learner on one split; metrics that do not apply to the task are None."""

    split: str
    loss: float
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    mse: float | None = None
    mae: float | None = None
    confusion_matrix: ConfusionMatrix | None = None

    def metric(self, name: str) -> float | None:
        """Return the value of the metric called `name`."""
        return getattr(self, name)

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form; NaN and infinities are kept as they are."""
        document: dict[str, Any] = {"split": self.split}
        for name in METRICS:
            document[name] = plain(getattr(self, name))
        document["confusion_matrix"] = (
            self.confusion_matrix.to_document() if self.confusion_matrix else None
        )
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Performance:
        """Return the performance a document holds."""
        matrix = document.get("confusion_matrix")
        return cls(
            split=document["split"],
            **{name: document.get(name) for name in METRICS},
            confusion_matrix=ConfusionMatrix.from_document(matrix) if matrix else None,
        )


@dataclass
class LearnerPerformance:
    """Performance on each split at one point of training."""

    train: Performance | None = None
    valid: Performance | None = None
    test: Performance | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Performance | None:
        """Return the performance on the split called `name`."""
        return getattr(self, name)

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form: one entry per split."""
        return {
            split.name: getattr(self, split.name).to_document()
            for split in fields(self)
            if split.name in SPLITS and getattr(self, split.name) is not None
        }

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> LearnerPerformance:
        """Return the performance a document holds."""
        document = document or {}
        return cls(
            **{
                split: Performance.from_document(document[split])
                for split in SPLITS
                if document.get(split)
            }
        )
