"""Every GraphQL example in the README runs as written against a real, trained experiment."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pol.app import create_app
from pol.model import CategoricalBound, FloatBound, HyperParamSearchSpace, IntBound
from pol.trials import create_experiment, queue_trials
from pol.worker import StoreAddress, work

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Return (address, experiment id, a learner id) of a small trained random search."""
    address = StoreAddress(data_dir=str(tmp_path_factory.mktemp("readme") / "pol-data"))
    store = address.connect()
    space = HyperParamSearchSpace(
        {
            "alpha": FloatBound(0.01, 0.3, log=True),
            "hidden_nodes": IntBound(4, 16),
            "activation": CategoricalBound(("relu", "tanh")),
            "max_epochs": CategoricalBound((3,)),
        }
    )
    experiment = create_experiment(store, "readme", "wine", space, seed=1)
    learners = queue_trials(store, experiment.id, 4, runs=2, seed=1)
    work(address, "readme-worker", threading.Event(), exit_when_idle=True)
    store.close()
    return address, experiment.id, learners[0].id


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(
    "query", EXAMPLES, ids=[re.search(r"(query|mutation) (\w+)", q)[2] for q in EXAMPLES]
)
def test_readme_example_runs(trained, query):
    address, experiment_id, learner_id = trained
    variables = {
        name: value
        for name, value in (("experimentId", experiment_id), ("learnerId", learner_id))
        if f"${name}" in query
    }
    store = address.connect()
    with TestClient(create_app(store)) as client:
        response = client.post("/graphql", json={"query": query, "variables": variables})
    store.close()

    body = response.json()
    assert response.status_code == 200
    assert "errors" not in body, body["errors"]
    assert all(value is not None for value in body["data"].values())
