"""Custom scalars: 64-bit integers and UTC date-times."""

from __future__ import annotations

import datetime as dt
from typing import Any, NewType

import strawberry
from graphql import GraphQLError

from ..model._normalise import utc

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Int64 = NewType("Int64", int)

INT64_DESCRIPTION = (
    "A signed 64-bit integer (seeds, update counts, byte sizes). Always serialized as a JSON "
    "number, exact at any size; JavaScript's JSON.parse rounds numbers above 2^53, so read "
    "it with a big-integer-aware JSON parser. Input: a number, or a string of digits."
)
DATETIME_DESCRIPTION = (
    "A moment as an ISO 8601 string with its UTC offset, e.g. 2026-12-04T15:00:00+00:00. "
    "Output is always in UTC."
)


def serialize_int64(value: Any) -> int:
    """Return `value` as an int in the signed 64-bit range."""
    return _int64(value)


def parse_int64(value: Any) -> int:
    """Return the int an Int64 input holds: a JSON number or a string of digits."""
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10)
        except ValueError:
            raise GraphQLError(
                f"Int64 cannot represent {value!r}: allowed: an integer or a string of digits"
            ) from None
    return _int64(value)


def _int64(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError(f"Int64 cannot represent {value!r}: allowed: an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise GraphQLError(f"Int64 cannot represent {value}: allowed: -2^63 .. 2^63-1")
    return value


def serialize_datetime(value: dt.datetime) -> str:
    """Return `value` in UTC as ISO 8601 with its offset; naive values are taken as UTC."""
    return utc(value).isoformat()


def parse_datetime(value: Any) -> dt.datetime:
    """Return the UTC datetime an ISO 8601 string with an offset names."""
    if not isinstance(value, str):
        raise GraphQLError(f"DateTime cannot represent {value!r}: allowed: an ISO 8601 string")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise GraphQLError(
            f"DateTime cannot represent {value!r}: allowed: ISO 8601, e.g. 2026-12-04T15:00:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise GraphQLError(f"DateTime {value!r} has no UTC offset: allowed: e.g. +00:00")
    return utc(moment)


SCALAR_MAP = {
    Int64: strawberry.scalar(
        name="Int64",
        description=INT64_DESCRIPTION,
        serialize=serialize_int64,
        parse_value=parse_int64,
    ),
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description=DATETIME_DESCRIPTION,
        serialize=serialize_datetime,
        parse_value=parse_datetime,
    ),
}
