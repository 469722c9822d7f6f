"""Exceptions POL raises, one class per kind of failure, each with a stable code."""

from __future__ import annotations

from typing import Any


class PolError(Exception):
    """Base of every error POL raises on purpose; `code` is stable across releases."""

    code = "POL_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def extensions(self) -> dict[str, Any]:
        """Return the GraphQL error extensions for this error."""
        extensions: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions


class ValidationError(PolError):
    """A value given by the user is outside what is allowed; nothing was written."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(f"{field}: got {value!r}; allowed: {allowed}", field=field)
        self.value = value
        self.allowed = allowed


class InvalidIdError(ValidationError):
    """An id that is not of the form POL ids take."""

    code = "INVALID_ID"

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(field, value, "a 24-character hexadecimal id")


class NotFoundError(PolError):
    """The experiment, learner or snapshot named does not exist."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, key: Any, *, field: str | None = None) -> None:
        super().__init__(f"{kind} {key} does not exist", field=field)
        self.kind = kind
        self.key = key


class StateError(PolError):
    """The operation is not allowed in the learner's current status."""

    code = "INVALID_STATE"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)


class ConflictError(PolError):
    """The write lost a race with another writer (a lease taken, a snapshot already there)."""

    code = "CONFLICT"
