"""`pol serve` as a user runs it: a real server process, its trial workers, a real client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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
# Every snapshot of the learner with its layers' tensor metadata: a read that grows with
# each epoch trained.
HISTORY = """
query History($id: ID!) {
  learner(id: $id) {
    status epochs
    snapshots { epoch layers { tensors { name checksum stats { mean } } } }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(directory: Path, *options: str) -> Iterator[str]:
    """Run `pol serve` with `options` on a free port; yield its GraphQL URL."""
    port = free_port()
    log = open(directory / "serve.log", "w")  # noqa: SIM115 (closed when the server stops)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pol.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(directory / "pol-data"),
            *options,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "POL_MONGODB_URI": "", "POL_API_TOKEN": ""},
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
        pytest.fail("pol serve did not answer: " + (directory / "serve.log").read_text())
    try:
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.fixture
def server(tmp_path):
    """Start `pol serve` with one trial worker on a free port; yield its GraphQL URL."""
    with serving(tmp_path, "--workers", "1") as url:
        yield url


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
        async with httpx.AsyncClient(timeout=60) as client:
            responses = await asyncio.gather(
                *[
                    client.post(
                        server,
                        json={"query": HISTORY, "variables": {"id": learner["id"]}},
                        headers={"Pol-Timing": "1"},
                    )
                    for _ in range(20)
                ]
            )
        return [response.json() for response in responses]

    first = asyncio.run(burst())
    time.sleep(0.5)
    second = asyncio.run(burst())

    # Every answer came while the trial was still training, and training went on between
    # the two bursts: queries neither waited for the trial nor stopped it.
    answers = [body["data"]["learner"] for body in first + second]
    assert {answer["status"] for answer in answers} == {"RUNNING"}
    assert max(answer["epochs"] for answer in answers[20:]) > min(
        answer["epochs"] for answer in answers[:20]
    )

    # Each request read the store in worker threads, never on the event loop, and reads of
    # different requests were under way at the same moment: they ran side by side, which
    # reads on the event loop, or one after another, could not.
    for body in first + second:
        reads = body["extensions"]["timing"]["reads"]
        assert {read["collection"] for read in reads} >= {"learners", "snapshots"}
        assert not any(read["onEventLoop"] for read in reads)
    assert most_requests_reading_at_once(first) >= 2
    assert most_requests_reading_at_once(second) >= 2


def most_requests_reading_at_once(bodies: list[dict]) -> int:
    """Return the most requests that had a store read under way at one instant."""
    moments = []
    for number, body in enumerate(bodies):
        for read in body["extensions"]["timing"]["reads"]:
            moments += [(read["start"], 1, number), (read["end"], -1, number)]
    reading: dict[int, int] = {}
    most = 0
    # At equal times ends come first: reads that only touch do not overlap.
    for _, step, number in sorted(moments, key=lambda moment: (moment[0], moment[1])):
        reading[number] = reading.get(number, 0) + step
        most = max(most, sum(1 for count in reading.values() if count > 0))
    return most


def test_sigterm_stops_the_server_and_its_workers(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pol.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--data-dir",
            str(tmp_path / "pol-data"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "POL_MONGODB_URI": ""},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    workers = children_of(process.pid)
    assert len(workers) >= 2

    process.terminate()
    process.wait(60)

    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)]


def children_of(pid: int) -> list[int]:
    """Return the ids of the processes whose parent is `pid` (from /proc)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
