"""Where and when a request read the store, for clients that ask with the header `Pol-Timing: 1`.

The answer's `extensions.timing` has the operation's start and end and every store read
the request made through its loaders, each with its start, end and whether it ran on the
event loop's thread. Times are seconds on the server process's performance counter:
comparable between the requests of one server, meaningless elsewhere. It shows that the
reads of concurrent requests run at the same time in worker threads, which they could not
if they ran on the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from strawberry.extensions import SchemaExtension

# The collection methods that read; a cursor's read lasts until it is exhausted.
READS = ("find", "find_one", "aggregate", "count_documents", "distinct")
COLLECTIONS = ("experiments", "learners", "snapshots", "tensor_chunks")


@dataclass
class StoreRead:
    """One read of a collection: when it ran, and on which thread."""

    collection: str
    start: float
    end: float
    thread: int


@dataclass
class ReadLog:
    """The store reads of one request."""

    reads: list[StoreRead] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, collection: str, start: float) -> None:
        read = StoreRead(collection, start, time.perf_counter(), threading.get_ident())
        with self.lock:
            self.reads.append(read)


class TimedStore:
    """A Store whose collections log each read in `log`; everything else is the store's."""

    def __init__(self, store: Any, log: ReadLog) -> None:
        self._store = store
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name in COLLECTIONS:
            return TimedCollection(attribute, name, self._log)
        return attribute


class TimedCollection:
    """A collection whose reads are logged; writes and the rest pass through."""

    def __init__(self, collection: Any, name: str, log: ReadLog) -> None:
        self._collection = collection
        self._name = name
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if name not in READS:
            return attribute

        def read(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = attribute(*args, **kwargs)
            if name in ("find", "aggregate"):
                return TimedCursor(result, lambda: self._log.record(self._name, start))
            self._log.record(self._name, start)
            return result

        return read


class TimedCursor:
    """A cursor that logs its read when it is exhausted."""

    def __init__(self, cursor: Any, done: Callable[[], None]) -> None:
        self._cursor = cursor
        self._done = done

    def __iter__(self) -> Iterator[Any]:
        yield from self._cursor
        self._done()

    def __next__(self) -> Any:
        return next(self._cursor)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._cursor, name)
        if not callable(attribute):
            return attribute

        def chained(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            # limit(), sort() and skip() return the cursor itself, to be iterated later.
            return TimedCursor(result, self._done) if result is self._cursor else result

        return chained


class Timing(SchemaExtension):
    """Answer `extensions.timing` when the request's context has a read log."""

    def on_operation(self) -> Iterator[None]:
        self.start = time.perf_counter()
        self.loop_thread = threading.get_ident()
        yield
        self.end = time.perf_counter()

    def get_results(self) -> dict[str, Any]:
        log = getattr(self.execution_context.context, "read_log", None)
        if log is None:
            return {}
        with log.lock:
            reads = list(log.reads)
        return {
            "timing": {
                "start": self.start,
                "end": getattr(self, "end", time.perf_counter()),
                "reads": [
                    {
                        "collection": read.collection,
                        "start": read.start,
                        "end": read.end,
                        "onEventLoop": read.thread == self.loop_thread,
                    }
                    for read in reads
                ],
            }
        }
