"""A token guards writes: mutations and subscriptions need it, queries do not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from pol.app import create_app
from pol.cli import _loopback

TOKEN = "a-long-shared-secret"
CREATE = """
mutation Create($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }
"""
INPUT = {
    "name": "guarded",
    "dataset": "wine",
    "searchSpace": [{"name": "max_epochs", "kind": "CATEGORICAL", "choices": [1]}],
}
PROGRESS = """
subscription Progress($id: ID!) { learnerProgress(learnerId: $id) { __typename } }
"""


@pytest.fixture
def client(store):
    with TestClient(create_app(store, token=TOKEN)) as client:
        yield client


def create(client: TestClient, **headers: str):
    return client.post(
        "/graphql", json={"query": CREATE, "variables": {"input": INPUT}}, headers=headers
    )


def test_queries_need_no_token(client):
    response = client.post("/graphql", json={"query": "{ experiments { id } }"})
    assert response.status_code == 200 and response.json() == {"data": {"experiments": []}}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", TOKEN, f"Bearer {TOKEN}x"]
)
def test_a_mutation_without_the_token_is_refused_and_writes_nothing(client, store, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = create(client, **headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="pol"'
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert "Authorization: Bearer <token>" in error["message"]
    assert store.experiments.count_documents({}) == 0


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_a_mutation_with_the_token_runs(client, store, scheme):
    response = create(client, Authorization=f"{scheme} {TOKEN}")

    assert response.status_code == 200 and "errors" not in response.json()
    assert store.experiments.count_documents({}) == 1


def test_without_a_configured_token_mutations_are_open(store):
    with TestClient(create_app(store)) as client:
        assert "errors" not in create(client).json()


def subscription_answer(client: TestClient, init_payload: dict, **headers: str) -> dict:
    """Return the first answer to a learner subscription for an unknown learner."""
    with client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"], headers=headers
    ) as socket:
        socket.send_json({"type": "connection_init", "payload": init_payload})
        assert socket.receive_json()["type"] == "connection_ack"
        socket.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": PROGRESS, "variables": {"id": "0" * 24}},
            }
        )
        return socket.receive_json()


def test_a_subscription_without_the_token_is_refused(client):
    for payload in ({}, {"Authorization": "Bearer wrong"}):
        answer = subscription_answer(client, payload)
        assert answer["type"] == "error"
        assert answer["payload"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


@pytest.mark.parametrize(
    ("payload", "headers"),
    [
        ({"Authorization": f"Bearer {TOKEN}"}, {}),
        ({"authorization": f"Bearer {TOKEN}"}, {}),
        ({}, {"Authorization": f"Bearer {TOKEN}"}),
    ],
)
def test_a_subscription_with_the_token_gets_past_the_guard(client, payload, headers):
    # The unknown learner's NOT_FOUND shows that the request reached the resolver.
    answer = subscription_answer(client, payload, **headers)
    assert answer["type"] == "error"
    assert answer["payload"][0]["extensions"] == {"code": "NOT_FOUND", "field": "learnerId"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "pol.example.org"])
def test_serve_refuses_a_non_loopback_address_without_a_token(tmp_path, host):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pol.cli",
            "serve",
            "--host",
            host,
            "--workers",
            "0",
            "--data-dir",
            str(tmp_path / "pol-data"),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env={**os.environ, "POL_API_TOKEN": "", "POL_MONGODB_URI": ""},
    )

    assert result.returncode == 2
    assert f"refusing to listen on {host} without a token" in result.stderr
    assert "--token" in result.stderr
    assert not (tmp_path / "pol-data").exists()  # nothing started, not even the store


def test_loopback_addresses():
    assert all(map(_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1"]))
    assert not any(map(_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.org", ""]))
