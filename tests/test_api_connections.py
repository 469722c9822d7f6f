"""Cursor connections over experiments, learners and snapshots, with learner filters and orders."""

from __future__ import annotations

import math

import pytest
from starlette.testclient import TestClient
from test_api import (
    counts,
    finish,
    graphql,
    new_experiment,
    new_learner,
    write_snapshot,
)

from pol.app import create_app
from pol.model import LearnerPerformance, Performance


@pytest.fixture
def client(store) -> TestClient:
    with TestClient(create_app(store)) as client:
        yield client


LEARNERS = """
query Learners($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
               $filter: LearnerFilter, $orderBy: [LearnerOrder!]) {
  experiment(id: $id) {
    learnersConnection(first: $first, after: $after, last: $last, before: $before,
                       filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { configuration } }
    }
  }
}
"""


def learners_page(client, experiment_id, **arguments) -> dict:
    body = graphql(client, LEARNERS, id=experiment_id, **arguments)
    assert "errors" not in body, body["errors"]
    return body["data"]["experiment"]["learnersConnection"]


def configurations(page: dict) -> list[int]:
    return [edge["node"]["configuration"] for edge in page["edges"]]


def set_valid(store, learner, **metrics) -> None:
    """Give a learner its latest validation metrics, as a snapshot would."""
    performance = LearnerPerformance(valid=Performance("valid", **metrics))
    store.learners.update_one(
        {"_id": store.learners.find_one({"configuration": learner.configuration})["_id"]},
        {"$set": {"performance": performance.to_document()}},
    )


@pytest.fixture
def search(store):
    """An experiment of 7 learners: configuration n has alpha 0.01 (n + 1) and loss 7 - n."""
    experiment = new_experiment(store)
    for number in range(7):
        learner = new_learner(
            store,
            experiment,
            number,
            alpha=0.01 * (number + 1),
            batch_size=16 if number % 2 else 32,
            activation="tanh" if number < 3 else "relu",
        )
        set_valid(store, learner, loss=7.0 - number, accuracy=0.1 * number)
    return experiment


def test_learners_page_forward_by_cursor(client, search):
    first = learners_page(client, search.id, first=3)
    second = learners_page(client, search.id, first=3, after=first["pageInfo"]["endCursor"])
    third = learners_page(client, search.id, first=3, after=second["pageInfo"]["endCursor"])

    assert configurations(first) == [0, 1, 2]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert configurations(second) == [3, 4, 5]
    assert configurations(third) == [6]
    assert third["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": third["edges"][0]["cursor"],
        "endCursor": third["edges"][0]["cursor"],
    }
    assert first["totalCount"] == second["totalCount"] == 7


def test_learners_page_backward_by_cursor(client, search):
    last = learners_page(client, search.id, last=3)
    before = learners_page(client, search.id, last=3, before=last["pageInfo"]["startCursor"])

    assert configurations(last) == [4, 5, 6]
    assert last["pageInfo"]["hasPreviousPage"] and not last["pageInfo"]["hasNextPage"]
    assert configurations(before) == [1, 2, 3]
    assert before["pageInfo"]["hasNextPage"] and before["pageInfo"]["hasPreviousPage"]


def test_cursors_are_stable_under_inserts(client, store, search):
    first = learners_page(client, search.id, first=2, orderBy=[{"metric": "LOSS"}])
    # A new best learner sorts before the cursor; the next page does not shift because of it.
    newcomer = new_learner(store, search, 100)
    set_valid(store, newcomer, loss=0.5, accuracy=0.9)

    second = learners_page(
        client,
        search.id,
        first=2,
        after=first["pageInfo"]["endCursor"],
        orderBy=[{"metric": "LOSS"}],
    )

    assert configurations(first) == [6, 5]
    assert configurations(second) == [4, 3]
    assert second["totalCount"] == 8


def test_default_and_maximum_page_size(client, store):
    experiment = new_experiment(store)
    for number in range(105):
        new_learner(store, experiment, number)

    default = learners_page(client, experiment.id)
    largest = learners_page(client, experiment.id, first=100)
    too_large = graphql(client, LEARNERS, id=experiment.id, first=101)
    too_large_last = graphql(client, LEARNERS, id=experiment.id, last=500)

    assert configurations(default) == list(range(20)) and default["pageInfo"]["hasNextPage"]
    assert len(largest["edges"]) == 100 and largest["totalCount"] == 105
    for body, field, value in ((too_large, "first", 101), (too_large_last, "last", 500)):
        (error,) = body["errors"]
        assert body["data"]["experiment"]["learnersConnection"] is None
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
        assert f"{field}: got {value}; allowed: an integer 0 .. 100" in error["message"]


@pytest.mark.parametrize(
    ("arguments", "field", "allowed"),
    [
        ({"after": "not a cursor"}, "after", "a cursor from this list's edges"),
        ({"last": 2, "before": "AAAA"}, "before", "a cursor from this list's edges"),
        ({"first": 2, "last": 2}, "last", "first or last, not both"),
        (
            {"first": 2, "before": None, "last": None, "after": None, "orderBy": []},
            "orderBy",
            "1 .. 4 terms",
        ),
    ],
)
def test_bad_page_arguments_are_refused(client, search, arguments, field, allowed):
    body = graphql(client, LEARNERS, id=search.id, **arguments)

    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert allowed in error["message"]


def test_a_cursor_of_another_order_is_refused(client, search):
    by_loss = learners_page(client, search.id, first=2, orderBy=[{"metric": "LOSS"}])

    body = graphql(client, LEARNERS, id=search.id, first=2, after=by_loss["pageInfo"]["endCursor"])

    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


def test_filters_by_hyper_parameter_metric_and_status(client, search):
    ranged = learners_page(
        client,
        search.id,
        filter={"hyperParameter": [{"name": "alpha", "gte": 0.02, "lt": 0.05}]},
    )
    chosen = learners_page(
        client,
        search.id,
        filter={
            "hyperParameter": [{"name": "activation", "eq": "relu"}],
            "metric": [{"metric": "LOSS", "split": "VALID", "lte": 3.0}],
        },
    )
    either = learners_page(
        client,
        search.id,
        filter={
            "or": [
                {"hyperParameter": [{"name": "batch_size", "in": [16]}]},
                {"metric": [{"metric": "ACCURACY", "gt": 0.55}]},
            ]
        },
    )
    queued = learners_page(client, search.id, filter={"status": {"in": ["QUEUED", "RUNNING"]}})
    done = learners_page(client, search.id, filter={"status": {"eq": "COMPLETED"}})

    assert configurations(ranged) == [1, 2, 3] and ranged["totalCount"] == 3
    assert configurations(chosen) == [4, 5, 6]
    assert configurations(either) == [1, 3, 5, 6]
    assert queued["totalCount"] == 7 and done["totalCount"] == 0 and done["edges"] == []


def test_order_by_metric_then_hyper_parameter_ties_by_id(client, store, search):
    by_accuracy = learners_page(client, search.id, orderBy=[{"metric": "ACCURACY"}])
    by_batch_then_alpha = learners_page(
        client,
        search.id,
        orderBy=[
            {"hyperParameter": "batch_size", "direction": "DESC"},
            {"hyperParameter": "alpha", "direction": "ASC"},
        ],
    )
    by_activation = learners_page(client, search.id, orderBy=[{"hyperParameter": "activation"}])

    assert configurations(by_accuracy) == [6, 5, 4, 3, 2, 1, 0]  # best (highest) first
    assert configurations(by_batch_then_alpha) == [0, 2, 4, 6, 1, 3, 5]
    assert configurations(by_activation) == [3, 4, 5, 6, 0, 1, 2]  # relu, then tanh, by id


def test_learners_without_a_finite_metric_come_last_and_match_no_range(
    client, store, search, over_the_wire
):
    if over_the_wire:
        pytest.skip("the wire-protocol server cannot store NaN")
    nan = new_learner(store, search, 7)
    set_valid(store, nan, loss=math.nan)
    missing = new_learner(store, search, 8)  # queued: no performance yet

    ascending = learners_page(client, search.id, orderBy=[{"metric": "LOSS", "direction": "ASC"}])
    descending = learners_page(client, search.id, orderBy=[{"metric": "LOSS", "direction": "DESC"}])
    in_range = learners_page(
        client, search.id, filter={"metric": [{"metric": "LOSS", "gte": -1e9}]}
    )
    pages = [learners_page(client, search.id, first=4, orderBy=[{"metric": "LOSS"}])]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        after = pages[-1]["pageInfo"]["endCursor"]
        pages.append(
            learners_page(client, search.id, first=4, after=after, orderBy=[{"metric": "LOSS"}])
        )

    assert configurations(ascending) == [6, 5, 4, 3, 2, 1, 0, 7, 8]
    assert configurations(descending) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert configurations(in_range) == [0, 1, 2, 3, 4, 5, 6]
    assert [configurations(page) for page in pages] == [[6, 5, 4, 3], [2, 1, 0, 7], [8]]
    assert missing.id and nan.id


@pytest.mark.parametrize(
    ("learner_filter", "field", "allowed"),
    [
        ({}, "filter", "at least one of status, hyperParameter, metric, and, or"),
        (
            {"hyperParameter": [{"name": "learning_rate", "gt": 0.1}]},
            "filter.hyperParameter[0].name",
            "one of alpha, lambda, dropout",
        ),
        (
            {"hyperParameter": [{"name": "alpha", "eq": 0.1, "gt": 0.01}]},
            "filter.hyperParameter[0]",
            "one of eq, in, or a range",
        ),
        ({"hyperParameter": [{"name": "alpha"}]}, "filter.hyperParameter[0]", "one of eq, in, gte"),
        (
            {"hyperParameter": [{"name": "activation", "eq": "softsign"}]},
            "filter.hyperParameter[0].eq",
            "one of relu, logistic, tanh",
        ),
        (
            {"hyperParameter": [{"name": "activation", "gte": 1}]},
            "filter.hyperParameter[0].name",
            "a numeric hyper-parameter for a range",
        ),
        (
            {"hyperParameter": [{"name": "batch_size", "eq": "big"}]},
            "filter.hyperParameter[0].eq",
            "a finite number",
        ),
        (
            {"metric": [{"metric": "LOSS", "gte": 0.5, "lte": 0.2}]},
            "filter.metric[0].lte",
            "a bound that leaves a non-empty range with gte 0.5",
        ),
        (
            {"metric": [{"metric": "LOSS", "gt": 0.5, "gte": 0.2}]},
            "filter.metric[0].gt",
            "gte or gt, not both",
        ),
        ({"metric": [{"metric": "LOSS"}]}, "filter.metric[0]", "at least one of gte, lte"),
        ({"status": {"eq": "QUEUED", "in": ["RUNNING"]}}, "filter.status", "exactly one of eq, in"),
        ({"or": []}, "filter.or", "a non-empty list"),
        (
            {"and": [{"metric": [{"metric": "F1", "lt": 0.1, "gt": 0.1}]}]},
            "filter.and[0].metric[0].lt",
            "a non-empty range",
        ),
    ],
)
def test_invalid_filters_are_refused_and_write_nothing(
    client, store, search, learner_filter, field, allowed
):
    before = counts(store)

    body = graphql(client, LEARNERS, id=search.id, filter=learner_filter)

    (error,) = body["errors"]
    assert body["data"] == {"experiment": {"learnersConnection": None}}
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert allowed in error["message"]
    assert counts(store) == before


@pytest.mark.parametrize(
    ("order", "field", "allowed"),
    [
        ([{"split": "TEST"}], "orderBy[0]", "exactly one of metric, hyperParameter"),
        ([{"metric": "LOSS", "hyperParameter": "alpha"}], "orderBy[0]", "exactly one of"),
        ([{"hyperParameter": "hidden_nodes"}], "orderBy[0].hyperParameter", "one of alpha, lambda"),
    ],
)
def test_invalid_orders_are_refused(client, search, order, field, allowed):
    body = graphql(client, LEARNERS, id=search.id, orderBy=order)

    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert allowed in error["message"]


EXPERIMENTS = """
query Experiments($first: Int, $after: String) {
  experimentsConnection(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name }
  }
}
"""


def test_experiments_page_newest_first(client, store):
    experiments = [new_experiment(store) for _ in range(3)]

    first = graphql(client, EXPERIMENTS, first=2)["data"]["experimentsConnection"]
    rest = graphql(client, EXPERIMENTS, first=2, after=first["pageInfo"]["endCursor"])

    ids = [experiment.id for experiment in reversed(experiments)]
    assert [node["id"] for node in first["nodes"]] == ids[:2] and first["totalCount"] == 3
    assert [node["id"] for node in rest["data"]["experimentsConnection"]["nodes"]] == ids[2:]
    assert first["pageInfo"]["hasNextPage"]


SNAPSHOTS = """
query Snapshots($id: ID!, $first: Int, $after: String, $last: Int) {
  learner(id: $id) {
    snapshotsConnection(first: $first, after: $after, last: $last) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { node { epoch updates } }
    }
  }
}
"""


def test_snapshots_page_in_training_order(client, store):
    experiment = new_experiment(store)
    learner = new_learner(store, experiment, 0)
    for epoch in range(5):
        write_snapshot(store, learner, epoch, loss=1.0 / (epoch + 1))
    finish(store, learner, loss=0.2, best_epoch=4)

    first = graphql(client, SNAPSHOTS, id=learner.id, first=2)["data"]["learner"]
    after = first["snapshotsConnection"]["pageInfo"]["endCursor"]
    second = graphql(client, SNAPSHOTS, id=learner.id, first=2, after=after)["data"]["learner"]
    last = graphql(client, SNAPSHOTS, id=learner.id, last=2)["data"]["learner"]

    def epochs(read):
        return [edge["node"]["epoch"] for edge in read["snapshotsConnection"]["edges"]]

    assert epochs(first) == [0, 1] and first["snapshotsConnection"]["totalCount"] == 5
    assert epochs(second) == [2, 3]
    assert epochs(last) == [3, 4]
    assert last["snapshotsConnection"]["pageInfo"]["hasPreviousPage"] is True
