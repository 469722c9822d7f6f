"""GraphQL errors: POL errors with their code and field, everything else masked and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from ..errors import PolError

logger = logging.getLogger(__name__)

INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
INTERNAL_MESSAGE = "Internal server error; the server log has the details."
# graphql-core ends the message of every parser limit (tokens, nesting) with this.
PARSER_LIMIT = "Parsing aborted."


class QueryTooComplexError(PolError):
    """A document beyond the server's limits on tokens, depth or aliases; nothing ran."""

    code = "QUERY_TOO_COMPLEX"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="query")


class UnauthenticatedError(PolError):
    """A mutation or subscription without the server's token; nothing ran."""

    code = "UNAUTHENTICATED"


class PolErrors(SchemaExtension):
    """Give each error of a response its stable `code` extension, masking unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        yield
        self._rewrite(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        # Each event of a subscription is a result of its own.
        self._rewrite(result)
        yield

    @staticmethod
    def _rewrite(result: object) -> None:
        if result is not None and getattr(result, "errors", None):
            result.errors = [client_error(error) for error in result.errors]


def client_error(error: GraphQLError) -> GraphQLError:
    """Return the error a client sees for `error`."""
    original = error.original_error
    if isinstance(original, PolError):
        extensions = original.extensions()
        if original.field is None and error.path:
            extensions["field"] = str(error.path[-1])
        return _with(error, original.message, extensions, original)
    if isinstance(error, GraphQLSyntaxError) and PARSER_LIMIT in error.message:
        limit = QueryTooComplexError(f"query: {error.message.removeprefix('Syntax Error: ')}")
        return _with(error, limit.message, limit.extensions(), limit)
    if is_request_error(error):
        code = (
            "GRAPHQL_PARSE_FAILED"
            if error.message.startswith("Syntax Error")
            else "GRAPHQL_VALIDATION_FAILED"
        )
        return _with(error, error.message, {**(error.extensions or {}), "code": code}, original)
    return _with(error, INTERNAL_MESSAGE, {"code": INTERNAL_SERVER_ERROR}, None)


def is_request_error(error: GraphQLError) -> bool:
    """Return True for an error in the request itself: syntax, validation, variable values."""
    original = error.original_error
    return error.path is None and (
        original is None or isinstance(original, (GraphQLError, ValueError, TypeError))
    )


def log_error(error: GraphQLError) -> None:
    """Log an error of a request: user errors briefly, unexpected ones with their traceback."""
    original = error.original_error
    if isinstance(original, PolError):
        logger.info("request refused (%s): %s", original.code, original.message)
    elif is_request_error(error):
        logger.debug("invalid request: %s", error.message)
    else:
        path = ".".join(map(str, error.path or ())) or "request"
        logger.exception("unexpected error in %s", path, exc_info=original or error)


def _with(
    error: GraphQLError, message: str, extensions: dict, original: Exception | None
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )
