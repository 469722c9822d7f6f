"""Latency of a nested GraphQL query at the paper's scale, and requests per second.

Fills a store with the paper's scale (180 learners, 39,960 epoch snapshots with layer
metadata; see bench_analytics.py), starts a real `pol serve --workers 0` on a free loopback
port, and measures over HTTP:

- the nested query experiment -> N learners -> hyper-parameters -> last 3 snapshots ->
  layers -> tensors (metadata and statistics), for N = 5, 50 and 180: median and 95th
  percentile latency;
- requests per second of a simple query (one learner's status) with 20 concurrent clients.

Run: python bench/bench_api.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from bench_analytics import fill_paper_scale

from pol.store import connect

NESTED = """
query Nested($id: ID!, $limit: Int!) {
  experiment(id: $id) {
    name
    learners(limit: $limit) {
      id status seed
      hyperParameters { alpha hiddenNodes batchSize activation maxUpdates truncateGradient }
      snapshots(last: 3) {
        epoch updates
        performance { valid { loss mse } }
        layers { configuration { label } tensors { name shape checksum stats { mean std } } }
      }
    }
  }
}
"""
SIMPLE = "query One($id: ID!) { learner(id: $id) { id status epochs } }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def latencies(url: str, variables: dict, requests: int) -> list[float]:
    """Return the seconds each of `requests` sequential nested queries took."""
    seconds = []
    async with httpx.AsyncClient(timeout=120) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.post(url, json={"query": NESTED, "variables": variables})
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200 and "errors" not in response.json()
    return seconds


async def throughput(url: str, learner_id: str, clients: int, seconds: float) -> float:
    """Return requests per second of SIMPLE with `clients` concurrent clients."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            response = await client.post(
                url, json={"query": SIMPLE, "variables": {"id": learner_id}}
            )
            assert response.status_code == 200
            done += 1

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as c:
        started = time.perf_counter()
        await asyncio.gather(*[client_loop(c) for _ in range(clients)])
        return done / (time.perf_counter() - started)


def main() -> None:
    """Fill the store, serve it, and print latencies and throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="nested queries per size")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        store = connect(data_dir=data_dir)
        experiment_id = fill_paper_scale(store.database, 180, 222)
        learner_id = str(store.learners.find_one({})["_id"])
        store.close()

        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pol.cli",
                "serve",
                "--workers",
                "0",
                "--port",
                str(port),
                "--data-dir",
                data_dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "POL_MONGODB_URI": ""},
        )
        url = f"http://127.0.0.1:{port}/graphql"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            print("paper-scale store: 180 learners, 39,960 snapshots; embedded engine")
            for count in (5, 50, 180):
                variables = {"id": experiment_id, "limit": count}
                seconds = asyncio.run(latencies(url, variables, args.requests))
                print(
                    f"nested query, {count:>3} learners: median "
                    f"{statistics.median(seconds) * 1000:7.1f} ms, 95th percentile "
                    f"{percentile(seconds, 0.95) * 1000:7.1f} ms ({args.requests} requests)"
                )
            rate = asyncio.run(throughput(url, learner_id, clients=20, seconds=10))
            print(f"simple query, 20 concurrent clients: {rate:.0f} requests/s")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
