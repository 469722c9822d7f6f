"""Ids: 24-character hexadecimal strings in Python and GraphQL, ObjectIds in MongoDB."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from ..errors import InvalidIdError


def object_id(field: str, value: Any) -> ObjectId:
    """Return `value` as an ObjectId, or raise InvalidIdError naming `field`."""
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and ObjectId.is_valid(value) and len(value) == 24:
        return ObjectId(value)
    raise InvalidIdError(field, value)


def new_id() -> str:
    """Return a fresh id."""
    return str(ObjectId())


def hex_id(value: Any) -> str | None:
    """Return the hexadecimal string form of an ObjectId (None stays None)."""
    return None if value is None else str(value)
