"""Fixtures: a fresh store per test, on the embedded engine or on MongoDB at a URI.

Set POL_TEST_MONGODB_URI to run the store and API tests against a MongoDB server (a real
one, or any server that speaks its wire protocol); each test gets its own database, which
is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

from pol.store import Store, connect
from pol.worker import StoreAddress

TEST_URI = os.environ.get("POL_TEST_MONGODB_URI")


@pytest.fixture
def store(tmp_path) -> Store:
    """Return an empty store with its indexes, closed after the test."""
    if TEST_URI:
        name = f"pol_test_{uuid.uuid4().hex[:12]}"
        store = connect(TEST_URI, database=name)
        yield store
        store.client.drop_database(name)
        store.close()
    else:
        store = connect(data_dir=tmp_path / "pol-data")
        yield store
        store.close()


@pytest.fixture
def address(tmp_path) -> StoreAddress:
    """Return the address of an empty store that worker processes can connect to."""
    if TEST_URI:
        name = f"pol_test_{uuid.uuid4().hex[:12]}"
        yield StoreAddress(uri=TEST_URI, database=name)
        store = connect(TEST_URI, database=name)
        store.client.drop_database(name)
        store.close()
    else:
        yield StoreAddress(data_dir=str(tmp_path / "pol-data"))


@pytest.fixture
def over_the_wire() -> bool:
    """Return True when the tests run against a MongoDB server rather than the embedded engine."""
    return bool(TEST_URI)
