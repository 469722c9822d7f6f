"""Resolvers of the GraphQL API: queries, mutations and the per-request data loaders."""

from .context import Context
from .loaders import Loaders

__all__ = ["Context", "Loaders"]
