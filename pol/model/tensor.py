"""Tensor: a named multi-dimensional array kept as raw little-endian bytes."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


@dataclass(frozen=True)
class TensorStats:
    """Summary statistics of a tensor's values, computed once when it is made."""

    min: float
    max: float
    mean: float
    std: float
    l2_norm: float
    non_finite: int

    @classmethod
    def of(cls, values: np.ndarray) -> TensorStats:
        """Return the statistics of `values`, over its finite entries."""
        flat = values.astype(np.float64, copy=False).ravel()
        finite = flat[np.isfinite(flat)]
        non_finite = int(flat.size - finite.size)
        if finite.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan, math.nan, non_finite)
        return cls(
            min=float(finite.min()),
            max=float(finite.max()),
            mean=float(finite.mean()),
            std=float(finite.std()),
            l2_norm=float(np.sqrt(np.dot(finite, finite))),
            non_finite=non_finite,
        )

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return dict(self.__dict__)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> TensorStats:
        """Return the stats a document holds."""
        return cls(**{name: document[name] for name in cls.__dataclass_fields__})


@dataclass
class Tensor:
    """A layer's weights or biases (or any array) with its dtype, shape and checksum.

    `summarise` False leaves `stats` empty: for opaque bytes, such as a training state,
    whose statistics mean nothing.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    values: bytes = field(repr=False)
    checksum: str = ""
    stats: TensorStats | None = None
    summarise: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.shape = tuple(int(size) for size in self.shape)
        if not self.checksum:
            self.checksum = checksum(self.values)
        if self.stats is None and self.summarise and self.dtype != "bool":
            self.stats = TensorStats.of(self.to_numpy())

    @classmethod
    def of_bytes(cls, name: str, values: bytes) -> Tensor:
        """Return an opaque one-dimensional uint8 tensor holding `values`, without stats."""
        return cls(
            name=name, dtype="uint8", shape=(len(values),), values=bytes(values), summarise=False
        )

    @classmethod
    def from_numpy(cls, name: str, array: np.ndarray) -> Tensor:
        """Return a Tensor holding a copy of `array` in little-endian byte order."""
        dtype = np.dtype(array.dtype).newbyteorder("<")
        if dtype.name not in DTYPES:
            raise TypeError(f"tensor {name}: dtype must be one of {', '.join(DTYPES)}, not {dtype}")
        values = np.ascontiguousarray(array, dtype=dtype).tobytes()
        return cls(name=name, dtype=dtype.name, shape=tuple(array.shape), values=values)

    @classmethod
    def from_torch(cls, name: str, tensor: Any) -> Tensor:
        """Return a Tensor holding a copy of a torch tensor's values."""
        return cls.from_numpy(name, tensor.detach().cpu().numpy())

    def to_numpy(self) -> np.ndarray:
        """Return the values as a numpy array of the stored dtype and shape."""
        dtype = np.dtype(self.dtype).newbyteorder("<")
        return np.frombuffer(self.values, dtype=dtype).reshape(self.shape)

    @property
    def size(self) -> int:
        """Return the number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Return the number of bytes of the values, also when only the metadata is loaded."""
        return self.size * np.dtype(self.dtype).itemsize

    def metadata(self) -> dict[str, Any]:
        """Return the canonical document form without the values."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "checksum": self.checksum,
            "nbytes": self.nbytes,
            "stats": self.stats.to_document() if self.stats else None,
        }

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form, values as raw bytes."""
        return {**self.metadata(), "values": self.values}

    @classmethod
    def from_metadata(cls, document: dict[str, Any]) -> Tensor:
        """Return a tensor with the metadata a document holds and no values (`loaded` False)."""
        stats = document.get("stats")
        tensor = cls.__new__(cls)
        tensor.name = document["name"]
        tensor.dtype = document["dtype"]
        tensor.shape = tuple(int(size) for size in document["shape"])
        tensor.values = b""
        tensor.checksum = document["checksum"]
        tensor.stats = TensorStats.from_document(stats) if stats else None
        tensor.summarise = stats is not None
        return tensor

    @property
    def loaded(self) -> bool:
        """Return True when the values are present (not only the metadata)."""
        return len(self.values) == self.nbytes

    @classmethod
    def from_document(cls, document: dict[str, Any], values: bytes | None = None) -> Tensor:
        """Return the tensor a document holds; `values` when they were stored apart."""
        stats = document.get("stats")
        return cls(
            name=document["name"],
            dtype=document["dtype"],
            shape=tuple(document["shape"]),
            values=bytes(values if values is not None else document["values"]),
            checksum=document["checksum"],
            stats=TensorStats.from_document(stats) if stats else None,
            summarise=stats is not None,
        )


def checksum(values: bytes) -> str:
    """Return the SHA-256 hex digest that identifies a tensor's bytes."""
    return hashlib.sha256(values).hexdigest()
