"""The GraphQL API over a real store: nested reads, analytics, mutations, errors, exact numbers."""

from __future__ import annotations

import json
import logging
import math
import uuid

import numpy as np
import pytest
from pymongo import monitoring
from starlette.testclient import TestClient

from pol.app import create_app
from pol.model import (
    CategoricalBound,
    Dataset,
    Experiment,
    FloatBound,
    HyperParameters,
    HyperParamSearchSpace,
    Indices,
    IntBound,
    Layer,
    LayerConfiguration,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
    Tensor,
)
from pol.model.hyperparameters import HP_OPT_METHODS, LEARNER_TYPES
from pol.model.learner import STATUSES
from pol.model.performance import METRICS, SPLITS
from pol.schema import enums, schema

COLLECTIONS = ("experiments", "learners", "snapshots", "tensor_chunks")

NESTED_QUERY = """
query Nested($id: ID!) {
  experiment(id: $id) {
    id name createdAt
    dataset { name rows task labels }
    indices { seed trainSize validSize testSize }
    searchSpace { name kind low high log choices }
    learnerCounts { queued completed total }
    learners {
      id status seed configuration run epochs updates bestEpoch
      hyperParameters { alpha regularisationLambda regularisation batchSize activation }
      performance { valid { loss accuracy nonFinite { metric value } } }
      layers {
        configuration { index label kind inputs outputs activation }
        tensors { name dtype shape checksum nbytes stats { min max mean nonFiniteCount } }
      }
      snapshots {
        epoch updates elapsed superseded
        performance { valid { loss accuracy nonFinite { metric value } } }
        layers { tensors { name shape values { offset size values } } }
      }
    }
  }
}
"""


def strict_json(text: str) -> dict:
    """Parse a response body, failing on NaN or Infinity as any strict JSON parser does."""

    def reject(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=reject)


@pytest.fixture
def client(store) -> TestClient:
    with TestClient(create_app(store)) as client:
        yield client


def graphql(client: TestClient, query: str, **variables) -> dict:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return strict_json(response.text)


def counts(store) -> dict[str, int]:
    return {name: store.database[name].count_documents({}) for name in COLLECTIONS}


def new_experiment(store) -> Experiment:
    return store.insert_experiment(
        Experiment(
            name="wine search",
            dataset=Dataset(
                "wine",
                "sklearn.datasets.load_wine",
                178,
                ["alcohol", "malic_acid"],
                "class",
                "classification",
                labels=[0, 1, 2],
            ),
            indices=Indices.split(178, seed=7),
            search_space=HyperParamSearchSpace(
                {
                    "alpha": FloatBound(1e-3, 0.5, log=True),
                    "batch_size": IntBound(8, 64),
                    "activation": CategoricalBound(("relu", "tanh")),
                }
            ),
        )
    )


def new_learner(store, experiment, number: int, *, seed: int | None = None, **values) -> Learner:
    hyper_parameters = HyperParameters(**values)
    learner = Learner(
        experiment_id=experiment.id,
        learner_type="mlp",
        hyper_parameters=hyper_parameters,
        seed=number if seed is None else seed,
        configuration=number,
        indices=experiment.indices,
    )
    return store.insert_learners([learner])[0]


def layers_of(epoch: int, weights: np.ndarray | None = None) -> list[Layer]:
    weights = np.full((2, 3), float(epoch), np.float32) if weights is None else weights
    return [
        Layer(
            LayerConfiguration(0, "hidden_0", "linear", 2, 3, "relu"),
            [
                Tensor.from_numpy("weights", weights),
                Tensor.from_numpy("biases", np.arange(3, dtype=np.float32)),
            ],
        )
    ]


def write_snapshot(store, learner, epoch, *, loss, accuracy=0.8, updates=None, weights=None):
    return store.write_snapshot(
        Snapshot(
            learner_id=learner.id,
            experiment_id=learner.experiment_id,
            epoch=epoch,
            updates=(epoch + 1) * 10 if updates is None else updates,
            elapsed=0.5 * (epoch + 1),
            performance=LearnerPerformance(
                train=Performance("train", loss=loss * 0.9, accuracy=accuracy),
                valid=Performance("valid", loss=loss, accuracy=accuracy),
            ),
            layers=layers_of(epoch, weights),
        )
    )


def finish(store, learner, loss, best_epoch=1) -> None:
    store.finish_learner(
        learner.id,
        status="completed",
        reason=None,
        performance=LearnerPerformance(valid=Performance("valid", loss=loss, accuracy=0.9)),
        layers=layers_of(best_epoch),
        best_epoch=best_epoch,
    )


@pytest.fixture
def experiment(store) -> Experiment:
    """An experiment with three trained learners of two epochs each and one still queued."""
    experiment = new_experiment(store)
    for number, (alpha, batch_size, activation) in enumerate(
        [(0.01, 16, "relu"), (0.02, 32, "relu"), (0.3, 60, "tanh")]
    ):
        learner = new_learner(
            store, experiment, number, alpha=alpha, batch_size=batch_size, activation=activation
        )
        for epoch in range(2):
            write_snapshot(store, learner, epoch, loss=(number + 1) * (1.0 - 0.25 * epoch))
        finish(store, learner, loss=(number + 1) * 0.75)
    new_learner(store, experiment, 3)
    return experiment


def test_nested_query_reads_experiment_learners_layers_tensors_snapshots(client, experiment):
    body = graphql(client, NESTED_QUERY, id=experiment.id)

    assert "errors" not in body
    read = body["data"]["experiment"]
    assert read["name"] == "wine search"
    assert read["createdAt"].endswith("+00:00")
    assert read["dataset"] == {
        "name": "wine",
        "rows": 178,
        "task": "classification",
        "labels": [0, 1, 2],
    }
    assert read["indices"]["seed"] == 7
    assert sum(read["indices"][f"{split}Size"] for split in SPLITS) == 178
    assert read["searchSpace"] == [
        {"name": "alpha", "kind": "FLOAT", "low": 0.001, "high": 0.5, "log": True, "choices": None},
        {
            "name": "batch_size",
            "kind": "INT",
            "low": 8.0,
            "high": 64.0,
            "log": False,
            "choices": None,
        },
        {
            "name": "activation",
            "kind": "CATEGORICAL",
            "low": None,
            "high": None,
            "log": False,
            "choices": ["relu", "tanh"],
        },
    ]
    assert read["learnerCounts"] == {"queued": 1, "completed": 3, "total": 4}

    first, *_, queued = read["learners"]
    assert [learner["configuration"] for learner in read["learners"]] == [0, 1, 2, 3]
    assert first["status"] == "COMPLETED" and queued["status"] == "QUEUED"
    assert first["hyperParameters"] == {
        "alpha": 0.01,
        "regularisationLambda": None,
        "regularisation": "none",
        "batchSize": 16,
        "activation": "relu",
    }
    assert first["performance"]["valid"] == {"loss": 0.75, "accuracy": 0.9, "nonFinite": []}
    assert first["bestEpoch"] == 1 and first["epochs"] == 2 and first["updates"] == 20
    weights, biases = first["layers"][0]["tensors"]
    assert first["layers"][0]["configuration"] == {
        "index": 0,
        "label": "hidden_0",
        "kind": "linear",
        "inputs": 2,
        "outputs": 3,
        "activation": "relu",
    }
    assert weights["shape"] == [2, 3] and weights["nbytes"] == 24 and weights["dtype"] == "float32"
    assert weights["stats"] == {"min": 1.0, "max": 1.0, "mean": 1.0, "nonFiniteCount": 0}
    assert len(weights["checksum"]) == 64 and biases["name"] == "biases"

    assert [snapshot["epoch"] for snapshot in first["snapshots"]] == [0, 1]
    last = first["snapshots"][1]
    assert last["updates"] == 20 and last["elapsed"] == 1.0 and last["superseded"] is False
    assert last["performance"]["valid"]["loss"] == 0.75
    assert last["layers"][0]["tensors"][0]["values"] == {
        "offset": 0,
        "size": 6,
        "values": [1.0] * 6,
    }
    assert last["layers"][0]["tensors"][1]["values"]["values"] == [0.0, 1.0, 2.0]
    assert queued["snapshots"] == [] and queued["layers"] == []


def test_learners_are_filtered_ordered_and_limited(client, experiment):
    query = """
    query Learners($id: ID!, $descending: Boolean, $status: Status) {
      experiment(id: $id) {
        best: learners(orderBy: LOSS, limit: 2) { configuration }
        worst: learners(orderBy: LOSS, descending: $descending) { configuration }
        queued: learners(status: $status) { configuration }
      }
    }
    """

    read = graphql(client, query, id=experiment.id, descending=True, status="QUEUED")

    experiment_read = read["data"]["experiment"]
    assert [item["configuration"] for item in experiment_read["best"]] == [0, 1]
    # The queued learner has no loss: it comes last either way.
    assert [item["configuration"] for item in experiment_read["worst"]] == [2, 1, 0, 3]
    assert experiment_read["queued"] == [{"configuration": 3}]


def test_snapshots_by_epoch_range_and_last(client, store, experiment):
    learner = store.learners_of(experiment.id, status="completed")[0]
    query = """
    query Snapshots($id: ID!) {
      learner(id: $id) {
        range: snapshots(fromEpoch: 1, toEpoch: 1) { epoch }
        last: snapshots(last: 1) { epoch }
        all: snapshots { epoch }
      }
    }
    """

    read = graphql(client, query, id=learner.id)["data"]["learner"]

    assert read == {
        "range": [{"epoch": 1}],
        "last": [{"epoch": 1}],
        "all": [{"epoch": 0}, {"epoch": 1}],
    }


def test_tensor_values_are_paged_and_capped(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    weights = np.arange(200_001, dtype=np.float32).reshape(1, 200_001)
    write_snapshot(store, learner, 0, loss=0.5, weights=weights)
    query = """
    query Values($id: ID!, $offset: Int64!, $length: Int64) {
      learner(id: $id) {
        snapshots { layers { tensors { name size values(offset: $offset, length: $length) {
          offset size values } } } }
      }
    }
    """

    page = graphql(client, query, id=learner.id, offset=199_998, length=3)
    too_many = graphql(client, query, id=learner.id, offset=0, length=None)

    tensors = page["data"]["learner"]["snapshots"][0]["layers"][0]["tensors"]
    assert tensors[0]["values"] == {
        "offset": 199_998,
        "size": 200_001,
        "values": [199_998.0, 199_999.0, 200_000.0],
    }
    assert tensors[1]["values"] is None  # offset past the end of the 3 biases
    (error,) = page["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "offset"}
    assert error["path"][-2:] == [1, "values"]
    assert "0 .. 3, the tensor's size" in error["message"]
    tensors = too_many["data"]["learner"]["snapshots"][0]["layers"][0]["tensors"]
    assert tensors[0]["values"] is None and tensors[0]["size"] == 200_001
    assert tensors[1]["values"]["values"] == [0.0, 1.0, 2.0]
    error = next(item for item in too_many["errors"] if item["extensions"]["field"] == "length")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "200001" in error["message"] and "at most 100000 values" in error["message"]


def test_nan_validation_loss_is_null_with_its_flag_everywhere(
    client, store, experiment, over_the_wire
):
    if over_the_wire:
        pytest.skip("the wire-protocol test server's SQLite engine rejects non-finite doubles")
    learner = new_learner(store, experiment, 4, alpha=0.05)
    for epoch in range(3):
        write_snapshot(store, learner, epoch, loss=2.0 - 0.5 * epoch)
    write_snapshot(store, learner, 3, loss=math.nan, accuracy=math.inf)
    query = """
    query NaN($id: ID!, $experiment: ID!) {
      learner(id: $id) {
        id status
        performance { valid { loss accuracy nonFinite { metric value } } }
        snapshots(fromEpoch: 3) { epoch performance { valid { loss accuracy
          nonFinite { metric value } } train { loss nonFinite { metric } } } }
      }
      experiment(id: $experiment) {
        learners(orderBy: LOSS) { id performance { valid { loss nonFinite { metric value } } } }
      }
      topK(experimentId: $experiment, k: 10) { learnerId value epoch }
    }
    """

    body = graphql(client, query, id=learner.id, experiment=experiment.id)

    assert "errors" not in body
    flags = [
        {"metric": "LOSS", "value": "NAN"},
        {"metric": "ACCURACY", "value": "POSITIVE_INFINITY"},
    ]
    read = body["data"]["learner"]
    assert read["id"] == learner.id and read["status"] == "QUEUED"
    assert read["performance"]["valid"] == {"loss": None, "accuracy": None, "nonFinite": flags}
    (snapshot,) = read["snapshots"]
    assert snapshot["epoch"] == 3
    assert snapshot["performance"]["valid"] == {"loss": None, "accuracy": None, "nonFinite": flags}
    assert snapshot["performance"]["train"] == {
        "loss": None,
        "nonFinite": [{"metric": "LOSS"}, {"metric": "ACCURACY"}],
    }
    ordered = body["data"]["experiment"]["learners"]
    # No finite latest loss: it comes after the three ranked learners, with the queued one.
    assert ordered[-1]["id"] == learner.id
    assert ordered[-1]["performance"]["valid"] == {"loss": None, "nonFinite": flags}
    # Its best finite epoch still ranks it.
    nan_entry = next(item for item in body["data"]["topK"] if item["learnerId"] == learner.id)
    assert nan_entry == {"learnerId": learner.id, "value": 1.0, "epoch": 2}


def test_non_finite_tensor_values_and_stats_are_null_with_flags(client, store, over_the_wire):
    if over_the_wire:
        pytest.skip("the wire-protocol test server's SQLite engine rejects non-finite doubles")
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    weights = np.array([[1.0, math.nan, math.inf], [-math.inf, 2.0, 3.0]], np.float32)
    write_snapshot(store, learner, 0, loss=1.0, weights=weights)
    all_nan = np.full((2, 3), math.nan, np.float32)
    write_snapshot(store, learner, 1, loss=1.0, weights=all_nan)
    query = """
    query Tensors($id: ID!) {
      learner(id: $id) { snapshots { layers { tensors(
      ) { name stats { min max mean std l2Norm nonFiniteCount nonFinite { field value } }
          values { values nonFinite { index value } } } } } }
    }
    """.replace("tensors(\n      )", "tensors")

    body = graphql(client, query, id=learner.id)

    assert "errors" not in body
    first, second = body["data"]["learner"]["snapshots"]
    weights_read = first["layers"][0]["tensors"][0]
    assert weights_read["values"] == {
        "values": [1.0, None, None, None, 2.0, 3.0],
        "nonFinite": [
            {"index": 1, "value": "NAN"},
            {"index": 2, "value": "POSITIVE_INFINITY"},
            {"index": 3, "value": "NEGATIVE_INFINITY"},
        ],
    }
    assert weights_read["stats"]["min"] == 1.0 and weights_read["stats"]["nonFiniteCount"] == 3
    assert weights_read["stats"]["nonFinite"] == []
    stats = second["layers"][0]["tensors"][0]["stats"]
    assert stats["min"] is None and stats["l2Norm"] is None and stats["nonFiniteCount"] == 6
    assert [flag["field"] for flag in stats["nonFinite"]] == ["min", "max", "mean", "std", "l2Norm"]
    assert {flag["value"] for flag in stats["nonFinite"]} == {"NAN"}


def test_64_bit_integers_round_trip_exactly(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0, seed=2**40)
    write_snapshot(store, learner, 0, loss=0.5, updates=2**31 + 7)
    query = """
    query Big($id: ID!) { learner(id: $id) { seed updates snapshots { updates } } }
    """

    body = graphql(client, query, id=learner.id)

    assert body["data"]["learner"] == {
        "seed": 1_099_511_627_776,
        "updates": 2_147_483_655,
        "snapshots": [{"updates": 2_147_483_655}],
    }
    assert (
        '"seed":1099511627776'
        in client.post("/graphql", json={"query": query, "variables": {"id": learner.id}}).text
    )


def test_int64_input_is_exact_and_range_checked(client, experiment):
    query = """
    query Values($id: ID!, $offset: Int64!) {
      experiment(id: $id) { learners(limit: 1) { layers { tensors { values(offset: $offset) {
        offset } } } } }
    }
    """

    text = graphql(client, query, id=experiment.id, offset="2")
    beyond = graphql(client, query, id=experiment.id, offset=2**63)

    tensors = text["data"]["experiment"]["learners"][0]["layers"][0]["tensors"]
    assert tensors[1]["values"] == {"offset": 2}
    assert beyond["data"] is None
    (error,) = beyond["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Int64 cannot represent 9223372036854775808" in error["message"]


def test_top_k_coalesced_reduced_and_distribution(client, experiment, store):
    query = """
    query Analysis($id: ID!) {
      topK(experimentId: $id, k: 2) { rank learnerId value epoch learner { configuration } }
      fraction: topK(experimentId: $id, k: 0.5) { rank }
      coalescedHyperParameters(experimentId: $id, k: 2) {
        numeric { name count mean std min q25 median q75 max nonFinite { field value } }
        categorical { name mode counts { value count } }
        topK { rank }
      }
      reducedSearchSpace(experimentId: $id, k: 2) {
        bounds { name rule bound { kind low high choices } original { kind low high }
                 numbers { name value } }
      }
      hpDistribution(experimentId: $id, k: 2, bins: 4) { name kind labels edges topK all }
    }
    """

    body = graphql(client, query, id=experiment.id)

    assert "errors" not in body
    data = body["data"]
    assert [
        (item["rank"], item["value"], item["epoch"], item["learner"]["configuration"])
        for item in data["topK"]
    ] == [(1, 0.75, 1, 0), (2, 1.5, 1, 1)]
    assert data["fraction"] == [{"rank": 1}, {"rank": 2}]
    numeric = {row["name"]: row for row in data["coalescedHyperParameters"]["numeric"]}
    assert numeric["alpha"]["count"] == 2 and numeric["alpha"]["mean"] == pytest.approx(0.015)
    assert numeric["batch_size"]["min"] == 16 and numeric["batch_size"]["max"] == 32
    assert numeric["batch_size"]["median"] == 24 and numeric["alpha"]["nonFinite"] == []
    (activation,) = data["coalescedHyperParameters"]["categorical"]
    assert activation == {
        "name": "activation",
        "mode": "relu",
        "counts": [{"value": "relu", "count": 2}],
    }
    reduced = {item["name"]: item for item in data["reducedSearchSpace"]["bounds"]}
    assert reduced["activation"]["bound"]["choices"] == ["relu"]
    assert reduced["activation"]["rule"] == "most frequent"
    assert reduced["batch_size"]["original"] == {"kind": "INT", "low": 8.0, "high": 64.0}
    assert 8 <= reduced["batch_size"]["bound"]["low"] <= reduced["batch_size"]["bound"]["high"]
    assert reduced["alpha"]["rule"] and reduced["alpha"]["numbers"]
    distributions = {item["name"]: item for item in data["hpDistribution"]}
    assert distributions["activation"]["labels"] == ["relu", "tanh"]
    assert distributions["activation"]["topK"] == [2, 0]
    assert distributions["activation"]["all"] == [3, 1]  # the queued learner has defaults
    assert len(distributions["alpha"]["edges"]) == 5 and sum(distributions["alpha"]["topK"]) == 2


def test_top_k_refuses_a_k_that_is_neither_count_nor_fraction(client, experiment):
    body = graphql(
        client, "query($id: ID!) { topK(experimentId: $id, k: 2.5) { rank } }", id=experiment.id
    )

    (error,) = body["errors"]
    assert body["data"] == {"topK": None}
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "k"}
    assert "2.5" in error["message"] and "fraction" in error["message"]


CREATE = """
mutation Create($input: CreateExperimentInput!) {
  createExperiment(input: $input) {
    id name dataset { name task window } learnerType hpOptMethod
    searchSpace { name kind low high log choices }
  }
}
"""

START = """
mutation Start($id: ID!, $count: Int!, $runs: Int!, $seed: Int64) {
  startTrials(experimentId: $id, count: $count, runsPerConfiguration: $runs, seed: $seed) {
    id status configuration run seed hyperParameters { alpha batchSize activation }
  }
}
"""

SEARCH_SPACE = [
    {"name": "alpha", "kind": "FLOAT", "low": 0.001, "high": 0.1, "log": True},
    {"name": "batch_size", "kind": "INT", "low": 8, "high": 32},
    {"name": "activation", "kind": "CATEGORICAL", "choices": ["relu", "tanh"]},
]


def test_create_experiment_and_start_trials_queue_learners(client, store):
    created = graphql(
        client,
        CREATE,
        input={
            "name": "sunspots search",
            "dataset": "sunspots",
            "description": "a first look",
            "learnerType": "LSTM",
            "seed": 3,
            "searchSpace": SEARCH_SPACE,
        },
    )

    assert "errors" not in created
    experiment = created["data"]["createExperiment"]
    assert experiment["dataset"] == {"name": "sunspots", "task": "regression", "window": 12}
    assert experiment["learnerType"] == "LSTM" and experiment["hpOptMethod"] == "RANDOM"
    assert experiment["searchSpace"][2]["choices"] == ["relu", "tanh"]
    assert store.experiment(experiment["id"]).name == "sunspots search"

    started = graphql(client, START, id=experiment["id"], count=3, runs=2, seed=2**40)

    assert "errors" not in started
    learners = started["data"]["startTrials"]
    assert len(learners) == 6
    assert {learner["status"] for learner in learners} == {"QUEUED"}
    assert [(item["configuration"], item["run"]) for item in learners] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
    ]
    for learner in learners:
        assert 0.001 <= learner["hyperParameters"]["alpha"] <= 0.1
        assert 8 <= learner["hyperParameters"]["batchSize"] <= 32
        assert isinstance(learner["seed"], int)
    assert store.count_learners(experiment["id"])["queued"] == 6


def bad_space(**changes) -> list[dict]:
    space = [dict(bound) for bound in SEARCH_SPACE]
    space[changes.pop("index", 0)].update(changes)
    return space


@pytest.mark.parametrize(
    ("space", "field", "allowed"),
    [
        (bad_space(low=0.5), "search_space.alpha.low", "a value below high (0.1)"),
        (bad_space(name="learning_rate"), "search_space", "one of alpha, lambda"),
        (bad_space(index=1, low=0), "search_space.batch_size.low", "a value >= 1"),
        (
            bad_space(index=2, choices=["relu", "softsign"]),
            "search_space.activation.choices",
            "one of relu, logistic, tanh",
        ),
    ],
    ids=["low-above-high", "unknown-name", "batch-size-0", "unknown-activation"],
)
def test_invalid_search_space_is_refused_and_writes_nothing(client, store, space, field, allowed):
    before = counts(store)

    body = graphql(
        client, CREATE, input={"name": "bad", "dataset": "sunspots", "searchSpace": space}
    )

    (error,) = body["errors"]
    assert body["data"] == {"createExperiment": None}
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert error["message"].startswith(f"{field}: got ") and allowed in error["message"]
    assert counts(store) == before


@pytest.mark.parametrize(
    ("changes", "field", "allowed"),
    [
        ({"dataset": "mnist"}, "dataset", "one of digits, breast_cancer"),
        ({"dataset": "csv"}, "dataset", "sunspots, elnino"),
        ({"name": "  "}, "name", "1 to 200 characters"),
        ({"seed": -1}, "seed", "an integer >= 0"),
    ],
)
def test_invalid_experiment_input_is_refused_and_writes_nothing(
    client, store, changes, field, allowed
):
    before = counts(store)

    body = graphql(
        client,
        CREATE,
        input={"name": "x", "dataset": "sunspots", "searchSpace": SEARCH_SPACE, **changes},
    )

    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert allowed in error["message"]
    assert counts(store) == before


@pytest.mark.parametrize(
    ("count", "runs", "field", "allowed"),
    [
        (0, 1, "count", "an integer >= 1"),
        (1, 0, "runsPerConfiguration", "an integer >= 1"),
        (5_001, 2, "count", "count x runsPerConfiguration at most 10000"),
    ],
)
def test_invalid_trial_counts_are_refused_and_write_nothing(
    client, store, experiment, count, runs, field, allowed
):
    before = counts(store)

    body = graphql(client, START, id=experiment.id, count=count, runs=runs)

    (error,) = body["errors"]
    assert body["data"] == {"startTrials": None}
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert f"{field}: got " in error["message"] and allowed in error["message"]
    assert counts(store) == before


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query($id: ID!) { experiment(id: $id) { id } }", {"id": "not-an-id"}, "id"),
        ("query($id: ID!) { learner(id: $id) { id } }", {"id": "abc123"}, "id"),
        (START, {"id": "1234", "count": 1, "runs": 1}, "experimentId"),
        (
            "query($id: ID!) { topK(experimentId: $id, k: 1) { rank } }",
            {"id": "zz"},
            "experimentId",
        ),
    ],
)
def test_malformed_ids_are_refused_with_invalid_id(client, store, query, variables, field):
    before = counts(store)

    body = graphql(client, query, **variables)

    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_ID", "field": field}
    assert "a 24-character hexadecimal id" in error["message"]
    assert counts(store) == before


def test_missing_experiment_is_not_found(client):
    body = graphql(client, '{ experiment(id: "0123456789abcdef01234567") { id } }')

    assert body["data"] == {"experiment": None}
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}


def test_unexpected_errors_are_masked_and_logged(client, store, caplog):
    experiment = new_experiment(store)
    # A learner document with only an experiment and a seed cannot be read as a Learner.
    store.learners.insert_one({"experiment_id": store.experiments.find_one()["_id"], "seed": 1})
    query = "query($id: ID!) { experiment(id: $id) { name learners { id } } }"

    with caplog.at_level(logging.ERROR, logger="pol.schema.errors"):
        body = graphql(client, query, id=experiment.id)

    (error,) = body["errors"]
    assert body["data"] == {"experiment": {"name": "wine search", "learners": None}}
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["message"] == "Internal server error; the server log has the details."
    (record,) = [record for record in caplog.records if record.exc_info]
    assert record.exc_info[0] is KeyError
    assert record.getMessage() == "unexpected error in experiment.learners"


@pytest.mark.parametrize(
    "payload",
    [
        {"query": "{ experiment(id: "},
        {"query": "{ nothing }"},
        {"query": '{ experiments(limit: "ten") { id } }'},
        {"query": "{ experiments(limit: -1) { id } }"},
        {
            "query": 'query($k: Float!) { topK(experimentId: "x", k: $k) { rank } }',
            "variables": {"k": "many"},
        },
        {"query": None},
        {},
    ],
)
def test_no_input_gives_a_server_error(client, payload):
    response = client.post("/graphql", json=payload)

    assert response.status_code < 500
    body = (
        strict_json(response.text)
        if response.headers["content-type"].startswith("application/json")
        else {}
    )
    for error in body.get("errors", []):
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR"


def test_not_json_gives_a_client_error(client):
    response = client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert 400 <= response.status_code < 500


def test_health_redirect_and_graphiql(client):
    health = client.get("/healthz").json()
    assert (health["status"], health["store"]) == ("ok", "reachable")
    home = client.get("/", follow_redirects=False)
    assert home.status_code in (302, 307) and home.headers["location"] == "/graphql"
    page = client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_enums_hold_the_model_values():
    assert [status.value for status in enums.Status] == list(STATUSES)
    assert [metric.value for metric in enums.Metric] == list(METRICS)
    assert [split.value for split in enums.Split] == list(SPLITS)
    assert [kind.value for kind in enums.LearnerType] == list(LEARNER_TYPES)
    assert [method.value for method in enums.HpOptMethod] == list(HP_OPT_METHODS)


def test_schema_prints_scalars_and_the_lambda_field():
    printed = schema.as_str()

    assert "scalar Int64" in printed and "scalar DateTime" in printed
    assert "regularisationLambda: Float" in printed
    assert "values(offset: Int64! = 0, length: Int64 = null): TensorValues" in printed


class CountingCollection:
    """A store collection that counts the reads made through it."""

    def __init__(self, collection, reads: list[str]) -> None:
        self.collection = collection
        self.reads = reads

    def __getattr__(self, name: str):
        attribute = getattr(self.collection, name)
        if name in ("find", "find_one", "aggregate", "count_documents"):
            self.reads.append(f"{self.collection.name}.{name}")
        return attribute


def round_trips_of_nested_query(store, learners: int) -> list[str]:
    experiment = new_experiment(store)
    for number in range(learners):
        learner = new_learner(store, experiment, number, alpha=0.01 * (number + 1))
        for epoch in range(2):
            write_snapshot(
                store,
                learner,
                epoch,
                loss=1.0 + number,
                weights=np.full((2, 3), number * 10 + epoch, np.float32),
            )
        finish(store, learner, loss=1.0 + number)
    reads: list[str] = []
    for name in COLLECTIONS:
        setattr(store, name, CountingCollection(getattr(store, name), reads))
    with TestClient(create_app(store)) as client:
        body = graphql(client, NESTED_QUERY, id=experiment.id)
    assert "errors" not in body
    assert len(body["data"]["experiment"]["learners"]) == learners
    return reads


def test_nested_query_round_trips_do_not_grow_with_learners(tmp_path):
    from pol.store import connect

    with connect(data_dir=tmp_path / "two") as two, connect(data_dir=tmp_path / "six") as six:
        reads_two = round_trips_of_nested_query(two, 2)
        reads_six = round_trips_of_nested_query(six, 6)

    assert (
        sorted(reads_two)
        == sorted(reads_six)
        == sorted(
            [
                "experiments.find",
                "learners.aggregate",
                "learners.find",
                "snapshots.find",
                "tensor_chunks.find",
            ]
        )
    )


DEEP_QUERY = """
query Deep($id: ID!) {
  experiment(id: $id) {
    learnersConnection(first: 100, orderBy: [{metric: LOSS}]) {
      totalCount
      edges { cursor node {
        id forks { id } parent { id }
        layers { tensors { name values(length: 3) { values } } }
        snapshotsConnection(last: 3) { totalCount edges { node {
          epoch layers { tensors { name slice(ranges: [{start: 0, stop: 1}]) { values } } }
        } } }
        snapshots(last: 3) { epoch }
      } }
    }
  }
}
"""


class CommandCounter(monitoring.CommandListener):
    """A pymongo command listener that names every command sent to the server."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event) -> None:
        self.commands.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


def commands_of_deep_query(store, learners: int, calls: list[str]) -> list[str]:
    """Seed `learners` learners of 3 epochs each, run DEEP_QUERY, return what it sent."""
    experiment = new_experiment(store)
    for number in range(learners):
        learner = new_learner(store, experiment, number)
        for epoch in range(3):
            weights = np.full((2, 3), number * 10 + epoch, np.float32)
            write_snapshot(store, learner, epoch, loss=1.0 + number, weights=weights)
        finish(store, learner, loss=1.0 + number)
    calls.clear()
    with TestClient(create_app(store)) as client:
        body = graphql(client, DEEP_QUERY, id=experiment.id)
    assert "errors" not in body, body["errors"]
    edges = body["data"]["experiment"]["learnersConnection"]["edges"]
    assert len(edges) == learners
    snapshots = edges[-1]["node"]["snapshotsConnection"]["edges"]
    assert [edge["node"]["epoch"] for edge in snapshots] == [0, 1, 2]
    assert (
        snapshots[2]["node"]["layers"][0]["tensors"][0]["slice"]["values"]
        == [(learners - 1) * 10 + 2.0] * 3
    )
    return sorted(calls)


def test_deep_query_sends_as_many_commands_for_50_learners_as_for_5(tmp_path, over_the_wire):
    if over_the_wire:
        from conftest import TEST_URI
        from pymongo import MongoClient

        from pol.store import Store

        counter = CommandCounter()
        client = MongoClient(TEST_URI, tz_aware=True, event_listeners=[counter])
        names = [f"pol_test_commands_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        try:
            sent = []
            for name, learners in zip(names, (5, 50)):
                store = Store(client[name])
                store.ensure_indexes()
                sent.append(commands_of_deep_query(store, learners, counter.commands))
        finally:
            for name in names:
                client.drop_database(name)
            client.close()
    else:
        from pol.store import connect

        sent = []
        for learners in (5, 50):
            with connect(data_dir=tmp_path / str(learners)) as store:
                reads: list[str] = []
                for name in COLLECTIONS:
                    setattr(store, name, CountingCollection(getattr(store, name), reads))
                sent.append(commands_of_deep_query(store, learners, reads))

    five, fifty = sent
    assert five == fifty
    if not over_the_wire:
        # The experiment; the learners' page and count; their forks; one aggregate for the
        # snapshots' page of every learner and one for their count; the last 3 snapshots
        # of every learner by the ids their learners keep; tensor chunks at two depths.
        # A parent is read only for a fork.
        assert five == [
            "experiments.find",
            "learners.aggregate",
            "learners.aggregate",
            "learners.find",
            "snapshots.aggregate",
            "snapshots.aggregate",
            "snapshots.find",
            "tensor_chunks.find",
            "tensor_chunks.find",
        ]


LIFECYCLE = """
mutation Pause($id: ID!) { pauseLearner(id: $id) { status } }
mutation Resume($id: ID!) { resumeLearner(id: $id) { status } }
mutation Cancel($id: ID!) { cancelLearner(id: $id) { status finishedAt } }
mutation RollBack($id: ID!, $epoch: Int!) {
  rollBackLearner(id: $id, epoch: $epoch) { status generation epochs }
}
mutation Fork($id: ID!, $epoch: Int!, $overrides: ForkOverridesInput) {
  forkLearner(id: $id, epoch: $epoch, hyperParameters: $overrides) {
    id status parentEpoch parent { id } hyperParameters { alpha patience hpOptMethod }
  }
}
query Lineage($id: ID!) {
  learner(id: $id) {
    forks { id parentEpoch }
    snapshots { epoch generation superseded }
    history: snapshots(superseded: true) { epoch generation superseded }
  }
}
"""


def operation(client, name: str, **variables) -> dict:
    response = client.post(
        "/graphql", json={"query": LIFECYCLE, "operationName": name, "variables": variables}
    )
    assert response.status_code == 200, response.text
    return strict_json(response.text)


def test_roll_back_and_fork_through_graphql(client, store, experiment):
    learner = store.learners_of(experiment.id)[0]

    rolled = operation(client, "RollBack", id=learner.id, epoch=0)["data"]["rollBackLearner"]
    forked = operation(
        client, "Fork", id=learner.id, epoch=0, overrides={"alpha": 0.005, "patience": 9}
    )["data"]["forkLearner"]
    lineage = operation(client, "Lineage", id=learner.id)["data"]["learner"]

    assert rolled == {"status": "QUEUED", "generation": 1, "epochs": 1}
    assert forked["status"] == "QUEUED" and forked["parentEpoch"] == 0
    assert forked["parent"] == {"id": learner.id}
    assert forked["hyperParameters"] == {"alpha": 0.005, "patience": 9, "hpOptMethod": "FORK"}
    assert lineage["forks"] == [{"id": forked["id"], "parentEpoch": 0}]
    assert lineage["snapshots"] == [{"epoch": 0, "generation": 0, "superseded": False}]
    assert lineage["history"] == [
        {"epoch": 0, "generation": 0, "superseded": False},
        {"epoch": 1, "generation": 0, "superseded": True},
    ]


def test_cancel_a_queued_learner_through_graphql(client, store, experiment):
    queued = store.learners_of(experiment.id, status="queued")[0]

    cancelled = operation(client, "Cancel", id=queued.id)["data"]["cancelLearner"]

    assert cancelled["status"] == "CANCELLED" and cancelled["finishedAt"] is not None


@pytest.mark.parametrize(
    ("name", "variables", "code", "message"),
    [
        ("Pause", {}, "INVALID_STATE", "is queued; pause needs a running learner"),
        ("Resume", {"done": True}, "INVALID_STATE", "is completed; resume needs a paused"),
        ("RollBack", {"done": True, "epoch": 5}, "NOT_FOUND", "at epoch 5 does not exist"),
        ("Fork", {"done": True, "epoch": 7}, "NOT_FOUND", "at epoch 7 does not exist"),
        (
            "Fork",
            {"done": True, "epoch": 0, "overrides": {"patience": 0}},
            "BAD_USER_INPUT",
            "patience",
        ),
        ("RollBack", {"epoch": -1}, "BAD_USER_INPUT", "epoch: got -1"),
        ("Pause", {"id": "nope"}, "INVALID_ID", "id: got 'nope'"),
    ],
)
def test_invalid_lifecycle_requests_change_nothing(
    client, store, experiment, name, variables, code, message
):
    done = store.learners_of(experiment.id, status="completed")[0]
    queued = store.learners_of(experiment.id, status="queued")[0]
    variables = dict(variables)
    learner_id = variables.pop("id", done.id if variables.pop("done", False) else queued.id)
    before = counts(store), [item.to_document() for item in store.learners_of(experiment.id)]

    body = operation(client, name, id=learner_id, **variables)

    error = body["errors"][0]
    assert error["extensions"]["code"] == code
    assert message in error["message"]
    assert (counts(store), [item.to_document() for item in store.learners_of(experiment.id)]) == (
        before
    )


def test_a_document_of_several_operations_must_name_the_one_to_run(client, store):
    query = (
        'mutation B { createExperiment(input: {name: "two", dataset: "wine", searchSpace: '
        '[{name: "alpha", kind: FLOAT, low: 0.001, high: 0.5}]}) { id } } '
        "query A { experiments { id } }"
    )
    before = counts(store)

    refused = client.post("/graphql", json={"query": query})
    named = client.post("/graphql", json={"query": query, "operationName": "A"})

    assert refused.status_code == 400
    error = strict_json(refused.text)["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "operationName: got none; allowed: one of B, A" in error["message"]
    assert strict_json(named.text)["data"] == {"experiments": []}
    assert counts(store) == before


@pytest.mark.parametrize(("name", "allowed"), [("\ud800", "whole Unicode"), ("a\x00b", "NUL")])
def test_names_mongodb_cannot_store_are_refused(client, store, name, allowed):
    mutation = """
    mutation Create($name: String!) {
      createExperiment(input: {name: $name, dataset: "wine",
                               searchSpace: [{name: "alpha", kind: FLOAT, low: 0.001, high: 0.5}]}) {
        id
      }
    }
    """
    body = json.dumps({"query": mutation, "variables": {"name": name}})

    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})

    error = strict_json(response.text)["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
    assert allowed in error["message"]
    assert store.experiments.count_documents({}) == 0


def test_tensor_values_are_capped_per_request(client, experiment, monkeypatch):
    import pol.resolvers.context

    monkeypatch.setattr(pol.resolvers.context, "VALUES_BYTES_PER_REQUEST", 50)
    query = """
    query Values($id: ID!) {
      experiment(id: $id) {
        learners(limit: 1) { snapshots { layers { tensors { name values { values } } } } }
      }
    }
    """

    body = graphql(client, query, id=experiment.id)

    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "values"}
    assert "at most 50 bytes of tensor values per request" in error["message"]
