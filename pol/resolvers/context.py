"""The per-request context every resolver receives: the store and fresh data loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..store import Store
from .loaders import Loaders

# Tensor values one request may return, in bytes, whatever the shape of the query.
VALUES_BYTES_PER_REQUEST = 16 * 1024 * 1024


@dataclass
class Context:
    """What a GraphQL request may use: the store, and data loaders that live for one request."""

    store: Store
    loaders: Loaders = field(init=False)
    request: Any = None
    response: Any = None
    values_bytes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store)

    def spend_values(self, nbytes: int) -> None:
        """Count tensor values this request returns; refuse past VALUES_BYTES_PER_REQUEST."""
        self.values_bytes += nbytes
        if self.values_bytes > VALUES_BYTES_PER_REQUEST:
            raise ValidationError(
                "values",
                f"{self.values_bytes} bytes",
                f"at most {VALUES_BYTES_PER_REQUEST} bytes of tensor values per request; "
                "read them in pages over several requests",
            )
