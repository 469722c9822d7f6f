"""Cursor connections: keyset pages over a sort order, read in one aggregate per batch.

A page is the rows after (or before) a cursor in a fixed sort order that always ends with
`_id`, so every row has a distinct position. A cursor holds the sort values of its row,
not an offset: rows inserted before it do not move a client's place in the list.

The pipeline of a page is `$match` (the list's scope and filter, served by an index),
`$addFields` (sort keys the documents do not hold as such, e.g. "has a finite loss"),
`$match` (the keyset: rows strictly after the cursor), `$sort`, then `$group` by parent
with `$slice`, so that one aggregate reads a page for every parent of a batch.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.errors import BSONError

from ..errors import ValidationError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# The largest finite double: ranges bounded by it match every finite number and no NaN,
# infinity, null or missing value, on every engine alike.
FINITE_MAX = sys.float_info.max
PREFIX = "_pol_"
# Datetimes in cursors come back aware, as the store's do.
CURSOR_CODEC = CodecOptions(tz_aware=True)


@dataclass(frozen=True)
class SortField:
    """One key of a sort order: a document path, or a field computed by `expression`.

    `expression` is the JSON text of an aggregation expression (kept as text so that a
    sort order can key a data loader).
    """

    name: str
    descending: bool = False
    expression: str | None = None


Ordering = tuple[SortField, ...]


def finite_first(path: str, descending: bool, position: int) -> tuple[SortField, SortField]:
    """Return the sort fields ordering by the number at `path`, non-finite values last.

    A flag (0 for a finite number) sorts first; the value itself is null for every row
    whose flag is 1, so that NaN, infinities, nulls and missing values tie, by `_id`.
    """
    finite = {"$and": [{"$gte": [f"${path}", -FINITE_MAX]}, {"$lte": [f"${path}", FINITE_MAX]}]}
    flag = {"$cond": [finite, 0, 1]}
    value = {"$cond": [finite, f"${path}", None]}
    return (
        SortField(f"{PREFIX}flag{position}", False, json.dumps(flag)),
        SortField(f"{PREFIX}value{position}", descending, json.dumps(value)),
    )


@dataclass(frozen=True)
class Window:
    """Which page to read: `size` rows after `cursor` (forward) or before it (backward)."""

    size: int
    forward: bool = True
    cursor: tuple | None = None


@dataclass(frozen=True)
class PageQuery:
    """A page of one collection's rows: everything a loader key holds but the parent."""

    collection: str
    parent_field: str | None
    match: str  # the JSON text of the filter, so that it can key a data loader
    ordering: Ordering
    window: Window


@dataclass
class Page:
    """The rows of a page in sort order, with whether rows lie beyond either end."""

    rows: list[dict]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def window(
    ordering: Ordering,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Window:
    """Return the page `first`/`after` (forward) or `last`/`before` (backward) ask for.

    Neither given: the first DEFAULT_PAGE_SIZE rows. Raise ValidationError naming the
    argument for a size outside 0..MAX_PAGE_SIZE, a forward and a backward argument
    together, or a cursor that is not one of this list's.
    """
    if first is not None and last is not None:
        raise ValidationError("last", last, "first or last, not both")
    if last is not None or before is not None:
        if after is not None:
            raise ValidationError("after", after, "after with first; before with last")
        if first is not None:
            raise ValidationError("before", before, "before with last; after with first")
        size = _page_size("last", DEFAULT_PAGE_SIZE if last is None else last)
        return Window(size, False, decode_cursor("before", before, ordering))
    size = _page_size("first", DEFAULT_PAGE_SIZE if first is None else first)
    return Window(size, True, decode_cursor("after", after, ordering))


def _page_size(field: str, size: int) -> int:
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise ValidationError(
            field, size, f"an integer 0 .. {MAX_PAGE_SIZE} (the maximum page size)"
        )
    return size


def encode_cursor(row: dict, ordering: Ordering) -> str:
    """Return the opaque cursor of `row`: its sort values, base64 of BSON."""
    values = [value_at(row, field.name) for field in ordering]
    document = {"o": _signature(ordering), "k": values}
    return base64.urlsafe_b64encode(bson.encode(document)).decode("ascii")


def decode_cursor(field: str, cursor: str | None, ordering: Ordering) -> tuple | None:
    """Return the sort values a cursor holds, or raise ValidationError naming `field`."""
    if cursor is None:
        return None
    allowed = "a cursor from this list's edges or pageInfo, with the same orderBy"
    try:
        document = bson.decode(base64.urlsafe_b64decode(cursor.encode("ascii")), CURSOR_CODEC)
    except (BSONError, binascii.Error, UnicodeEncodeError, ValueError):
        raise ValidationError(field, cursor, allowed) from None
    values = document.get("k")
    if document.get("o") != _signature(ordering) or not isinstance(values, list):
        raise ValidationError(field, cursor, allowed)
    return tuple(values)


def _signature(ordering: Ordering) -> str:
    return ",".join(("-" if field.descending else "") + field.name for field in ordering)


def value_at(document: dict, path: str) -> Any:
    """Return the value at a dotted `path` of `document`, None when absent."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def page_pipeline(query: PageQuery, parents: Sequence[Any]) -> list[dict]:
    """Return the aggregate reading `query`'s page for each of `parents` (None: no parent)."""
    match = json.loads(query.match)
    if query.parent_field is not None:
        scope = {query.parent_field: {"$in": list(parents)}}
        match = {"$and": [scope, match]} if match else scope
    stages: list[dict] = [{"$match": match}]
    computed = {
        field.name: json.loads(field.expression) for field in query.ordering if field.expression
    }
    if computed:
        stages.append({"$addFields": computed})
    if query.window.cursor is not None:
        stages.append({"$match": _keyset(query.ordering, query.window)})
    forward = query.window.forward
    stages.append(
        {
            "$sort": {
                field.name: 1 if field.descending != forward else -1 for field in query.ordering
            }
        }
    )
    parent = f"${query.parent_field}" if query.parent_field else None
    stages.append({"$group": {"_id": parent, "rows": {"$push": "$$ROOT"}}})
    stages.append({"$project": {"rows": {"$slice": ["$rows", query.window.size + 1]}}})
    return stages


def _keyset(ordering: Ordering, page: Window) -> dict:
    """Return the query for rows strictly beyond the cursor in the page's direction."""
    clauses = []
    for position, field in enumerate(ordering):
        value = page.cursor[position]
        if value is None:
            continue  # the rows tied with the cursor on a null key all hold null there
        ascending = field.descending != page.forward
        clause = {name.name: page.cursor[index] for index, name in enumerate(ordering[:position])}
        clause[field.name] = {"$gt" if ascending else "$lt": value}
        clauses.append(clause)
    return {"$or": clauses} if clauses else {"_id": {"$exists": False}}


def page_of(rows: list[dict], query: PageQuery) -> Page:
    """Return the page of `rows`, read one past the page's size, in sort order."""
    page = query.window
    more = len(rows) > page.size
    rows = rows[: page.size]
    if not page.forward:
        rows = rows[::-1]
    beyond_cursor = page.cursor is not None
    return Page(
        rows=rows,
        cursors=[encode_cursor(row, query.ordering) for row in rows],
        has_next_page=more if page.forward else beyond_cursor,
        has_previous_page=beyond_cursor if page.forward else more,
    )
