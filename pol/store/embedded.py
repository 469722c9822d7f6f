"""An embedded, durable, multi-process document engine speaking a subset of pymongo's API.

POL uses it when no MongoDB URI is configured: `EmbeddedClient(data_dir)` stands in for
`pymongo.MongoClient(tz_aware=True)`, so the store has a single code path.

Storage: one SQLite file (`pol.sqlite3`) in the data directory, in WAL mode. Documents are
stored as BSON, so types, the 16 MiB limit and datetime precision are those of a MongoDB
server; reads return UTC-aware datetimes, `bytes`, `ObjectId`, and NaN/inf floats intact.

Writes: every write operation, including the read-modify-write of updates, upserts,
`find_one_and_update` and unique-key checks, runs in one `BEGIN IMMEDIATE` transaction,
so SQLite serialises writers across threads and processes: no update is lost and no
document is claimed twice. Readers see a consistent snapshot and never block writers.
`synchronous=NORMAL` is the default: with WAL it never corrupts the file, and a crashing
process loses nothing; only a power cut may undo the last commits. Pass
`synchronous="FULL"` to fsync every commit instead. Each thread gets its own SQLite
connection, so one client may be shared by a thread pool.

Indexes: `create_index` keeps an order-preserving encoding of each document's key in an
SQLite table, updated in the same transaction as the document. A query uses `_id` lookups,
or equality/`$in` on a prefix of an index's fields plus one range on the next field; every
candidate is then re-checked with mongomock's matcher, so results are exact. An index that
has ever held an array on its paths (multikey) is no longer used for queries, which then
scan the collection; its unique constraint then applies to whole arrays, not elements.

Supported: CRUD, the update operators $set $unset $inc $mul $min $max $push($each)
$addToSet($each) $pull $pop $rename $setOnInsert $currentDate on dotted paths; projections
by inclusion or exclusion; aggregation stages $match $sort $group $limit $skip $count
$unset $project $addFields/$set $replaceRoot/$replaceWith $unwind. `update_many` and
`delete_many` are atomic. `insert_many(ordered=True)` keeps the documents before the first
failing one and raises BulkWriteError, as pymongo does against a server.

Not supported (an OperationFailure names the feature where one is asked for): transactions
and sessions spanning operations, positional and pipeline updates, text/geo/hashed/TTL/
sparse/partial indexes, collation, change streams, $lookup and other stages not listed.
Sorting is done in memory in MongoDB's cross-type order.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import bson
from bson.objectid import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    InvalidOperation,
    OperationFailure,
    WriteError,
)
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from ._embedded import storage
from ._embedded.documents import (
    apply_update,
    iter_path_values,
    matches,
    normalise_projection,
    project,
    updated_paths,
    upsert_seed,
    validate_update,
)
from ._embedded.matching import compile_query, query_fields
from ._embedded.ordering import hashable, sort_key
from ._embedded.pipeline import run_pipeline, sort_documents

__all__ = ["Collection", "Cursor", "Database", "EmbeddedClient"]

logger = logging.getLogger(__name__)

DATABASE_FILE = "pol.sqlite3"
BUSY_TIMEOUT_MS = 30_000
_SYNCHRONOUS_MODES = ("NORMAL", "FULL")
_INDEX_OPTIONS = {"unique", "name", "background"}


def _normalise(document: Any, what: str) -> dict:
    """Return `document` as BSON would carry it: UTC-aware ms datetimes, lists for tuples."""
    if not isinstance(document, Mapping):
        raise TypeError(f"{what} must be a mapping, got {type(document).__name__}: {document!r}")
    return storage.decode_document(bson.encode(document))


def _normalise_query(query: Any) -> dict:
    """Return `query` normalised like `_normalise`, refusing unknown query operators."""
    if query is None:
        return {}
    normalised = _normalise(query, "filter")
    matches(normalised, {})  # reject unknown operators even when nothing is stored
    return normalised


def _sort_spec(key_or_list: Any, direction: Any = None) -> list[tuple[str, int]]:
    """Return a sort specification as (path, 1 or -1) pairs."""
    if key_or_list is None:
        return []
    if isinstance(key_or_list, str):
        pairs = [(key_or_list, 1 if direction is None else direction)]
    elif isinstance(key_or_list, Mapping):
        pairs = list(key_or_list.items())
    else:
        pairs = [(item, 1) if isinstance(item, str) else tuple(item) for item in key_or_list]
    for path, order in pairs:
        if order not in (1, -1):
            raise OperationFailure(f"sort direction for {path!r} must be 1 or -1, got {order!r}")
    return [(path, order) for path, order in pairs]


def _index_fields(keys: Any) -> list[tuple[str, int]]:
    """Return index `keys` as (path, 1 or -1) pairs."""
    if isinstance(keys, str):
        pairs = [(keys, 1)]
    elif isinstance(keys, Mapping):
        pairs = list(keys.items())
    else:
        pairs = [(item, 1) if isinstance(item, str) else tuple(item) for item in keys]
    if not pairs:
        raise ValueError("an index needs at least one field")
    for path, direction in pairs:
        if direction not in (1, -1):
            raise OperationFailure(
                f"index type {direction!r} on {path!r} is not supported; use 1 or -1", 67
            )
    return pairs


def _included_fields(projection: Any) -> set[str] | None:
    """Return the top-level fields an inclusion projection keeps, or None if it may keep any."""
    if not isinstance(projection, Mapping):
        return None
    fields = {"_id"}  # kept unless the projection says otherwise
    for path, flag in projection.items():
        if path == "_id":
            if flag not in (0, 1):  # False and True are 0 and 1
                return None
            if not flag:
                fields.discard("_id")
            continue
        if flag is not True and not (type(flag) is int and flag == 1):
            return None
        if not isinstance(path, str) or path.startswith("$") or not all(path.split(".")):
            return None
        fields.add(path.split(".", 1)[0])
    return fields if any(path != "_id" for path in projection) else None


def _fields_to_decode(fields: set[str], query: Mapping, sort: list) -> set[str] | None:
    """Return `fields` plus those `query` and `sort` read, or None if the query may read any."""
    read = query_fields(query)
    if read is None:
        return None
    return fields | read | {path.split(".", 1)[0] for path, _ in sort}


class EmbeddedClient:
    """A pymongo-like client over a data directory; safe across threads and processes."""

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in _SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {_SYNCHRONOUS_MODES}, got {synchronous!r}"
            )
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._file = self.path / DATABASE_FILE
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.decoded_documents = 0  # documents decoded from storage; the planner tests read it
        with self._transaction(write=True) as conn:
            for statement in storage.SCHEMA.split(";"):
                conn.execute(statement)
        logger.debug("embedded store open at %s", self._file)

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise InvalidOperation("cannot use an EmbeddedClient after close()")
        conn = getattr(self._local, "conn", None)
        # A forked child must not share its parent's SQLite connection.
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(
                self._file, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        # IMMEDIATE takes the write lock up front, so read-modify-write cannot interleave.
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _decode(self, body: bytes, fields: set[str] | None = None) -> dict:
        self.decoded_documents += 1
        if fields is None:
            return storage.decode_document(body)
        return storage.decode_fields(body, fields)

    def __getitem__(self, name: str) -> Database:
        return Database(self, name)

    def __getattr__(self, name: str) -> Database:
        if name.startswith("_"):
            raise AttributeError(name)
        return Database(self, name)

    def get_database(self, name: str) -> Database:
        """Return the database called `name` (created on first write)."""
        return Database(self, name)

    def list_database_names(self) -> list[str]:
        """Return the names of databases holding at least one collection."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT DISTINCT database FROM collections ORDER BY database")
            return [row[0] for row in rows]

    def drop_database(self, name: str) -> None:
        """Drop every collection of database `name`."""
        database = Database(self, name)
        for collection in database.list_collection_names():
            database.drop_collection(collection)

    def close(self) -> None:
        """Close every SQLite connection this client opened."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._closed = True
        for conn in connections:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbeddedClient({str(self.path)!r})"


class Database:
    """A namespace of collections."""

    def __init__(self, client: EmbeddedClient, name: str) -> None:
        if not name or any(c in name for c in '/\\. "$\x00'):
            raise ValueError(f"invalid database name {name!r}")
        self.client = client
        self._name = name

    @property
    def name(self) -> str:
        """Return the database name."""
        return self._name

    def __getitem__(self, name: str) -> Collection:
        return Collection(self, name)

    def __getattr__(self, name: str) -> Collection:
        if name.startswith("_"):
            raise AttributeError(name)
        return Collection(self, name)

    def get_collection(self, name: str) -> Collection:
        """Return the collection called `name` (created on first write)."""
        return Collection(self, name)

    def list_collection_names(self) -> list[str]:
        """Return the names of this database's collections."""
        with self.client._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT name FROM collections WHERE database = ? ORDER BY name", (self._name,)
            )
            return [row[0] for row in rows]

    def drop_collection(self, name: str) -> None:
        """Drop collection `name` with its documents and indexes."""
        Collection(self, name).drop()

    def command(self, command: str | Mapping, **kwargs: Any) -> dict:
        """Run a database command; only `ping` is supported."""
        name = command if isinstance(command, str) else next(iter(command), "")
        if name == "ping":
            return {"ok": 1.0}
        raise OperationFailure(f"command {name!r} is not supported by the embedded engine", 59)

    def __repr__(self) -> str:
        return f"Database({self.client!r}, {self._name!r})"


class _Results:
    """What both cursors offer: a list of the rest, and closing as a context manager."""

    def to_list(self, length: int | None = None) -> list[dict]:
        """Return the remaining results (at most `length`) as a list."""
        if length is None:
            return list(self)
        return [document for document, _ in zip(self, range(length))]

    def close(self) -> None:
        """Discard the remaining results."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Cursor(_Results):
    """The documents of a `find`, run on first iteration."""

    def __init__(
        self,
        collection: Collection,
        query: dict,
        projection: Any,
        sort: Any,
        skip: int,
        limit: int,
    ) -> None:
        self._collection = collection
        self._query = query
        self._projection = normalise_projection(projection)
        self._sort = _sort_spec(sort)
        self._skip = skip
        self._limit = limit
        self._results: Iterator[dict] | None = None

    def _check_unstarted(self) -> None:
        if self._results is not None:
            raise InvalidOperation("cannot set cursor options after iteration has started")

    def sort(self, key_or_list: Any, direction: Any = None) -> Cursor:
        """Order results by a field or a list of (field, direction) pairs; return the cursor."""
        self._check_unstarted()
        self._sort = _sort_spec(key_or_list, direction)
        return self

    def skip(self, skip: int) -> Cursor:
        """Skip the first `skip` results; return the cursor."""
        self._check_unstarted()
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, got {skip!r}")
        self._skip = skip
        return self

    def limit(self, limit: int) -> Cursor:
        """Return at most `limit` results (0 means no limit); return the cursor."""
        self._check_unstarted()
        if not isinstance(limit, int):
            raise TypeError(f"limit must be an int, got {limit!r}")
        self._limit = abs(limit)
        return self

    def batch_size(self, batch_size: int) -> Cursor:
        """Accept a batch size for pymongo compatibility; results are fetched at once."""
        return self

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> dict:
        if self._results is None:
            fields = _included_fields(self._projection)
            documents = self._collection._find(
                self._query, self._sort, self._skip, self._limit, fields
            )
            self._results = iter([project(d, self._projection) for d in documents])
        return next(self._results)

    def close(self) -> None:
        """Discard the remaining results."""
        self._results = iter(())


class CommandCursor(_Results):
    """An iterator over the documents an aggregation produced."""

    def __init__(self, documents: list[dict]) -> None:
        self._documents = iter(documents)

    def __iter__(self) -> CommandCursor:
        return self

    def __next__(self) -> dict:
        return next(self._documents)

    def close(self) -> None:
        """Discard the remaining results."""
        self._documents = iter(())


class Collection:
    """A collection of documents with pymongo's CRUD, index and aggregation methods."""

    def __init__(self, database: Database, name: str) -> None:
        if not name or "$" in name or "\x00" in name:
            raise ValueError(f"invalid collection name {name!r}")
        self.database = database
        self._name = name
        self._client = database.client

    @property
    def name(self) -> str:
        """Return the collection name."""
        return self._name

    @property
    def full_name(self) -> str:
        """Return `database.collection`."""
        return f"{self.database.name}.{self._name}"

    def __repr__(self) -> str:
        return f"Collection({self.database!r}, {self._name!r})"

    def _coll_id(self, conn: sqlite3.Connection, create: bool) -> int | None:
        return storage.collection_id(conn, self.database.name, self._name, create)

    # -- reads --------------------------------------------------------------------------------

    def _matching(
        self,
        conn: sqlite3.Connection,
        query: dict,
        sort: list,
        stop_after: int = 0,
        fields: set[str] | None = None,
    ) -> list[tuple[int, dict]]:
        """Return (doc_id, document) of matches, sorted; stop early only when unsorted.

        With `fields`, documents hold only those top-level fields (which must include
        every field the query and sort read); the rest is never decoded.
        """
        coll_id = self._coll_id(conn, create=False)
        if coll_id is None:
            return []
        plan = storage.plan_query(query, storage.load_indexes(conn, coll_id))
        logger.debug("query %r on %s: %s plan", query, self.full_name, plan.kind)
        matcher = compile_query(query)
        found = []
        for doc_id, body in storage.candidate_rows(conn, coll_id, plan):
            document = self._client._decode(body, fields)
            if matcher(document):
                found.append((doc_id, document))
                if stop_after and not sort and len(found) >= stop_after:
                    break
        if sort:
            documents = sort_documents([d for _, d in found], sort)
            position = {id(d): doc_id for doc_id, d in found}
            found = [(position[id(d)], d) for d in documents]
        return found

    def _find(
        self, query: dict, sort: list, skip: int, limit: int, fields: set[str] | None = None
    ) -> list[dict]:
        """Return the matches of `query` in `sort` order; with `fields`, only those fields."""
        if fields is not None:
            fields = _fields_to_decode(fields, query, sort)
        with self._client._transaction(write=False) as conn:
            stop_after = skip + limit if limit else 0
            found = self._matching(conn, query, sort, stop_after, fields)
        found = found[skip:]
        return [d for _, d in (found[:limit] if limit else found)]

    def find(
        self,
        filter: Any = None,
        projection: Any = None,
        sort: Any = None,
        skip: int = 0,
        limit: int = 0,
        **kwargs: Any,
    ) -> Cursor:
        """Return a cursor over the documents matching `filter`."""
        if kwargs:
            raise OperationFailure(f"find options {sorted(kwargs)} are not supported")
        return Cursor(self, _normalise_query(filter), projection, sort, skip, limit)

    def find_one(
        self, filter: Any = None, projection: Any = None, sort: Any = None, **kwargs: Any
    ) -> dict | None:
        """Return the first document matching `filter` (or with `_id` equal to it), or None."""
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}
        return next(self.find(filter, projection, sort, limit=1, **kwargs), None)

    def count_documents(self, filter: Mapping, skip: int = 0, limit: int = 0) -> int:
        """Return how many documents match `filter`, after `skip` and capped at `limit`."""
        query = _normalise_query(filter)
        if not query:
            total = self.estimated_document_count()
        else:
            with self._client._transaction(write=False) as conn:
                total = len(self._matching(conn, query, [], skip + limit if limit else 0))
        total = max(total - skip, 0)
        return min(total, limit) if limit else total

    def estimated_document_count(self) -> int:
        """Return the number of documents in the collection."""
        with self._client._transaction(write=False) as conn:
            coll_id = self._coll_id(conn, create=False)
            if coll_id is None:
                return 0
            row = conn.execute("SELECT COUNT(*) FROM documents WHERE coll_id = ?", (coll_id,))
            return row.fetchone()[0]

    def distinct(self, key: str, filter: Mapping | None = None) -> list:
        """Return the distinct values of `key` (array elements counted singly), in sort order."""
        values: dict = {}
        for document in self._find(_normalise_query(filter), [], 0, 0):
            for value in iter_path_values(document, key):
                values.setdefault(hashable(value), value)
        return sorted(values.values(), key=sort_key)

    def aggregate(self, pipeline: list[Mapping], **kwargs: Any) -> CommandCursor:
        """Return a cursor over the documents `pipeline` produces from this collection."""
        if kwargs:
            raise OperationFailure(f"aggregate options {sorted(kwargs)} are not supported")
        stages = list(pipeline)
        query: dict = {}
        # A leading $match is answered by the planner, so it can use an index.
        if stages and isinstance(stages[0], Mapping) and list(stages[0]) == ["$match"]:
            query = _normalise_query(stages.pop(0)["$match"])
        # An inclusion $project next says which fields the rest of the pipeline can see.
        following = stages[0] if stages and isinstance(stages[0], Mapping) else {}
        fields = _included_fields(following.get("$project"))
        return CommandCursor(run_pipeline(self._find(query, [], 0, 0, fields), stages))

    # -- writes -------------------------------------------------------------------------------

    def _prepare(self, document: Any) -> bytes:
        if not isinstance(document, Mapping):
            raise TypeError(f"document must be a mapping, got {type(document).__name__}")
        if "_id" not in document:
            document["_id"] = ObjectId()  # type: ignore[index]  # as pymongo, on the caller's dict
        if isinstance(document["_id"], (list, bson.regex.Regex)):
            raise WriteError(f"_id cannot be an array or regex, got {document['_id']!r}", 2)
        return storage.encode_document(document)

    def insert_one(self, document: Any) -> InsertOneResult:
        """Insert `document`, giving it an ObjectId `_id` if it has none."""
        body = self._prepare(document)
        with self._client._transaction(write=True) as conn:
            coll_id = self._coll_id(conn, create=True)
            indexes = storage.load_indexes(conn, coll_id)
            # Storing needs only the fields that make up `_id` and the index keys.
            stored = storage.decode_fields(body, storage.key_fields(indexes))
            storage.insert_document(conn, coll_id, indexes, stored, body, self.full_name)
        return InsertOneResult(stored["_id"], True)

    def insert_many(self, documents: Iterable[Any], ordered: bool = True) -> InsertManyResult:
        """Insert `documents` in one transaction; on duplicates raise BulkWriteError.

        With `ordered`, documents before the first failing one stay written and the rest
        are skipped; without it, every document that can be written is.
        """
        bodies = [self._prepare(document) for document in documents]
        if not bodies:
            raise TypeError("documents must be a non-empty list")
        errors = []
        inserted = 0
        with self._client._transaction(write=True) as conn:
            coll_id = self._coll_id(conn, create=True)
            indexes = storage.load_indexes(conn, coll_id)
            fields = storage.key_fields(indexes)
            stored_documents = [storage.decode_fields(body, fields) for body in bodies]
            ids = [stored["_id"] for stored in stored_documents]
            for position, (stored, body) in enumerate(zip(stored_documents, bodies)):
                try:
                    storage.insert_document(conn, coll_id, indexes, stored, body, self.full_name)
                except DuplicateKeyError as error:
                    op = storage.decode_document(body)
                    errors.append(
                        {"index": position, "code": 11000, "errmsg": str(error), "op": op}
                    )
                    if ordered:
                        break
                    continue
                inserted += 1
                if errors and ordered:
                    break
        if errors:
            raise BulkWriteError(
                {
                    "writeErrors": errors,
                    "writeConcernErrors": [],
                    "nInserted": inserted,
                    "nUpserted": 0,
                    "nMatched": 0,
                    "nModified": 0,
                    "nRemoved": 0,
                    "upserted": [],
                }
            )
        return InsertManyResult(ids, True)

    def _update(
        self,
        filter: Any,
        update: Mapping | None,
        replacement: Mapping | None,
        upsert: bool,
        many: bool,
        sort: list | None = None,
    ) -> tuple[dict, dict | None, dict | None]:
        """Apply an update or replacement; return the raw result, first old and new document."""
        query = _normalise_query(filter)
        change = _normalise(update if update is not None else replacement, "update")
        touched = None
        if update is not None:
            validate_update(change)
            touched = updated_paths(change)
        matched = modified = 0
        before = after = None
        with self._client._transaction(write=True) as conn:
            coll_id = self._coll_id(conn, create=upsert)
            indexes = storage.load_indexes(conn, coll_id)
            found = self._matching(conn, query, sort or [], 0 if many else 1)
            found = found if many else found[:1]
            for doc_id, old in found:
                if replacement is not None:
                    new = self._replacement(old, change)
                else:
                    new = apply_update(old, change, inserting=False)
                body = storage.encode_document(new)
                matched += 1
                if body != storage.encode_document(old):
                    new = storage.decode_document(body)
                    storage.replace_document(
                        conn, indexes, doc_id, old, new, body, self.full_name, touched
                    )
                    modified += 1
                before, after = (before, after) if matched > 1 else (old, new)
            raw: dict = {"n": matched, "nModified": modified, "ok": 1.0}
            if not found and upsert:
                seed = upsert_seed(query)
                if replacement is not None:
                    new = self._replacement(seed, change)
                else:
                    new = apply_update(seed, change, inserting=True)
                new.setdefault("_id", ObjectId())
                body = storage.encode_document({"_id": new.pop("_id"), **new})
                after = storage.decode_document(body)
                storage.insert_document(conn, coll_id, indexes, after, body, self.full_name)
                raw.update(n=1, upserted=after["_id"])
        return raw, before, after

    @staticmethod
    def _replacement(old: Mapping, replacement: dict) -> dict:
        if any(key.startswith("$") for key in replacement):
            raise ValueError("replacement cannot contain $ operators")
        if "_id" in replacement and "_id" in old and replacement["_id"] != old["_id"]:
            raise WriteError(
                "performing an update on the path '_id' would modify the immutable field '_id'",
                66,
            )
        new = {key: value for key, value in replacement.items() if key != "_id"}
        return {"_id": old["_id"], **new} if "_id" in old else dict(replacement)

    def update_one(
        self, filter: Mapping, update: Mapping, upsert: bool = False, sort: Any = None
    ) -> UpdateResult:
        """Update the first document matching `filter` (or insert one with `upsert`)."""
        raw, _, _ = self._update(filter, update, None, upsert, False, _sort_spec(sort))
        return UpdateResult(raw, True)

    def update_many(self, filter: Mapping, update: Mapping, upsert: bool = False) -> UpdateResult:
        """Update every document matching `filter`, atomically (or insert one with `upsert`)."""
        raw, _, _ = self._update(filter, update, None, upsert, True)
        return UpdateResult(raw, True)

    def replace_one(
        self, filter: Mapping, replacement: Mapping, upsert: bool = False
    ) -> UpdateResult:
        """Replace the first document matching `filter`, keeping its `_id`."""
        if not isinstance(replacement, Mapping):
            raise TypeError(f"replacement must be a mapping, got {replacement!r}")
        raw, _, _ = self._update(filter, None, replacement, upsert, False)
        return UpdateResult(raw, True)

    def find_one_and_update(
        self,
        filter: Mapping,
        update: Mapping,
        projection: Any = None,
        sort: Any = None,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
    ) -> dict | None:
        """Atomically update the first match (in `sort` order); return it before or after."""
        spec = normalise_projection(projection)
        _, before, after = self._update(filter, update, None, upsert, False, _sort_spec(sort))
        chosen = after if return_document == ReturnDocument.AFTER else before
        return None if chosen is None else project(chosen, spec)

    def find_one_and_replace(
        self,
        filter: Mapping,
        replacement: Mapping,
        projection: Any = None,
        sort: Any = None,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
    ) -> dict | None:
        """Atomically replace the first match (in `sort` order); return it before or after."""
        spec = normalise_projection(projection)
        _, before, after = self._update(filter, None, replacement, upsert, False, _sort_spec(sort))
        chosen = after if return_document == ReturnDocument.AFTER else before
        return None if chosen is None else project(chosen, spec)

    def _delete(self, filter: Any, many: bool, sort: list | None = None) -> list[dict]:
        query = _normalise_query(filter)
        with self._client._transaction(write=True) as conn:
            coll_id = self._coll_id(conn, create=False)
            if coll_id is None:
                return []
            indexes = storage.load_indexes(conn, coll_id)
            found = self._matching(conn, query, sort or [], 0 if many else 1)
            found = found if many else found[:1]
            for doc_id, old in found:
                storage.delete_document(conn, indexes, doc_id, old)
        return [document for _, document in found]

    def delete_one(self, filter: Mapping) -> DeleteResult:
        """Delete the first document matching `filter`."""
        return DeleteResult({"n": len(self._delete(filter, many=False)), "ok": 1.0}, True)

    def delete_many(self, filter: Mapping) -> DeleteResult:
        """Delete every document matching `filter`, atomically."""
        return DeleteResult({"n": len(self._delete(filter, many=True)), "ok": 1.0}, True)

    def find_one_and_delete(
        self, filter: Mapping, projection: Any = None, sort: Any = None
    ) -> dict | None:
        """Atomically delete the first match (in `sort` order) and return it."""
        spec = normalise_projection(projection)
        deleted = self._delete(filter, many=False, sort=_sort_spec(sort))
        return project(deleted[0], spec) if deleted else None

    # -- indexes ------------------------------------------------------------------------------

    def create_index(self, keys: Any, **kwargs: Any) -> str:
        """Create an index on `keys` unless it exists; return its name (e.g. "a_1_b_-1")."""
        unknown = set(kwargs) - _INDEX_OPTIONS
        if unknown:
            raise OperationFailure(f"index options {sorted(unknown)} are not supported", 67)
        fields = _index_fields(keys)
        name = kwargs.get("name") or "_".join(f"{path}_{direction}" for path, direction in fields)
        unique = bool(kwargs.get("unique", False))
        if fields == [("_id", 1)] or name == "_id_":
            return "_id_"
        with self._client._transaction(write=True) as conn:
            coll_id = self._coll_id(conn, create=True)
            for index in storage.load_indexes(conn, coll_id):
                same_keys = list(index.fields) == fields
                if index.name == name and same_keys and index.unique == unique:
                    return name
                if index.name == name or same_keys:
                    raise OperationFailure(
                        f"index {name!r} {fields} conflicts with existing index {index.name!r} "
                        f"{list(index.fields)} unique={index.unique}",
                        85,
                    )
            cursor = conn.execute(
                "INSERT INTO indexes (coll_id, name, fields, is_unique) VALUES (?, ?, ?, ?)",
                (coll_id, name, json.dumps(fields), int(unique)),
            )
            index = storage.Index(cursor.lastrowid, name, tuple(fields), unique, False)
            storage.build_index(conn, coll_id, index, self.full_name)
        logger.debug("created index %s on %s", name, self.full_name)
        return name

    def create_indexes(self, indexes: list[Any]) -> list[str]:
        """Create each `pymongo.IndexModel` in `indexes`; return their names."""
        names = []
        for model in indexes:
            document = dict(model.document)
            keys = list(document.pop("key").items())
            names.append(self.create_index(keys, **document))
        return names

    def index_information(self) -> dict[str, dict]:
        """Return each index's name mapped to its keys (and `unique` where set)."""
        information: dict[str, dict] = {"_id_": {"v": 2, "key": [("_id", 1)]}}
        with self._client._transaction(write=False) as conn:
            for index in storage.load_indexes(conn, self._coll_id(conn, create=False)):
                entry: dict = {"v": 2, "key": list(index.fields)}
                if index.unique:
                    entry["unique"] = True
                information[index.name] = entry
        return information

    def drop_index(self, name: str) -> None:
        """Drop the index called `name`."""
        with self._client._transaction(write=True) as conn:
            indexes = storage.load_indexes(conn, self._coll_id(conn, create=False))
            index = next((index for index in indexes if index.name == name), None)
            if index is None:
                raise OperationFailure(f"index not found with name [{name}]", 27)
            conn.execute("DELETE FROM index_entries WHERE index_id = ?", (index.index_id,))
            conn.execute("DELETE FROM indexes WHERE index_id = ?", (index.index_id,))

    def drop(self) -> None:
        """Drop the collection with its documents and indexes."""
        with self._client._transaction(write=True) as conn:
            coll_id = self._coll_id(conn, create=False)
            if coll_id is None:
                return
            for index in storage.load_indexes(conn, coll_id):
                conn.execute("DELETE FROM index_entries WHERE index_id = ?", (index.index_id,))
            conn.execute("DELETE FROM indexes WHERE coll_id = ?", (coll_id,))
            conn.execute("DELETE FROM documents WHERE coll_id = ?", (coll_id,))
            conn.execute("DELETE FROM collections WHERE coll_id = ?", (coll_id,))
