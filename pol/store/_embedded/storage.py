"""SQLite tables holding documents and secondary indexes, and the query planner over them.

Every function here takes an open `sqlite3.Connection` inside a transaction that the
caller began; none of them commits.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import DocumentTooLarge, DuplicateKeyError

from .documents import get_path, path_crosses_array
from .ordering import MISSING, encode_key, is_point_type, is_range_type, type_rank

logger = logging.getLogger(__name__)

MAX_BSON_SIZE = 16 * 1024 * 1024
CODEC_OPTIONS = CodecOptions(tz_aware=True, tzinfo=dt.UTC)
_RAW_CODEC_OPTIONS = CodecOptions(document_class=RawBSONDocument, tz_aware=True, tzinfo=dt.UTC)
# An $in over several index fields expands into a product of seeks; past this, seek fewer.
MAX_SEEKS = 256
_AFTER_ALL_TAGS = b"\xff"  # every encoded value starts with a type tag below this byte

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    coll_id INTEGER PRIMARY KEY,
    database TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (database, name)
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id INTEGER PRIMARY KEY,
    coll_id INTEGER NOT NULL,
    id_key BLOB NOT NULL,
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_by_id ON documents (coll_id, id_key);
CREATE TABLE IF NOT EXISTS indexes (
    index_id INTEGER PRIMARY KEY,
    coll_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    fields TEXT NOT NULL,
    is_unique INTEGER NOT NULL,
    multikey INTEGER NOT NULL DEFAULT 0,
    UNIQUE (coll_id, name)
);
CREATE TABLE IF NOT EXISTS index_entries (
    index_id INTEGER NOT NULL,
    key BLOB NOT NULL,
    doc_id INTEGER NOT NULL,
    PRIMARY KEY (index_id, key, doc_id)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Index:
    """A secondary index: its fields in order, and whether keys must be unique."""

    index_id: int
    name: str
    fields: tuple[tuple[str, int], ...]
    unique: bool
    multikey: bool

    def key(self, document: Mapping) -> tuple[bytes, bool]:
        """Return the encoded key of `document` and whether an array lies on an indexed path."""
        parts = []
        crosses_array = False
        for path, _direction in self.fields:
            crosses_array = crosses_array or path_crosses_array(document, path)
            value = get_path(document, path)
            parts.append(encode_key(None if value is MISSING else value))
        return b"".join(parts), crosses_array


@dataclass(frozen=True)
class Plan:
    """How to find candidate documents: a full scan, `_id` keys, or seeks on one index."""

    kind: str  # "scan", "ids" or "index"
    index: Index | None = None
    ids: tuple[bytes, ...] = ()
    ranges: tuple[tuple[bytes, bytes], ...] = ()  # [low, high) over index keys


def encode_document(document: Mapping) -> bytes:
    """Return `document` as BSON, refusing documents over MongoDB's 16 MiB limit."""
    body = bson.encode(document)
    if len(body) > MAX_BSON_SIZE:
        raise DocumentTooLarge(
            f"BSON document too large ({len(body)} bytes) - the connected server supports "
            f"BSON document sizes up to {MAX_BSON_SIZE} bytes."
        )
    return body


def decode_document(body: bytes) -> dict:
    """Return the document stored as `body`."""
    return bson.decode(body, CODEC_OPTIONS)


def decode_fields(body: bytes, fields: Collection[str]) -> dict:
    """Return the top-level `fields` of the document stored as `body`, in stored order.

    Only the top level is read at first: sub-documents stay undecoded bytes until
    kept, so fields a query does not read cost a slice, not a decode.
    """
    return {
        key: _decoded(value)
        for key, value in RawBSONDocument(body, _RAW_CODEC_OPTIONS).items()
        if key in fields
    }


def _decoded(value: Any) -> Any:
    if isinstance(value, RawBSONDocument):
        return bson.decode(value.raw, CODEC_OPTIONS)
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def collection_id(conn: sqlite3.Connection, database: str, name: str, create: bool) -> int | None:
    """Return the id of collection `database.name`, creating it if asked; None if absent."""
    row = conn.execute(
        "SELECT coll_id FROM collections WHERE database = ? AND name = ?", (database, name)
    ).fetchone()
    if row is not None:
        return row[0]
    if not create:
        return None
    cursor = conn.execute(
        "INSERT INTO collections (database, name) VALUES (?, ?)", (database, name)
    )
    logger.debug("created collection %s.%s", database, name)
    return cursor.lastrowid


def load_indexes(conn: sqlite3.Connection, coll_id: int | None) -> list[Index]:
    """Return the secondary indexes of a collection, read fresh so other writers' DDL counts."""
    if coll_id is None:
        return []
    rows = conn.execute(
        "SELECT index_id, name, fields, is_unique, multikey FROM indexes WHERE coll_id = ?",
        (coll_id,),
    )
    return [
        Index(index_id, name, tuple((p, d) for p, d in json.loads(fields)), bool(uniq), bool(mk))
        for index_id, name, fields, uniq, mk in rows
    ]


def key_fields(indexes: list[Index]) -> set[str]:
    """Return the top-level fields that `_id` and the keys of `indexes` are read from."""
    return {"_id"} | {path.split(".", 1)[0] for index in indexes for path, _ in index.fields}


def duplicate_key_error(namespace: str, index_name: str, fields: Any, document: Mapping):
    """Return the DuplicateKeyError MongoDB reports for `document` on index `index_name`."""
    key_value = {path: get_path(document, path) for path, _ in fields}
    shown = {path: (None if v is MISSING else v) for path, v in key_value.items()}
    message = (
        f"E11000 duplicate key error collection: {namespace} index: {index_name} dup key: {shown!r}"
    )
    details = {"index": 0, "code": 11000, "errmsg": message, "keyPattern": dict(fields)}
    return DuplicateKeyError(message, 11000, details)


def _check_unique(
    conn: sqlite3.Connection,
    index: Index,
    key: bytes,
    doc_id: int | None,
    namespace: str,
    document: Mapping,
) -> None:
    row = conn.execute(
        "SELECT doc_id FROM index_entries WHERE index_id = ? AND key = ? AND doc_id != ? LIMIT 1",
        (index.index_id, key, -1 if doc_id is None else doc_id),
    ).fetchone()
    if row is not None:
        raise duplicate_key_error(namespace, index.name, index.fields, document)


def _mark_multikey(conn: sqlite3.Connection, index: Index) -> None:
    if not index.multikey:
        conn.execute("UPDATE indexes SET multikey = 1 WHERE index_id = ?", (index.index_id,))
        logger.debug("index %s holds arrays; queries on it now scan", index.name)


def insert_document(
    conn: sqlite3.Connection,
    coll_id: int,
    indexes: list[Index],
    document: Mapping,
    body: bytes,
    namespace: str,
) -> None:
    """Store a new document and its index entries, or raise DuplicateKeyError writing nothing."""
    id_key = encode_key(document["_id"])
    exists = conn.execute(
        "SELECT 1 FROM documents WHERE coll_id = ? AND id_key = ?", (coll_id, id_key)
    ).fetchone()
    if exists:
        raise duplicate_key_error(namespace, "_id_", (("_id", 1),), document)
    keys = [index.key(document) for index in indexes]
    for index, (key, _) in zip(indexes, keys):
        if index.unique:
            _check_unique(conn, index, key, None, namespace, document)

    cursor = conn.execute(
        "INSERT INTO documents (coll_id, id_key, body) VALUES (?, ?, ?)", (coll_id, id_key, body)
    )
    for index, (key, crosses_array) in zip(indexes, keys):
        conn.execute(
            "INSERT INTO index_entries (index_id, key, doc_id) VALUES (?, ?, ?)",
            (index.index_id, key, cursor.lastrowid),
        )
        if crosses_array:
            _mark_multikey(conn, index)


def replace_document(
    conn: sqlite3.Connection,
    indexes: list[Index],
    doc_id: int,
    old: Mapping,
    new: Mapping,
    body: bytes,
    namespace: str,
    touched: Collection[str] | None = None,
) -> None:
    """Overwrite a stored document, moving the index entries whose keys changed.

    `touched` names the paths an update wrote; indexes on none of them keep their entries.
    None means any path may have changed.
    """
    changes = []
    for index in indexes:
        if touched is not None and not any(
            _overlaps(path, written) for path, _ in index.fields for written in touched
        ):
            continue
        old_key, _ = index.key(old)
        new_key, crosses_array = index.key(new)
        if old_key != new_key or crosses_array:
            if index.unique and old_key != new_key:
                _check_unique(conn, index, new_key, doc_id, namespace, new)
            changes.append((index, old_key, new_key, crosses_array))

    conn.execute("UPDATE documents SET body = ? WHERE doc_id = ?", (body, doc_id))
    for index, old_key, new_key, crosses_array in changes:
        conn.execute(
            "UPDATE index_entries SET key = ? WHERE index_id = ? AND key = ? AND doc_id = ?",
            (new_key, index.index_id, old_key, doc_id),
        )
        if crosses_array:
            _mark_multikey(conn, index)


def _overlaps(path: str, other: str) -> bool:
    """Return True if one dotted path is the other or lies inside it."""
    if path == other:
        return True
    shorter, longer = sorted((path, other), key=len)
    return longer.startswith(shorter + ".")


def delete_document(conn: sqlite3.Connection, indexes: list[Index], doc_id: int, old: Mapping):
    """Remove a stored document and its index entries."""
    conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
    for index in indexes:
        key, _ = index.key(old)
        conn.execute(
            "DELETE FROM index_entries WHERE index_id = ? AND key = ? AND doc_id = ?",
            (index.index_id, key, doc_id),
        )


def build_index(conn: sqlite3.Connection, coll_id: int, index: Index, namespace: str) -> None:
    """Fill a new index from the documents already stored, checking uniqueness."""
    rows = conn.execute("SELECT doc_id, body FROM documents WHERE coll_id = ?", (coll_id,))
    multikey = False
    for doc_id, body in rows.fetchall():
        document = decode_document(body)
        key, crosses_array = index.key(document)
        if index.unique:
            _check_unique(conn, index, key, doc_id, namespace, document)
        conn.execute(
            "INSERT INTO index_entries (index_id, key, doc_id) VALUES (?, ?, ?)",
            (index.index_id, key, doc_id),
        )
        multikey = multikey or crosses_array
    if multikey:
        _mark_multikey(conn, index)


# ---------------------------------------------------------------------------------------------
# Planning


def _conditions(query: Mapping) -> dict[str, list[Any]]:
    """Return the top-level field conditions of `query`, merging `$and` clauses."""
    found: dict[str, list[Any]] = {}
    for key, condition in query.items():
        if key == "$and" and isinstance(condition, list):
            for clause in condition:
                if isinstance(clause, Mapping):
                    for path, more in _conditions(clause).items():
                        found.setdefault(path, []).extend(more)
        elif not key.startswith("$"):
            found.setdefault(key, []).append(condition)
    return found


def _is_operator_document(condition: Any) -> bool:
    return isinstance(condition, Mapping) and any(k.startswith("$") for k in condition)


def _points(conditions: list[Any]) -> list[Any] | None:
    """Return the values one field must equal (an $in list or one value), if any."""
    for condition in conditions:
        if not _is_operator_document(condition):
            if is_point_type(condition):
                return [condition]
            continue
        if "$eq" in condition and is_point_type(condition["$eq"]):
            return [condition["$eq"]]
        values = condition.get("$in")
        if isinstance(values, list) and all(is_point_type(v) for v in values):
            return values
    return None


def _range(conditions: list[Any]) -> tuple[bytes, bytes] | None:
    """Return [low, high) over one field's encoded values that its range conditions allow."""
    for condition in conditions:
        if not _is_operator_document(condition):
            continue
        low = next((condition[op] for op in ("$gt", "$gte") if op in condition), MISSING)
        high = next((condition[op] for op in ("$lt", "$lte") if op in condition), MISSING)
        bound = low if low is not MISSING else high
        if bound is MISSING or not is_range_type(bound):
            continue
        # MongoDB compares only within one type, so the type's own span bounds the range.
        rank = type_rank(bound)
        start = encode_key(low) if low is not MISSING else bytes([rank])
        if high is not MISSING and is_range_type(high) and type_rank(high) == rank:
            stop = encode_key(high) + _AFTER_ALL_TAGS
        else:
            stop = bytes([rank + 1])
        return start, stop
    return None


def _index_plan(index: Index, conditions: dict[str, list[Any]]) -> tuple[tuple, Plan] | None:
    prefixes = [b""]
    used = 0
    for path, _direction in index.fields:
        points = _points(conditions.get(path, []))
        if points is None or len(prefixes) * max(len(points), 1) > MAX_SEEKS:
            break
        prefixes = [p + encode_key(v) for p, v in itertools.product(prefixes, points)]
        used += 1
    bounds = None
    if used < len(index.fields):
        bounds = _range(conditions.get(index.fields[used][0], []))
    if used == 0 and bounds is None:
        return None
    if bounds is None:
        ranges = tuple((p, p + _AFTER_ALL_TAGS) for p in sorted(set(prefixes)))
    else:
        ranges = tuple((p + bounds[0], p + bounds[1]) for p in sorted(set(prefixes)))
    score = (used, bounds is not None, index.unique, -len(index.fields))
    return score, Plan("index", index=index, ranges=ranges)


def plan_query(query: Mapping, indexes: list[Index]) -> Plan:
    """Return the cheapest way to find a superset of the documents matching `query`."""
    conditions = _conditions(query)
    ids = _points(conditions.get("_id", []))
    if ids is not None:
        return Plan("ids", ids=tuple(encode_key(v) for v in ids))
    candidates = [
        planned
        for index in indexes
        if not index.multikey and (planned := _index_plan(index, conditions)) is not None
    ]
    if not candidates:
        return Plan("scan")
    return max(candidates, key=lambda scored: scored[0])[1]


def candidate_rows(conn: sqlite3.Connection, coll_id: int, plan: Plan):
    """Yield (doc_id, body) of the documents `plan` selects, in storage order per seek."""
    if plan.kind == "scan":
        yield from conn.execute(
            "SELECT doc_id, body FROM documents WHERE coll_id = ? ORDER BY doc_id", (coll_id,)
        )
    elif plan.kind == "ids":
        for id_key in dict.fromkeys(plan.ids):
            row = conn.execute(
                "SELECT doc_id, body FROM documents WHERE coll_id = ? AND id_key = ?",
                (coll_id, id_key),
            ).fetchone()
            if row is not None:
                yield row
    else:
        assert plan.index is not None
        seen: set[int] = set()
        for low, high in plan.ranges:
            rows = conn.execute(
                "SELECT d.doc_id, d.body FROM index_entries AS e "
                "JOIN documents AS d ON d.doc_id = e.doc_id "
                "WHERE e.index_id = ? AND e.key >= ? AND e.key < ?",
                (plan.index.index_id, low, high),
            ).fetchall()
            for doc_id, body in rows:
                if doc_id not in seen:
                    seen.add(doc_id)
                    yield doc_id, body
