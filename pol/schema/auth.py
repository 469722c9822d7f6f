"""Writes need the server's token: mutations and subscriptions from a client without it fail.

The web app decides who holds the token and says so in the request's context
(`authenticated`); the schema only refuses, before validation, what needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from .errors import UnauthenticatedError

NEEDS_TOKEN = (OperationType.MUTATION, OperationType.SUBSCRIPTION)


class RequireToken(SchemaExtension):
    """Refuse a mutation or subscription when the context says the client has no token."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        authenticated = getattr(execution.context, "authenticated", True)
        if not authenticated and execution.operation_type in NEEDS_TOKEN:
            kind = execution.operation_type.value
            error = UnauthenticatedError(
                f"a {kind} needs this server's token: send the header "
                '"Authorization: Bearer <token>" (for a subscription, the connection_init '
                'payload {"Authorization": "Bearer <token>"}); queries need none'
            )
            # Set before validation runs, so nothing is validated or executed.
            execution.pre_execution_errors = [GraphQLError(error.message, original_error=error)]
        yield
