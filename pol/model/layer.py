"""Layer: one layer's configuration and its weights and biases as tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .hyperparameters import LayerConfiguration
from .tensor import Tensor


@dataclass
class Layer:
    """A layer of a learner at one point of training.

    A layer read from the store without its values has `tensors` whose `values` are empty
    and whose metadata (dtype, shape, checksum, stats) is complete.
    """

    configuration: LayerConfiguration
    tensors: list[Tensor] = field(default_factory=list)

    def tensor(self, name: str) -> Tensor | None:
        """Return the tensor called `name` (weights, biases, ...) or None."""
        return next((tensor for tensor in self.tensors if tensor.name == name), None)

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form; tensor values are kept apart, by checksum."""
        return {
            "configuration": self.configuration.to_document(),
            "tensors": [tensor.metadata() for tensor in self.tensors],
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Layer:
        """Return the layer a document holds, tensors without their values."""
        return cls(
            configuration=LayerConfiguration.from_document(document["configuration"]),
            tensors=[Tensor.from_metadata(item) for item in document.get("tensors", [])],
        )
