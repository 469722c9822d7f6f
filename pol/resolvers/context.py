"""The per-request context every resolver receives: the store and fresh data loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from .loaders import Loaders


@dataclass
class Context:
    """What a GraphQL request may use: the store, and data loaders that live for one request."""

    store: Store
    loaders: Loaders = field(init=False)
    request: Any = None
    response: Any = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store)
