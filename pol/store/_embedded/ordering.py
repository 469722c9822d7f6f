"""MongoDB's comparison order for values, as Python sort keys and as byte strings.

Two views of the same order: `sort_key` gives a tuple Python can compare (used to
sort results), and `encode_key` gives bytes whose `memcmp` order matches (stored in
SQLite index tables so that equality and range lookups become B-tree seeks).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import bson
from bson.binary import Binary
from bson.objectid import ObjectId
from bson.regex import Regex

# Rank of each type in MongoDB's cross-type order; missing values rank as null.
RANK_NULL = 2
RANK_NUMBER = 3
RANK_STRING = 4
RANK_OBJECT = 5
RANK_ARRAY = 6
RANK_BINARY = 7
RANK_OBJECT_ID = 8
RANK_BOOL = 9
RANK_DATE = 10
RANK_REGEX = 11

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Missing:
    """Marker for a path that does not exist in a document."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


def type_rank(value: Any) -> int:
    """Return the rank of `value`'s type in MongoDB's comparison order."""
    if value is None or value is MISSING:
        return RANK_NULL
    if isinstance(value, bool):
        return RANK_BOOL
    if isinstance(value, (int, float, Decimal, bson.Decimal128)):
        return RANK_NUMBER
    if isinstance(value, str):
        return RANK_STRING
    if isinstance(value, Mapping):
        return RANK_OBJECT
    if isinstance(value, (list, tuple)):
        return RANK_ARRAY
    if isinstance(value, (bytes, Binary)):
        return RANK_BINARY
    if isinstance(value, ObjectId):
        return RANK_OBJECT_ID
    if isinstance(value, dt.datetime):
        return RANK_DATE
    if isinstance(value, (Regex, re.Pattern)):
        return RANK_REGEX
    raise TypeError(f"cannot order a value of type {type(value).__name__}: {value!r}")


def _number(value: Any) -> tuple[int, Any]:
    if isinstance(value, bson.Decimal128):
        value = value.to_decimal()
    if isinstance(value, (float, Decimal)) and math.isnan(value):
        return (0, 0)  # NaN sorts below every other number
    return (1, value)


def sort_key(value: Any) -> tuple:
    """Return a tuple that orders like MongoDB compares `value` (missing counts as null)."""
    rank = type_rank(value)
    if rank == RANK_NULL:
        return (rank,)
    if rank == RANK_NUMBER:
        return (rank, _number(value))
    if rank == RANK_OBJECT:
        items = tuple((type_rank(v), k, sort_key(v)) for k, v in value.items())
        return (rank, items)
    if rank == RANK_ARRAY:
        return (rank, tuple(sort_key(v) for v in value))
    if rank == RANK_BINARY:
        subtype = getattr(value, "subtype", 0)
        return (rank, len(value), subtype, bytes(value))
    if rank == RANK_OBJECT_ID:
        return (rank, value.binary)
    if rank == RANK_DATE:
        return (rank, _millis(value))
    if rank == RANK_REGEX:
        return (rank, str(value.pattern), str(getattr(value, "flags", "")))
    return (rank, value)


def field_sort_key(value: Any, descending: bool) -> tuple:
    """Return the sort key of a document field; arrays sort by their least or greatest element."""
    kind = type(value)
    # The common plain values first, with the keys sort_key gives them.
    if (kind is float and not math.isnan(value)) or kind is int:
        return (RANK_NUMBER, (1, value))
    if kind is str:
        return (RANK_STRING, value)
    if isinstance(value, (list, tuple)):
        if not value:
            return (RANK_NULL - 1,)  # an empty array sorts before null and missing
        keys = [sort_key(v) for v in value]
        return max(keys) if descending else min(keys)
    return sort_key(value)


def hashable(value: Any) -> Any:
    """Return a hashable stand-in for `value` under which MongoDB-equal values collide."""
    rank = type_rank(value)
    if rank == RANK_NULL:
        return (RANK_NULL,)
    if rank == RANK_OBJECT:
        return (rank, tuple((k, hashable(v)) for k, v in value.items()))
    if rank == RANK_ARRAY:
        return (rank, tuple(hashable(v) for v in value))
    return sort_key(value)


def _millis(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # BSON reads naive datetimes as UTC
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _ordered_int64(number: int) -> bytes:
    return struct.pack(">Q", (number + (1 << 63)) & 0xFFFF_FFFF_FFFF_FFFF)


def _encode_number(value: Any) -> bytes:
    if isinstance(value, bson.Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        value = float(value)  # only narrows the search; candidates are re-checked exactly
    if isinstance(value, float) and math.isnan(value):
        return b"\x00" * 16
    approx = float(value) if not isinstance(value, float) else value
    if approx == 0.0:
        approx = 0.0  # -0.0 equals 0.0
    (bits,) = struct.unpack(">Q", struct.pack(">d", approx))
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | (1 << 63)
    # Integers beyond 2**53 share a float; the exact remainder keeps them apart and ordered.
    remainder = value - int(approx) if isinstance(value, int) and math.isfinite(approx) else 0
    return struct.pack(">Q", bits) + _ordered_int64(remainder)


def _encode_string(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass").replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def encode_key(value: Any) -> bytes:
    """Return bytes whose byte order is MongoDB's order for scalars (equality for the rest)."""
    rank = type_rank(value)
    tag = bytes([rank])
    if rank == RANK_NULL:
        return tag
    if rank == RANK_NUMBER:
        return tag + _encode_number(value)
    if rank == RANK_STRING:
        return tag + _encode_string(value)
    if rank == RANK_BOOL:
        return tag + (b"\x01" if value else b"\x00")
    if rank == RANK_DATE:
        return tag + _ordered_int64(_millis(value))
    if rank == RANK_OBJECT_ID:
        return tag + value.binary
    if rank == RANK_BINARY:
        subtype = getattr(value, "subtype", 0)
        return tag + struct.pack(">IB", len(value), subtype) + bytes(value)
    # Objects, arrays and regexes are only ever looked up by equality, never by range.
    body = bson.encode({"v": value})
    return tag + struct.pack(">I", len(body)) + body


def is_range_type(value: Any) -> bool:
    """Return True if index range scans over `value`'s type are exact supersets."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return type_rank(value) in (RANK_NUMBER, RANK_STRING, RANK_DATE, RANK_OBJECT_ID, RANK_BINARY)


def is_point_type(value: Any) -> bool:
    """Return True if an equality match on `value` may use an index seek."""
    return type_rank(value) not in (RANK_OBJECT, RANK_ARRAY, RANK_REGEX)
