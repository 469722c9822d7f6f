"""The GraphQL schema of POL's API: `schema.as_str()` prints it in SDL."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ..timing import Timing
from .auth import RequireToken
from .errors import PolErrors, log_error
from .limits import QueryLimits
from .root import Mutation, Query
from .scalars import SCALAR_MAP, Int64
from .subscriptions import Subscription


class PolSchema(Schema):
    """The strawberry schema, logging errors by kind rather than each with a traceback."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_error(error)


schema = PolSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # PolErrors first: it rewrites the errors of the others' refusals too.
    extensions=[PolErrors, QueryLimits, RequireToken, Timing],
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
)

__all__ = ["Int64", "PolSchema", "schema"]
