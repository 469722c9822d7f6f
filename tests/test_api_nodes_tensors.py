"""Global ids and Query.node; tensor slices, raw bytes and weight differences."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from starlette.testclient import TestClient
from test_api import (
    CountingCollection,
    finish,
    graphql,
    new_experiment,
    new_learner,
    write_snapshot,
)

from pol.app import create_app
from pol.store.store import CHUNK_BYTES


@pytest.fixture
def client(store) -> TestClient:
    with TestClient(create_app(store)) as client:
        yield client


@pytest.fixture
def experiment(store):
    """An experiment with two trained learners of two epochs each."""
    experiment = new_experiment(store)
    for number in range(2):
        learner = new_learner(store, experiment, number)
        for epoch in range(2):
            write_snapshot(store, learner, epoch, loss=1.0 + number - 0.25 * epoch)
        finish(store, learner, loss=0.75 + number)
    return experiment


NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename globalId
    ... on Experiment { name }
    ... on Learner { configuration }
    ... on Snapshot { epoch }
    ... on Layer { setup: configuration { label } }
    ... on Tensor { name shape }
  }
}
"""

GLOBAL_IDS = """
query Ids($id: ID!) {
  learner(id: $id) {
    id globalId
    experiment { id globalId }
    layers { globalId tensors { globalId } }
    snapshots { id globalId layers { globalId tensors { globalId name } } }
  }
}
"""


def test_every_object_reads_back_by_its_global_id(client, store, experiment):
    learner = store.learners_of(experiment.id)[0]
    read = graphql(client, GLOBAL_IDS, id=learner.id)["data"]["learner"]
    snapshot = read["snapshots"][1]
    ids = {
        "experiment": read["experiment"]["globalId"],
        "learner": read["globalId"],
        "snapshot": snapshot["globalId"],
        "layer": snapshot["layers"][0]["globalId"],
        "tensor": snapshot["layers"][0]["tensors"][1]["globalId"],
        "learner layer": read["layers"][0]["globalId"],
    }

    found = {name: graphql(client, NODE, id=value)["data"]["node"] for name, value in ids.items()}

    assert base64.b64decode(ids["learner"]).decode() == f"Learner:{learner.id}"
    assert found["experiment"]["name"] == "wine search"
    assert found["learner"] == {
        "__typename": "Learner",
        "globalId": ids["learner"],
        "configuration": 0,
    }
    assert found["snapshot"]["epoch"] == 1
    assert found["layer"]["setup"] == {"label": "hidden_0"}
    assert found["tensor"] == {
        "__typename": "Tensor",
        "globalId": ids["tensor"],
        "name": "biases",
        "shape": [3],
    }
    assert found["learner layer"]["__typename"] == "Layer"
    # The hexadecimal ids keep working, in node too.
    assert graphql(client, NODE, id=snapshot["id"])["data"]["node"]["epoch"] == 1


def test_nodes_reads_many_and_names_each_failure(client, store, experiment):
    learners = store.learners_of(experiment.id)
    ids = [graphql(client, NODE, id=item.id)["data"]["node"]["globalId"] for item in learners[:2]]
    unknown = base64.b64encode(b"Learner:0123456789abcdef01234567").decode()
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { globalId ... on Learner { run } } }"

    body = graphql(client, query, ids=[ids[0], unknown, "%%%", ids[1]])

    assert body["data"]["nodes"] == [
        {"globalId": ids[0], "run": 0},
        None,
        None,
        {"globalId": ids[1], "run": 0},
    ]
    errors = sorted(body["errors"], key=lambda error: error["path"])
    assert [error["path"] for error in errors] == [["nodes", 1], ["nodes", 2]]
    assert errors[0]["extensions"] == {"code": "NOT_FOUND", "field": "ids"}
    assert errors[1]["extensions"] == {"code": "INVALID_ID", "field": "ids"}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("not base64!", "INVALID_ID"),
        (base64.b64encode(b"Planet:0123456789abcdef01234567").decode(), "INVALID_ID"),
        (base64.b64encode(b"Learner:42").decode(), "INVALID_ID"),
        (base64.b64encode(b"Layer:Snapshot:0123456789abcdef01234567:x").decode(), "INVALID_ID"),
        (base64.b64encode(b"Experiment:0123456789abcdef01234567").decode(), "NOT_FOUND"),
        ("0123456789abcdef01234567", "NOT_FOUND"),
    ],
)
def test_malformed_and_unknown_global_ids(client, value, code):
    body = graphql(client, NODE, id=value)

    (error,) = body["errors"]
    assert body["data"] == {"node": None}
    assert error["extensions"] == {"code": code, "field": "id"}


TENSOR = """
query Tensor($id: ID!, $ranges: [DimensionRangeInput!]!, $offset: Int64! = 0, $length: Int64) {
  learner(id: $id) {
    snapshots { layers { tensors { name
      slice(ranges: $ranges) { shape ranges { start stop } values nonFinite { index value } }
      raw(offset: $offset, length: $length) { dtype shape byteOrder offset base64 }
      rawSlice: raw(ranges: $ranges) { shape base64 }
    } } }
  }
}
"""


def test_slices_by_range_and_raw_bytes(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    weights = np.arange(24, dtype=np.float32).reshape(4, 6)
    weights[3, 5] = np.nan
    write_snapshot(store, learner, 0, loss=0.5, weights=weights)

    body = graphql(
        client,
        TENSOR,
        id=learner.id,
        ranges=[{"start": 1, "stop": 4}, {"start": 4}],
        offset=2,
        length=3,
    )

    weights_read, biases_read = body["data"]["learner"]["snapshots"][0]["layers"][0]["tensors"]
    assert biases_read["slice"] is None
    assert weights_read["slice"] == {
        "shape": [3, 2],
        "ranges": [{"start": 1, "stop": 4}, {"start": 4, "stop": 6}],
        "values": [10.0, 11.0, 16.0, 17.0, 22.0, None],
        "nonFinite": [{"index": 23, "value": "NAN"}],
    }
    raw = weights_read["raw"]
    assert raw["dtype"] == "float32" and raw["byteOrder"] == "little"
    assert raw["shape"] == [3] and raw["offset"] == 2
    assert np.frombuffer(base64.b64decode(raw["base64"]), "<f4").tolist() == [2.0, 3.0, 4.0]
    sliced = np.frombuffer(base64.b64decode(weights_read["rawSlice"]["base64"]), "<f4")
    assert weights_read["rawSlice"]["shape"] == [3, 2]
    np.testing.assert_array_equal(sliced.reshape(3, 2), weights[1:4, 4:6])
    assert biases_read["rawSlice"] is None and biases_read["raw"] is None
    errors = {(error["path"][-1], error["extensions"]["field"]): error for error in body["errors"]}
    assert sorted(errors) == [("raw", "length"), ("rawSlice", "ranges"), ("slice", "ranges")]
    assert "at most 1 ranges, one per dimension of [3]" in errors["slice", "ranges"]["message"]
    assert "length: got 3; allowed: 0 .. 1" in errors["raw", "length"]["message"]


@pytest.mark.parametrize(
    ("ranges", "field", "allowed"),
    [
        ([{"start": 5}], "ranges[0].start", "0 .. 4 (dimension 0)"),
        ([{"start": 2, "stop": 1}], "ranges[0].stop", "2 .. 4"),
        ([{"start": 0}, {"start": 0, "stop": 7}], "ranges[1].stop", "0 .. 6"),
    ],
)
def test_bad_ranges_name_the_range(client, store, ranges, field, allowed):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    write_snapshot(store, learner, 0, loss=0.5, weights=np.zeros((4, 6), np.float32))
    query = """
    query($id: ID!, $ranges: [DimensionRangeInput!]!) {
      learner(id: $id) { snapshots { layers { tensors { slice(ranges: $ranges) { shape } } } } }
    }
    """

    body = graphql(client, query, id=learner.id, ranges=ranges)

    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert allowed in error["message"]


def test_a_slice_of_a_large_tensor_reads_only_its_chunk_and_is_capped(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    weights = np.arange(3 * 500_000, dtype=np.float32).reshape(3, 500_000)  # 6 MB: 2 chunks
    write_snapshot(store, learner, 0, loss=0.5, weights=weights)
    asked: list[list[str]] = []
    chunks = store.tensor_chunks

    class Recording(CountingCollection):
        def find(self, query, *args, **kwargs):
            asked.append(sorted(key.rsplit(":", 1)[1] for key in query["_id"]["$in"]))
            return chunks.find(query, *args, **kwargs)

    store.tensor_chunks = Recording(chunks, [])
    query = """
    query($id: ID!, $ranges: [DimensionRangeInput!]!) {
      learner(id: $id) { snapshots { layers { tensors { name slice(ranges: $ranges) {
        shape values } } } } }
    }
    """

    tail = graphql(client, query, id=learner.id, ranges=[{"start": 2}, {"start": 499_998}])
    too_many = graphql(client, query, id=learner.id, ranges=[{"start": 0, "stop": 1}])

    weights_read = tail["data"]["learner"]["snapshots"][0]["layers"][0]["tensors"][0]
    assert weights_read["slice"] == {"shape": [1, 2], "values": [1_499_998.0, 1_499_999.0]}
    assert 1_499_998 * 4 > CHUNK_BYTES and asked[0] == ["1"]  # the second chunk only
    error = next(e for e in too_many["errors"] if e["path"][-1] == "slice")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "ranges"}
    assert "at most 100000 values per request; this slice has 500000" in error["message"]


def test_raw_bytes_are_capped_at_one_mebibyte(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    write_snapshot(store, learner, 0, loss=0.5, weights=np.zeros((1, 300_000), np.float32))
    query = """
    query($id: ID!) {
      learner(id: $id) { snapshots { layers { tensors { raw { base64 } } } } }
    }
    """

    body = graphql(client, query, id=learner.id)

    weights_read, biases_read = body["data"]["learner"]["snapshots"][0]["layers"][0]["tensors"]
    assert weights_read["raw"] is None and len(base64.b64decode(biases_read["raw"]["base64"])) == 12
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "length"}
    assert "at most 1048576 bytes per request" in error["message"]


DIFFERENCE = """
query Difference($id: ID!, $layer: Int!, $tensor: String!, $from: Int!, $to: Int!) {
  learner(id: $id) {
    weightDifference(layer: $layer, tensor: $tensor, fromEpoch: $from, toEpoch: $to) {
      layer tensor fromEpoch toEpoch shape l2Norm maxAbs meanAbs nonFiniteCount
    }
  }
}
"""


def test_weight_difference_between_two_epochs(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    write_snapshot(store, learner, 0, loss=1.0, weights=np.zeros((2, 3), np.float32))
    moved = np.array([[3.0, 0.0, 0.0], [0.0, -4.0, 0.0]], np.float32)
    write_snapshot(store, learner, 1, loss=0.5, weights=moved)
    write_snapshot(store, learner, 2, loss=0.4, weights=np.zeros((3, 3), np.float32))

    body = graphql(
        client, DIFFERENCE, id=learner.id, layer=0, tensor="weights", **{"from": 0, "to": 1}
    )

    assert body["data"]["learner"]["weightDifference"] == {
        "layer": 0,
        "tensor": "weights",
        "fromEpoch": 0,
        "toEpoch": 1,
        "shape": [2, 3],
        "l2Norm": 5.0,
        "maxAbs": 4.0,
        "meanAbs": pytest.approx(7 / 6),
        "nonFiniteCount": 0,
    }


@pytest.mark.parametrize(
    ("arguments", "code", "field", "message"),
    [
        ({"from": 0, "to": 9}, "NOT_FOUND", "toEpoch", "at epoch 9 does not exist"),
        (
            {"from": 0, "to": 2},
            "BAD_USER_INPUT",
            "tensor",
            "[2, 3] at epoch 0 and [3, 3] at epoch 2",
        ),
        ({"layer": 3}, "BAD_USER_INPUT", "layer", "0 .. 0, the layers of epoch 0"),
        ({"tensor": "gamma"}, "BAD_USER_INPUT", "tensor", "one of weights, biases"),
        ({"from": -1}, "BAD_USER_INPUT", "fromEpoch", "an integer >= 0"),
    ],
)
def test_weight_difference_errors(client, store, arguments, code, field, message):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    write_snapshot(store, learner, 0, loss=1.0, weights=np.zeros((2, 3), np.float32))
    write_snapshot(store, learner, 1, loss=0.5)
    write_snapshot(store, learner, 2, loss=0.4, weights=np.zeros((3, 3), np.float32))
    variables = {"layer": 0, "tensor": "weights", "from": 0, "to": 1, **arguments}

    body = graphql(client, DIFFERENCE, id=learner.id, **variables)

    (error,) = body["errors"]
    assert body["data"] == {"learner": {"weightDifference": None}}
    assert error["extensions"] == {"code": code, "field": field}
    assert message in error["message"]
