"""`pol serve` as a user runs it: a real server process, its trial workers, a real client."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

CREATE = """
mutation Create($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }
"""
START = """
mutation Start($id: ID!) { startTrials(experimentId: $id, count: 1) { id status } }
"""
LEARNER = """
query Learner($id: ID!) { learner(id: $id) { status epochs } }
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """Start `pol serve` with one trial worker on a free port; yield its GraphQL URL."""
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pol.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--data-dir",
            str(tmp_path / "pol-data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "POL_MONGODB_URI": ""},
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("pol serve did not answer: " + (tmp_path / "serve.log").read_text())
    yield url
    process.terminate()
    process.wait(30)
    log.close()


def post(url: str, query: str, **variables) -> dict:
    response = httpx.post(url, json={"query": query, "variables": variables}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_the_api_answers_while_a_trial_trains(server):
    space = [
        {"name": "max_epochs", "kind": "CATEGORICAL", "choices": [300]},
        {"name": "patience", "kind": "CATEGORICAL", "choices": [300]},
        {"name": "max_updates", "kind": "CATEGORICAL", "choices": [1_000_000]},
        {"name": "batch_size", "kind": "CATEGORICAL", "choices": [16]},
    ]
    experiment = post(
        server,
        CREATE,
        input={"name": "long digits trial", "dataset": "digits", "searchSpace": space},
    )["createExperiment"]
    learner = post(server, START, id=experiment["id"])["startTrials"][0]
    deadline = time.monotonic() + 60
    while post(server, LEARNER, id=learner["id"])["learner"]["epochs"] < 1:
        assert time.monotonic() < deadline, "the worker never started training"
        time.sleep(0.2)

    async def burst() -> list[dict]:
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(
                *[
                    client.post(server, json={"query": LEARNER, "variables": {"id": learner["id"]}})
                    for _ in range(20)
                ]
            )
        return [response.json()["data"]["learner"] for response in responses]

    first = asyncio.run(burst())
    time.sleep(0.5)
    second = asyncio.run(burst())

    # Every answer came while the trial was still training, and training went on between
    # the two bursts: queries neither waited for the trial nor stopped it.
    assert {answer["status"] for answer in first + second} == {"RUNNING"}
    assert max(answer["epochs"] for answer in second) > min(answer["epochs"] for answer in first)
