"""Limits: a document too deep, too aliased or too long is refused before it runs; a request
of any shape gets a JSON answer, never a server error."""

from __future__ import annotations

import re

import pytest
from graphql import get_introspection_query, parse
from starlette.testclient import TestClient
from test_api import NESTED_QUERY
from test_readme import EXAMPLES

from pol.app import MAX_BODY_BYTES, create_app
from pol.schema.limits import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, Shape

CREATE = """
mutation Create($input: CreateExperimentInput!) {
  createExperiment(input: $input) { id SELECTION }
}
"""
INPUT = {
    "name": "limited",
    "dataset": "wine",
    "searchSpace": [{"name": "max_epochs", "kind": "CATEGORICAL", "choices": [1]}],
}


@pytest.fixture
def client(store):
    with TestClient(create_app(store), raise_server_exceptions=False) as client:
        yield client


def depth(query: str) -> int:
    document = parse(query)

    class Context:  # what Shape reads of graphql's ValidationContext
        pass

    context = Context()
    context.document = document
    shape = Shape(context)
    return max(shape.depth(definition.selection_set) for definition in document.definitions)


def lineage(parents: int) -> str:
    """Return a learner query `parents` levels of parent deep: parents + 2 fields deep."""
    return f'{{ learner(id: "{"0" * 24}") {{ {"parent { " * parents} id {"} " * parents}}} }}'


def test_the_documented_queries_are_within_the_depth_limit():
    assert depth(NESTED_QUERY) == 7
    # A connection adds two levels to a list (edges { node }): the README's search query,
    # a connection of learners each with a connection of snapshots, is the deepest.
    assert max(depth(query) for query in EXAMPLES) <= MAX_DEPTH


def test_a_query_at_the_depth_limit_runs_one_deeper_is_refused(client):
    assert depth(lineage(MAX_DEPTH - 2)) == MAX_DEPTH
    at_limit = client.post("/graphql", json={"query": lineage(MAX_DEPTH - 2)}).json()
    too_deep = client.post("/graphql", json={"query": lineage(MAX_DEPTH - 1)}).json()

    assert at_limit["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # it ran
    (error,) = too_deep["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "field": "query"}
    assert f"more than {MAX_DEPTH} deep" in error["message"]


def test_a_refused_mutation_writes_nothing(client, store):
    selection = "learners { " * 6 + "experiment { " * 6 + "id" + " }" * 12
    query = CREATE.replace("SELECTION", selection)

    body = client.post("/graphql", json={"query": query, "variables": {"input": INPUT}}).json()

    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert store.experiments.count_documents({}) == 0


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{number}: experiments {{ id }}" for number in range(count)) + " }"


def test_aliases_up_to_the_limit_run_more_are_refused(client):
    assert client.post("/graphql", json={"query": aliases(MAX_ALIASES)}).json() == {
        "data": {f"a{number}": [] for number in range(MAX_ALIASES)}
    }
    (error,) = client.post("/graphql", json={"query": aliases(MAX_ALIASES + 1)}).json()["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "field": "query"}
    assert f"more than {MAX_ALIASES} aliases" in error["message"]


def test_aliases_in_fragments_count_at_every_spread(client):
    fragment = "fragment Ten on Query { " + aliases(10)[2:-2] + " }"
    query = "{ ...Ten ... on Query { ...Ten } ... on Query { ...Ten } } " + fragment
    (error,) = client.post("/graphql", json={"query": query}).json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_a_document_over_the_token_limit_is_refused(client):
    query = "{ " + "experiments { id } " * (MAX_TOKENS // 4) + "}"

    (error,) = client.post("/graphql", json={"query": query}).json()["errors"]

    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "field": "query"}
    assert f"more than {MAX_TOKENS} tokens" in error["message"]


def test_graphiqls_introspection_query_runs(client):
    body = client.post("/graphql", json={"query": get_introspection_query()}).json()
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_a_body_over_the_limit_is_refused_with_413(client):
    query = "{ experiments { id } }" + " " * (5 * 1024 * 1024)

    response = client.post("/graphql", json={"query": query})

    assert response.status_code == 413
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "REQUEST_TOO_LARGE"}
    assert str(MAX_BODY_BYTES) in error["message"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'[{"query": "{ experiments { id } }"}]', "application/json", 400),
        (b'"{ experiments { id } }"', "application/json", 400),
        (b"42", "application/json", 400),
        (b"null", "application/json", 400),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400),
        (b'{"query": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        (b'{"query": 5}', "application/json", 400),
        (b'{"query": "{ experiments { id } }", "variables": [1]}', "application/json", 400),
        (b'{"query": "{ experiments { id } }", "operationName": 7}', "application/json", 400),
        (b"query={ experiments { id } }", "application/x-www-form-urlencoded", 400),
        (b"{ experiments { id } }", "text/plain", 400),
        (b"--x\r\n", "multipart/form-data; boundary=x", 400),
        (b'{"query": "{ experiments { id } }"}', "", 400),
        (b'{"query": "' + b"{" * 5_000 + b'"}', "application/json", 200),
    ],
    ids=range(16),
)
def test_hostile_requests_get_a_json_answer_never_a_500(client, content, content_type, status):
    headers = {"content-type": content_type} if content_type else {}

    response = client.post("/graphql", content=content, headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] in (
        "BAD_REQUEST",
        "GRAPHQL_PARSE_FAILED",
        "QUERY_TOO_COMPLEX",
    )


def test_other_methods_get_a_json_405(client):
    response = client.put("/graphql", json={"query": "{ experiments { id } }"})
    assert response.status_code == 405
    assert re.search("GET and POST", response.json()["errors"][0]["message"])
