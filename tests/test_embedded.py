"""Tests of the embedded document engine, `pol.store.embedded`.

Tests taking the `db` fixture use only pymongo's API, so they also run against mongomock
and, when POL_TEST_MONGODB_URI is set, against a MongoDB (wire-protocol) server. Tests
of persistence, multi-process safety and the query planner use `EmbeddedClient` directly.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import threading
import time
import uuid

import bson
import mongomock
import pymongo
import pytest
from bson.int64 import Int64
from bson.objectid import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError, OperationFailure

from pol.store.embedded import EmbeddedClient

UTC = dt.UTC
BACKENDS = ["embedded", "mongomock"] + (
    ["server"] if os.environ.get("POL_TEST_MONGODB_URI") else []
)


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    """A fresh database on each backend that speaks pymongo's API."""
    if request.param == "embedded":
        client = EmbeddedClient(tmp_path / "data")
    elif request.param == "mongomock":
        client = mongomock.MongoClient(tz_aware=True)
    else:
        client = pymongo.MongoClient(os.environ["POL_TEST_MONGODB_URI"], tz_aware=True)
    name = f"pol_test_{uuid.uuid4().hex[:12]}"
    yield client[name]
    if request.param == "server":
        client.drop_database(name)
    client.close()


@pytest.fixture
def client(tmp_path):
    """An embedded client over a fresh data directory."""
    with EmbeddedClient(tmp_path / "data") as embedded:
        yield embedded


def only_embedded(db) -> None:
    """Skip where a backend other than the embedded engine is known to differ."""
    if not isinstance(db.client, EmbeddedClient):
        pytest.skip("mongomock differs from MongoDB here")


# -- CRUD ---------------------------------------------------------------------------------------


def test_insert_one_sets_object_id_on_the_callers_document(db):
    learner = {"name": "mlp", "status": "queued"}
    result = db.learners.insert_one(learner)
    assert isinstance(result, pymongo.results.InsertOneResult)
    assert isinstance(learner["_id"], ObjectId) and result.inserted_id == learner["_id"]
    assert db.learners.find_one(learner["_id"]) == learner
    assert db.learners.find_one({"name": "nope"}) is None
    assert db.list_collection_names() == ["learners"]
    assert db.command("ping")["ok"] == 1.0


def test_find_filters_sorts_skips_limits_and_projects(db):
    db.trials.insert_many([{"_id": i, "lr": i / 10, "tag": "ab"[i % 2]} for i in range(10)])
    cursor = db.trials.find({"tag": "a", "lr": {"$gte": 0.2}}, {"lr": 1, "_id": 0})
    assert list(cursor.sort("lr", -1).skip(1).limit(2)) == [{"lr": 0.6}, {"lr": 0.4}]
    assert [d["_id"] for d in db.trials.find(sort=[("tag", 1), ("_id", -1)], limit=3)] == [8, 6, 4]
    assert db.trials.find_one({"_id": 3}, {"tag": 0}) == {"_id": 3, "lr": 0.3}
    assert db.trials.find_one({}, sort=[("lr", -1)])["_id"] == 9
    assert [d["_id"] for d in db.trials.find({"_id": {"$in": [7, 2, 42]}}).sort("_id")] == [2, 7]


def test_sort_puts_missing_and_null_first_then_numbers_then_strings(db):
    values = [3, None, "b", 1.5, "a", dt.datetime(2024, 1, 1, tzinfo=UTC), True]
    db.metrics.insert_many([{"_id": i, "v": v} for i, v in enumerate(values)])
    db.metrics.insert_one({"_id": 99})
    ascending = [d["_id"] for d in db.metrics.find().sort([("v", 1), ("_id", 1)])]
    assert ascending == [1, 99, 3, 0, 4, 2, 6, 5]
    descending = [d["_id"] for d in db.metrics.find().sort([("v", -1), ("_id", 1)])]
    assert descending == [5, 6, 2, 4, 0, 3, 1, 99]


def test_nested_projection_keeps_only_named_paths(db):
    db.runs.insert_one({"_id": 1, "config": {"lr": 0.1, "depth": 3}, "score": 0.9})
    assert db.runs.find_one({}, {"config.lr": 1}) == {"_id": 1, "config": {"lr": 0.1}}
    assert db.runs.find_one({}, {"config.lr": 0, "_id": 0}) == {
        "config": {"depth": 3},
        "score": 0.9,
    }


def test_update_operators_on_top_level_and_dotted_paths(db):
    only_embedded(db)  # mongomock lacks $mul
    db.learners.insert_one({"_id": 1, "n": 5, "best": 0.5, "tags": ["a"], "cfg": {"lr": 1.0}})
    result = db.learners.update_one(
        {"_id": 1},
        {
            "$inc": {"n": 2, "cfg.epochs": 1},
            "$mul": {"cfg.lr": 0.5},
            "$min": {"best": 0.25},
            "$max": {"worst": 9},
            "$push": {"tags": {"$each": ["b", "c"]}},
            "$set": {"cfg.optim.name": "adam", "status": "running"},
            "$currentDate": {"updated": True},
        },
    )
    assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
    db.learners.update_one({"_id": 1}, {"$addToSet": {"tags": "a"}, "$pull": {"tags": "b"}})
    db.learners.update_one({"_id": 1}, {"$unset": {"status": ""}, "$setOnInsert": {"x": 1}})
    learner = db.learners.find_one({"_id": 1})
    updated = learner.pop("updated")
    assert updated.tzinfo is not None
    assert abs(updated - dt.datetime.now(UTC)) < dt.timedelta(seconds=30)
    assert learner == {
        "_id": 1,
        "n": 7,
        "best": 0.25,
        "tags": ["a", "c"],
        "worst": 9,
        "cfg": {"lr": 0.5, "epochs": 1, "optim": {"name": "adam"}},
    }


def test_update_results_count_matches_modifications_and_upserts(db):
    db.jobs.insert_many([{"_id": i, "state": "queued"} for i in range(3)])
    many = db.jobs.update_many({"state": "queued"}, {"$set": {"state": "done"}})
    assert (many.matched_count, many.modified_count) == (3, 3)
    unchanged = db.jobs.update_one({"_id": 0}, {"$set": {"state": "done"}})
    assert (unchanged.matched_count, unchanged.modified_count) == (1, 0)
    upserted = db.jobs.update_one(
        {"name": "new"}, {"$set": {"state": "queued"}, "$setOnInsert": {"tries": 0}}, upsert=True
    )
    assert upserted.matched_count == 0 and upserted.upserted_id is not None
    assert db.jobs.find_one({"name": "new"}, {"_id": 0}) == {
        "name": "new",
        "state": "queued",
        "tries": 0,
    }
    assert db.jobs.update_one({"name": "none"}, {"$set": {"x": 1}}).matched_count == 0


def test_replace_one_keeps_id(db):
    db.snapshots.insert_one({"_id": "s1", "epoch": 1, "loss": 2.0})
    result = db.snapshots.replace_one({"_id": "s1"}, {"epoch": 2})
    assert result.modified_count == 1
    assert db.snapshots.find_one("s1") == {"_id": "s1", "epoch": 2}
    db.snapshots.replace_one({"_id": "s2"}, {"epoch": 0}, upsert=True)
    assert db.snapshots.find_one("s2") == {"_id": "s2", "epoch": 0}


def test_find_one_and_update_returns_before_or_after_in_sort_order(db):
    db.queue.insert_many(
        [{"_id": i, "priority": p, "status": "queued"} for i, p in enumerate([2, 5, 1])]
    )
    before = db.queue.find_one_and_update(
        {"status": "queued"}, {"$set": {"status": "running"}}, sort=[("priority", -1)]
    )
    assert before == {"_id": 1, "priority": 5, "status": "queued"}
    after = db.queue.find_one_and_update(
        {"status": "queued"},
        {"$set": {"status": "running"}},
        projection={"status": 1},
        sort=[("priority", -1)],
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": 0, "status": "running"}
    assert db.queue.find_one_and_update({"status": "missing"}, {"$set": {"a": 1}}) is None
    created = db.queue.find_one_and_update(
        {"_id": 7}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert created == {"_id": 7, "n": 1}


def test_delete_count_and_distinct(db):
    db.trials.insert_many([{"k": i % 3, "tags": ["x", "y"] if i else ["z"]} for i in range(9)])
    assert db.trials.count_documents({}) == 9
    assert db.trials.count_documents({"k": 1}) == 3
    assert db.trials.count_documents({"k": {"$ne": 1}}, skip=1, limit=4) == 4
    assert db.trials.estimated_document_count() == 9
    assert sorted(db.trials.distinct("k")) == [0, 1, 2]
    assert sorted(db.trials.distinct("tags", {"k": 0})) == ["x", "y", "z"]
    assert db.trials.delete_one({"k": 0}).deleted_count == 1
    assert db.trials.delete_many({"k": {"$in": [0, 1]}}).deleted_count == 5
    assert db.trials.count_documents({}) == 3


# -- aggregation --------------------------------------------------------------------------------


def test_aggregate_groups_min_per_learner_then_sorts_and_limits(db):
    losses = [("a", 0.5), ("a", 0.2), ("b", 0.9), ("c", 0.1), ("c", 0.4), ("b", 0.3)]
    db.performance.insert_many(
        [{"learner": name, "epoch": i, "loss": loss} for i, (name, loss) in enumerate(losses)]
    )
    pipeline = [
        {"$match": {"epoch": {"$gte": 0}}},
        {"$sort": {"epoch": 1}},
        {
            "$group": {
                "_id": "$learner",
                "best": {"$min": "$loss"},
                "worst": {"$max": "$loss"},
                "first": {"$first": "$loss"},
                "last": {"$last": "$loss"},
                "n": {"$sum": 1},
                "mean": {"$avg": "$loss"},
                "epochs": {"$push": "$epoch"},
            }
        },
        {"$sort": {"best": 1}},
        {"$limit": 2},
    ]
    top = list(db.performance.aggregate(pipeline))
    assert [(d["_id"], d["best"], d["worst"], d["n"]) for d in top] == [
        ("c", 0.1, 0.4, 2),
        ("a", 0.2, 0.5, 2),
    ]
    assert top[1]["first"] == 0.5 and top[1]["last"] == 0.2 and top[1]["epochs"] == [0, 1]
    assert math.isclose(top[0]["mean"], 0.25)
    totals = list(db.performance.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}]))
    assert totals == [{"_id": None, "n": 6}]


def test_aggregate_project_unwind_add_fields_and_count(db):
    db.runs.insert_many(
        [{"_id": 1, "grid": {"lr": 0.1}, "seeds": [1, 2]}, {"_id": 2, "seeds": [5]}]
    )
    projected = list(
        db.runs.aggregate(
            [{"$project": {"lr": {"$ifNull": ["$grid.lr", 0.01]}}}, {"$sort": {"_id": 1}}]
        )
    )
    assert projected == [{"_id": 1, "lr": 0.1}, {"_id": 2, "lr": 0.01}]
    unwound = list(db.runs.aggregate([{"$unwind": "$seeds"}, {"$count": "n"}]))
    assert unwound == [{"n": 3}]
    grouped = list(
        db.runs.aggregate(
            [
                {"$unwind": "$seeds"},
                {"$group": {"_id": {"run": "$_id"}, "seeds": {"$sum": "$seeds"}}},
                {"$sort": {"seeds": -1}},
                {"$addFields": {"twice": {"$multiply": ["$seeds", 2]}}},
                {"$replaceRoot": {"newRoot": {"run": "$_id.run", "twice": "$twice"}}},
            ]
        )
    )
    assert grouped == [{"run": 2, "twice": 10}, {"run": 1, "twice": 6}]


def test_unknown_operators_and_stages_raise_operation_failure(db):
    only_embedded(db)  # mongomock raises ValueError for an unknown update operator
    db.runs.insert_one({"_id": 1})
    with pytest.raises(OperationFailure, match=r"\$bogus"):
        list(db.runs.find({"a": {"$bogus": 1}}))
    with pytest.raises(OperationFailure, match=r"\$bogus"):
        db.runs.update_one({"_id": 1}, {"$bogus": {"a": 1}})
    with pytest.raises(OperationFailure, match=r"\$bogus"):
        list(db.runs.aggregate([{"$bogus": {}}]))


# -- unique indexes -----------------------------------------------------------------------------


def test_create_index_returns_pymongo_name_and_is_idempotent(db):
    assert db.runs.create_index("name") == "name_1"
    assert db.runs.create_index([("a", 1), ("b", -1)]) == "a_1_b_-1"
    assert db.runs.create_index([("a", 1), ("b", -1)]) == "a_1_b_-1"
    info = db.runs.index_information()
    assert set(info) == {"_id_", "name_1", "a_1_b_-1"}
    assert list(info["a_1_b_-1"]["key"]) == [("a", 1), ("b", -1)]


def test_unique_index_raises_duplicate_key_and_writes_nothing(db):
    db.experiments.create_index("name", unique=True)
    db.experiments.insert_one({"_id": 1, "name": "mnist"})
    with pytest.raises(DuplicateKeyError) as raised:
        db.experiments.insert_one({"_id": 2, "name": "mnist"})
    if isinstance(db.client, EmbeddedClient):  # mongomock's message names no index
        assert "name_1" in str(raised.value) and "mnist" in str(raised.value)
    db.experiments.insert_one({"_id": 3, "name": "cifar"})
    with pytest.raises(DuplicateKeyError):
        db.experiments.update_one({"_id": 3}, {"$set": {"name": "mnist", "touched": True}})
    with pytest.raises(DuplicateKeyError):
        db.experiments.insert_one({"_id": 1, "name": "other"})
    assert list(db.experiments.find().sort("_id")) == [
        {"_id": 1, "name": "mnist"},
        {"_id": 3, "name": "cifar"},
    ]
    db.dups.insert_many([{"v": 1}, {"v": 1}])
    with pytest.raises(DuplicateKeyError):
        db.dups.create_index("v", unique=True)
    assert "v_1" not in db.dups.index_information()


def test_insert_many_ordered_keeps_documents_before_the_duplicate(db):
    with pytest.raises(BulkWriteError) as raised:
        db.runs.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 1}, {"_id": 4}])
    assert raised.value.details["nInserted"] == 2
    assert raised.value.details["writeErrors"][0]["index"] == 2
    assert sorted(d["_id"] for d in db.runs.find()) == [1, 2]


# -- BSON types ---------------------------------------------------------------------------------


def test_datetimes_come_back_utc_aware(db):
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    db.events.insert_one({"_id": 1, "at": moment, "naive": dt.datetime(2024, 1, 1)})
    event = db.events.find_one({"at": {"$gte": dt.datetime(2024, 5, 6, tzinfo=UTC)}})
    assert event["at"] == moment and event["at"].utcoffset() == dt.timedelta(0)
    assert event["naive"] == dt.datetime(2024, 1, 1, tzinfo=UTC)


def test_numbers_int64_nan_and_infinity_round_trip(db):
    db.values.insert_one(
        {
            "_id": 1,
            "big": Int64(2**40),
            "huge": 2**62,
            "nan": math.nan,
            "inf": math.inf,
            "ninf": -math.inf,
        }
    )
    stored = db.values.find_one({"big": 2**40})
    assert stored["big"] == 2**40 and isinstance(stored["big"], int)
    assert stored["huge"] == 2**62
    assert math.isnan(stored["nan"]) and stored["inf"] == math.inf and stored["ninf"] == -math.inf


def test_large_bytes_value_round_trips_bit_exact(db):
    only_embedded(db)
    tensor = os.urandom(15 * 1024 * 1024)
    db.tensors.insert_one({"_id": "w", "data": tensor})
    stored = db.tensors.find_one("w")["data"]
    assert type(stored) is bytes and stored == tensor


def test_documents_over_16_mib_are_refused(db):
    only_embedded(db)
    with pytest.raises(DocumentTooLarge):
        db.tensors.insert_one({"data": b"\0" * (16 * 1024 * 1024 + 1)})
    assert db.tensors.count_documents({}) == 0


# -- embedded engine: durability, concurrency, planner ------------------------------------------


def test_data_persists_after_close_and_reopen(tmp_path):
    with EmbeddedClient(tmp_path / "data") as client:
        client.pol.learners.create_index("name", unique=True)
        client.pol.learners.insert_one({"_id": 1, "name": "mlp"})
    with EmbeddedClient(tmp_path / "data") as client:
        assert client.pol.learners.find_one({"name": "mlp"}) == {"_id": 1, "name": "mlp"}
        assert "name_1" in client.pol.learners.index_information()
        assert client.list_database_names() == ["pol"]
        assert client.admin.command("ping") == {"ok": 1.0}


def increment_counter(path: str, times: int) -> None:
    """Increment the shared counter `times` times from a fresh client."""
    with EmbeddedClient(path) as client:
        for _ in range(times):
            client.pol.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, upsert=True)


def claim_until_empty(path: str, worker: int, claims) -> None:
    """Claim queued trials one at a time until none is left; report each claimed _id."""
    with EmbeddedClient(path) as client:
        while True:
            claimed = client.pol.queue.find_one_and_update(
                {"status": "queued"}, {"$set": {"status": "running", "worker": worker}}
            )
            if claimed is None:
                return
            claims.put(claimed["_id"])


def run_processes(target, args_per_process) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args) for args in args_per_process]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0


def test_increments_from_four_processes_are_never_lost(tmp_path):
    path = str(tmp_path / "data")
    run_processes(increment_counter, [(path, 100)] * 4)
    with EmbeddedClient(path) as client:
        assert client.pol.counters.find_one("c")["n"] == 400


def test_four_processes_claim_each_queued_document_once(tmp_path):
    path = str(tmp_path / "data")
    with EmbeddedClient(path) as client:
        client.pol.queue.create_index("status")
        client.pol.queue.insert_many([{"_id": i, "status": "queued"} for i in range(200)])
    claims = multiprocessing.get_context("spawn").Manager().Queue()
    run_processes(claim_until_empty, [(path, w, claims) for w in range(4)])
    claimed = [claims.get() for _ in range(claims.qsize())]
    assert sorted(claimed) == list(range(200))
    with EmbeddedClient(path) as client:
        assert client.pol.queue.count_documents({"status": "running"}) == 200
        assert set(client.pol.queue.distinct("worker")) <= {0, 1, 2, 3}


def test_threads_sharing_one_client_lose_no_increment(client):
    def work() -> None:
        for _ in range(50):
            client.pol.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, upsert=True)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.pol.counters.find_one("c")["n"] == 200


def test_indexed_equality_decodes_only_the_matches(client):
    trials = client.pol.trials
    trials.insert_many([{"learner": i % 100, "epoch": i // 100} for i in range(5000)])
    trials.create_index([("learner", 1), ("epoch", 1)])
    before = client.decoded_documents
    assert len(list(trials.find({"learner": 7}))) == 50
    assert client.decoded_documents - before == 50
    before = client.decoded_documents
    assert trials.count_documents({"learner": {"$in": [1, 2]}, "epoch": {"$gte": 40}}) == 20
    assert client.decoded_documents - before == 20
    before = client.decoded_documents
    assert trials.find_one({"_id": trials.find_one({"learner": 3})["_id"]})["learner"] == 3
    assert client.decoded_documents - before == 2


def test_index_written_by_another_client_is_used_and_current(tmp_path):
    with EmbeddedClient(tmp_path / "data") as reader, EmbeddedClient(tmp_path / "data") as writer:
        reader.pol.runs.insert_many([{"k": i} for i in range(1000)])
        writer.pol.runs.create_index("k")
        writer.pol.runs.insert_one({"k": 5})
        writer.pol.runs.update_one({"k": 6}, {"$set": {"k": 5}})
        before = reader.decoded_documents
        assert reader.pol.runs.count_documents({"k": 5}) == 3
        assert reader.decoded_documents - before == 3


def test_multikey_index_falls_back_to_scan_with_exact_results(client):
    runs = client.pol.runs
    runs.create_index("tags")
    runs.insert_many([{"_id": 1, "tags": ["a", "b"]}, {"_id": 2, "tags": "a"}, {"_id": 3}])
    assert sorted(d["_id"] for d in runs.find({"tags": "a"})) == [1, 2]
    assert [d["_id"] for d in runs.find({"tags": None})] == [3]


def test_insert_many_of_ten_thousand_documents_is_linear(client):
    documents = [{"i": i, "name": f"trial-{i}"} for i in range(10_000)]
    started = time.perf_counter()
    result = client.pol.trials.insert_many(documents)
    assert time.perf_counter() - started < 2.0
    assert len(result.inserted_ids) == 10_000
    assert client.pol.trials.estimated_document_count() == 10_000


def test_insert_many_accepts_duplicates_across_collections(client):
    client.pol.a.insert_one({"_id": 1})
    client.pol.b.insert_one({"_id": 1})
    client.pol.drop_collection("a")
    assert client.pol.list_collection_names() == ["b"]
    assert bson.ObjectId.is_valid(str(client.pol.c.insert_one({}).inserted_id))


def _random_value(rng, depth: int = 0):
    """A value of one of the types a query meets in stored documents, arrays included."""
    scalars = [
        lambda: rng.choice([0, 1, -1, 2, 7, 2**40]),
        lambda: rng.choice([0.0, -0.0, 0.5, 1.0, 2.5, math.nan, math.inf, -math.inf]),
        lambda: Int64(rng.choice([1, 2, 2**40])),
        lambda: rng.choice(["", "a", "b", "ab", "B"]),
        lambda: rng.choice([True, False]),
        lambda: None,
        lambda: ObjectId(f"{rng.randrange(3):024x}"),
        lambda: dt.datetime(2024, 1, rng.randrange(1, 4), tzinfo=UTC),
        lambda: bson.Decimal128(str(rng.choice([1, 2]))),
        lambda: rng.choice([b"", b"x"]),
    ]
    kind = rng.random()
    if depth < 2 and kind < 0.2:
        return {key: _random_value(rng, depth + 1) for key in rng.sample("abc", rng.randrange(3))}
    if depth < 2 and kind < 0.3:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return rng.choice(scalars)()


def _random_condition(rng):
    """A field condition: plain values, the operators compiled directly, and others."""
    value = _random_value(rng, depth=2)
    values = [_random_value(rng, depth=2) for _ in range(rng.randrange(3))]
    conditions = [
        lambda: value,
        lambda: {"$eq": value},
        lambda: {"$ne": value},
        lambda: {rng.choice(["$gt", "$gte", "$lt", "$lte"]): value},
        lambda: {"$gt": -math.inf, "$lt": math.inf},
        lambda: {"$gte": value, "$ne": _random_value(rng, depth=2)},
        lambda: {"$in": values},
        lambda: {"$nin": values},
        lambda: {"$exists": rng.choice([True, False, 0, 1])},
        lambda: {"$ne": True},
        lambda: {"$size": rng.randrange(3)},
        lambda: {"$regex": "^a"},
        lambda: {"$not": {"$gt": 1}},
        lambda: {"$elemMatch": {"$gt": 0}},
        lambda: {"a": 1},
        lambda: values,
    ]
    return rng.choice(conditions)()


def _random_query(rng, depth: int = 0) -> dict:
    query = {}
    for _ in range(rng.randrange(1, 3)):
        if depth < 1 and rng.random() < 0.15:
            clauses = [_random_query(rng, depth + 1) for _ in range(rng.randrange(1, 3))]
            query[rng.choice(["$and", "$or", "$nor"])] = clauses
        else:
            path = rng.choice(["a", "b", "a.b", "a.c", "a.b.c", "a.0", "b.1.a", "z"])
            query[path] = _random_condition(rng)
    return query


def _outcome(check, query, document):
    try:
        return bool(check(query, document))
    except (OperationFailure, TypeError, ValueError) as error:  # both sides must fail alike
        return type(error).__name__


def test_compiled_queries_agree_with_mongomocks_matcher_on_generated_cases():
    import random

    from pol.store._embedded.documents import matches
    from pol.store._embedded.matching import compile_query

    rng = random.Random(20240607)
    compiled = lambda query, document: compile_query(query)(document)
    for _ in range(20_000):
        document = {key: _random_value(rng) for key in rng.sample("abz", rng.randrange(4))}
        query = _random_query(rng)
        expected = _outcome(matches, query, document)
        assert _outcome(compiled, query, document) == expected, (query, document)


def test_compiled_range_and_negation_read_missing_null_and_nan_like_mongodb(db):
    db.runs.insert_many(
        [
            {"_id": 1, "m": {"loss": 0.5}, "superseded": False},
            {"_id": 2, "m": {"loss": math.nan}},
            {"_id": 3, "m": {"loss": None}, "superseded": True},
            {"_id": 4, "m": 7},
            {"_id": 5, "m": {"loss": math.inf}},
            {"_id": 6},
            {"_id": 7, "m": {"loss": -2}},
        ]
    )
    finite = {"$gt": -math.inf, "$lt": math.inf}
    assert sorted(d["_id"] for d in db.runs.find({"m.loss": finite})) == [1, 7]
    current = {"superseded": {"$ne": True}}
    assert sorted(d["_id"] for d in db.runs.find(current)) == [1, 2, 4, 5, 6, 7]
    null_or_missing = {"m.loss": None, "_id": {"$ne": 4}}
    assert sorted(d["_id"] for d in db.runs.find(null_or_missing)) == [3, 6]
    assert sorted(d["_id"] for d in db.runs.find({"m.loss": {"$exists": False}})) == [4, 6]


def test_updates_copy_only_what_they_change_and_never_the_callers_values(client):
    db = client.pol
    performance = {"valid": {"loss": 0.5, "matrix": [[1, 2], [3, 4]]}}
    db.runs.insert_many([{"_id": i, "k": 1, "p": {"old": [1]}, "tags": ["a"]} for i in range(3)])
    db.runs.update_many({"k": 1}, {"$set": {"performance": performance}, "$push": {"tags": "b"}})
    db.runs.update_one({"_id": 0}, {"$push": {"performance.valid.matrix": [5, 6]}})
    db.runs.update_one({"_id": 1}, {"$rename": {"p": "q"}, "$push": {"q.old": 2}})
    assert performance == {"valid": {"loss": 0.5, "matrix": [[1, 2], [3, 4]]}}
    first, second, third = db.runs.find(sort=[("_id", 1)])
    assert first["performance"]["valid"]["matrix"] == [[1, 2], [3, 4], [5, 6]]
    assert second["performance"]["valid"]["matrix"] == [[1, 2], [3, 4]]
    assert (second.get("p"), second["q"], third["p"]) == (None, {"old": [1, 2]}, {"old": [1]})
    assert [run["tags"] for run in (first, second, third)] == [["a", "b"]] * 3


def test_index_entries_follow_updates_of_parent_and_child_paths(client):
    runs = client.pol.runs
    runs.create_index([("m.loss", 1)])
    runs.create_index([("epoch", 1)], unique=True)
    runs.insert_many([{"_id": 1, "epoch": 1, "m": {"loss": 0.5}}, {"_id": 2, "epoch": 2}])
    runs.update_one({"_id": 1}, {"$set": {"note": "kept"}})
    runs.update_one({"_id": 2}, {"$set": {"m": {"loss": 0.1}}})
    runs.update_one({"_id": 1}, {"$inc": {"m.loss": 1.0}})
    runs.update_one({"_id": 1}, {"$rename": {"note": "epoch2"}})
    with pytest.raises(DuplicateKeyError):
        runs.update_one({"_id": 1}, {"$set": {"epoch": 2}})
    assert [d["_id"] for d in runs.find({"m.loss": {"$lt": 1}})] == [2]
    assert [d["_id"] for d in runs.find({"m.loss": 1.5})] == [1]
    assert runs.find_one({"epoch": 1}, {"epoch2": 1}) == {"_id": 1, "epoch2": "kept"}


def test_projected_reads_decode_only_the_fields_they_need(client):
    runs = client.pol.runs
    runs.insert_many([{"k": i % 3, "blob": b"x" * 1000, "m": {"a": i, "b": [i]}} for i in range(9)])
    found = list(runs.find({"k": 1}, {"_id": 0, "m.b": 1}, sort=[("m.a", -1)]))
    assert found == [{"m": {"b": [7]}}, {"m": {"b": [4]}}, {"m": {"b": [1]}}]
    pipeline = [
        {"$match": {"k": 2}},
        {"$project": {"m.a": 1}},
        {"$group": {"_id": None, "n": {"$sum": "$m.a"}}},
    ]
    assert list(runs.aggregate(pipeline)) == [{"_id": None, "n": 15}]


def test_push_with_slice_keeps_the_last_or_first_elements(tmp_path):
    collection = EmbeddedClient(tmp_path)["pol"]["recent"]
    collection.insert_one({"_id": 1, "ids": []})

    for number in range(5):
        collection.update_one({"_id": 1}, {"$push": {"ids": {"$each": [number], "$slice": -3}}})
    last_three = collection.find_one({"_id": 1})["ids"]
    collection.update_one({"_id": 1}, {"$push": {"ids": {"$each": [9, 8], "$slice": 2}}})

    assert last_three == [2, 3, 4]
    assert collection.find_one({"_id": 1})["ids"] == [2, 3]
