"""The store: POL's MongoDB access, over a real server or the embedded engine."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .store import Store

logger = logging.getLogger(__name__)

URI_VARIABLE = "POL_MONGODB_URI"
DATA_DIR_VARIABLE = "POL_DATA_DIR"
DEFAULT_DATABASE = "pol"


def default_data_dir() -> Path:
    """Return the embedded engine's data directory: $POL_DATA_DIR, else ~/.pol/data."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or Path.home() / ".pol" / "data")


def connect(
    uri: str | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    database: str | None = None,
) -> Store:
    """Return a Store on MongoDB at `uri` ($POL_MONGODB_URI), else on the embedded engine.

    The database is the one the URI names, else `database`, else "pol".
    """
    uri = uri or os.environ.get(URI_VARIABLE) or None
    if uri:
        from pymongo import MongoClient

        client = MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=10_000, **_durable_defaults(uri)
        )
        name = database or urlparse(uri).path.lstrip("/") or DEFAULT_DATABASE
        logger.info("store: MongoDB at %s, database %s", _without_password(uri), name)
    else:
        from .embedded import EmbeddedClient

        path = Path(data_dir) if data_dir is not None else default_data_dir()
        client = EmbeddedClient(path)
        name = database or DEFAULT_DATABASE
        logger.info("store: embedded engine in %s, database %s", path, name)
    store = Store(client[name], client)
    store.ensure_indexes()
    return store


def _durable_defaults(uri: str) -> dict[str, object]:
    """Return majority, journaled writes unless the URI chooses a write concern itself.

    An acknowledged snapshot, claim or status change is then on a majority of a replica
    set's members, on disk, and survives the loss of the primary.
    """
    options = {key.lower() for key in parse_qs(urlparse(uri).query)}
    if options & {"w", "journal", "wtimeoutms"}:
        return {}
    return {"w": "majority", "journal": True}


def _without_password(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri


__all__ = ["Store", "connect", "default_data_dir"]
