"""Live progress over WebSocket (graphql-transport-ws) from a real `pol serve` as it trains."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from graphql import parse, validate
from starlette.testclient import TestClient
from test_serve import post, serving
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from pol.app import create_app
from pol.resolvers import live
from pol.schema import schema

CREATE = """
mutation Create($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }
"""
START = """
mutation Start($id: ID!) { startTrials(experimentId: $id, count: 1) { id status } }
"""
EVENT = """
  __typename
  ... on SnapshotProgress {
    learnerId epoch batch generation updates elapsed
    trainLoss trainAccuracy validLoss validAccuracy nonFinite { field value }
  }
  ... on StatusChange { learnerId previousStatus status failureReason stopReason }
"""
EXPERIMENT_PROGRESS = f"""
subscription Progress($id: ID!) {{ experimentProgress(experimentId: $id) {{ {EVENT} }} }}
"""
LEARNER_PROGRESS = f"""
subscription Progress($id: ID!, $since: DateTime) {{
  learnerProgress(learnerId: $id, since: $since) {{ {EVENT} }}
}}
"""
FINISHED = {"COMPLETED", "STOPPED_EARLY"}
SPACE = [
    {"name": "max_epochs", "kind": "CATEGORICAL", "choices": [3]},
    {"name": "patience", "kind": "CATEGORICAL", "choices": [10]},
    {"name": "hidden_nodes", "kind": "CATEGORICAL", "choices": [8]},
]


@pytest.fixture(scope="module")
def server():
    """Run `pol serve --workers 1`; yield its GraphQL URL."""
    with (
        tempfile.TemporaryDirectory(prefix="pol-live-") as directory,
        serving(Path(directory), "--workers", "1") as url,
    ):
        yield url


@contextlib.contextmanager
def open_socket(url: str, **init_payload: str) -> Iterator[ClientConnection]:
    """Yield a WebSocket to `url` past graphql-transport-ws's connection_init and ack."""
    with connect(url.replace("http", "ws", 1), subprotocols=["graphql-transport-ws"]) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        yield socket


def subscribe(socket: ClientConnection, number: str, query: str, **variables) -> None:
    message = {"id": number, "type": "subscribe", "payload": {"query": query}}
    message["payload"]["variables"] = variables
    socket.send(json.dumps(message))


def live_polls(url: str) -> int:
    return httpx.get(url.replace("/graphql", "/healthz"), timeout=5).json()["livePolls"]


def wait_for_polls(url: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while live_polls(url) != count:
        assert time.monotonic() < deadline, f"live polls stayed at {live_polls(url)}, not {count}"
        time.sleep(0.1)


def events_until_finished(socket: ClientConnection, number: str) -> list[dict]:
    """Return the events of subscription `number` up to a status change that ends training."""
    events = []
    while not events or events[-1].get("status") not in FINISHED:
        message = json.loads(socket.recv(timeout=60))
        assert message == {**message, "id": number, "type": "next"}, message
        assert "errors" not in message["payload"], message
        events.append(next(iter(message["payload"]["data"].values())))
    return events


def test_an_experiment_streams_its_snapshots_and_status_changes(server):
    experiment = post(
        server, CREATE, input={"name": "live wine", "dataset": "wine", "searchSpace": SPACE}
    )["createExperiment"]
    with open_socket(server) as socket:
        subscribe(socket, "1", EXPERIMENT_PROGRESS, id=experiment["id"])
        wait_for_polls(server, 1)  # the subscription has read its starting point
        learner = post(server, START, id=experiment["id"])["startTrials"][0]
        events = events_until_finished(socket, "1")

        changes = [event for event in events if event["__typename"] == "StatusChange"]
        snapshots = [event for event in events if event["__typename"] == "SnapshotProgress"]
        assert [(change["previousStatus"], change["status"]) for change in changes[:2]] == [
            (None, "QUEUED"),
            ("QUEUED", "RUNNING"),
        ]
        assert changes[-1]["previousStatus"] == "RUNNING" and len(changes) == 3
        assert changes[-1]["status"] == "COMPLETED"
        assert changes[-1]["failureReason"] is None
        assert changes[-1]["stopReason"] == "reached max_epochs (3)"
        assert {event["learnerId"] for event in events} == {learner["id"]}
        # Every epoch in order, between RUNNING and the end, with finite metrics.
        assert [snapshot["epoch"] for snapshot in snapshots] == [0, 1, 2]
        assert events.index(changes[1]) < events.index(snapshots[0])
        assert events[-1] == changes[-1]
        updates = [int(snapshot["updates"]) for snapshot in snapshots]
        assert updates == sorted(updates) and updates[0] > 0
        for snapshot in snapshots:
            assert snapshot["batch"] is None and snapshot["generation"] == 0
            assert 0 < snapshot["validLoss"] and 0 <= snapshot["validAccuracy"] <= 1
            assert 0 < snapshot["trainLoss"] and snapshot["nonFinite"] == []
            assert snapshot["elapsed"] > 0
        assert live_polls(server) == 1

        # The client completes the subscription: its poll ends, the socket stays open.
        socket.send(json.dumps({"id": "1", "type": "complete"}))
        wait_for_polls(server, 0)
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}


def test_a_disconnecting_client_frees_its_polls(server):
    experiment = post(
        server, CREATE, input={"name": "left alone", "dataset": "wine", "searchSpace": SPACE}
    )["createExperiment"]
    with open_socket(server) as socket:
        subscribe(socket, "1", EXPERIMENT_PROGRESS, id=experiment["id"])
        subscribe(socket, "2", EXPERIMENT_PROGRESS, id=experiment["id"])
        wait_for_polls(server, 2)

    # The client has gone without completing either subscription.
    wait_for_polls(server, 0)


def test_a_learner_replays_its_snapshots_since_a_time(server):
    since = dt.datetime.now(dt.UTC).isoformat()
    experiment = post(
        server, CREATE, input={"name": "replayed", "dataset": "wine", "searchSpace": SPACE}
    )["createExperiment"]
    learner = post(server, START, id=experiment["id"])["startTrials"][0]
    with open_socket(server) as socket:
        subscribe(socket, "live", LEARNER_PROGRESS, id=learner["id"], since=since)
        events = events_until_finished(socket, "live")
    # Whenever the subscription started, it reports every snapshot once, in order.
    snapshots = [event for event in events if event["__typename"] == "SnapshotProgress"]
    assert [snapshot["epoch"] for snapshot in snapshots] == [0, 1, 2]
    assert events[0] == {**events[0], "previousStatus": None, "status": "QUEUED"}


@pytest.mark.parametrize(
    ("learner_id", "code"), [("not-an-id", "INVALID_ID"), ("0" * 24, "NOT_FOUND")]
)
def test_bad_ids_are_refused_before_any_poll_starts(server, learner_id, code):
    with open_socket(server) as socket:
        subscribe(socket, "1", LEARNER_PROGRESS, id=learner_id)
        message = json.loads(socket.recv(timeout=10))
        assert message["type"] == "error" and message["id"] == "1"
        (error,) = message["payload"]
        assert error["extensions"] == {"code": code, "field": "learnerId"}
        assert learner_id in error["message"]
    assert live_polls(server) == 0


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"a string"',
        '{"type": 7}',
        '{"id": "1", "type": "subscribe", "payload": "garbage"}',
        '{"id": "1", "type": "subscribe", "payload": {"query": 5}}',
        '{"id": 1, "type": "subscribe", "payload": {"query": "subscription { x }"}}',
        "[" * 10_000 + "]" * 10_000,
        b"\x00\xff binary",
    ],
    ids=range(9),
)
def test_garbage_frames_close_the_socket_and_the_server_goes_on(server, frame):
    with open_socket(server) as socket:
        socket.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert post(server, "{ experiments { id } }")["experiments"] is not None


def test_an_internal_error_in_a_subscription_is_masked(store, monkeypatch, caplog):
    def broken(poll):
        raise RuntimeError("secret detail of the store")

    monkeypatch.setattr(live, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(live.ProgressPoll, "read", broken)
    with TestClient(create_app(store)) as client:
        created = client.post(
            "/graphql",
            json={
                "query": CREATE,
                "variables": {"input": {"name": "masked", "dataset": "wine", "searchSpace": SPACE}},
            },
        ).json()["data"]["createExperiment"]
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": EXPERIMENT_PROGRESS, "variables": {"id": created["id"]}},
                }
            )
            message = ws.receive_json()
            assert ws.receive_json() == {"id": "1", "type": "complete"}
    (error,) = message["payload"]["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in json.dumps(message)
    assert "secret detail of the store" in caplog.text
    assert live.active_polls() == 0


def test_the_readmes_subscription_is_valid():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (example,) = re.findall(r"```text\n(subscription .*?)```", readme, flags=re.DOTALL)
    assert validate(schema._schema, parse(example)) == []
