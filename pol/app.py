"""The web application: GraphQL at /graphql, a health check at /healthz."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from .resolvers import Context
from .schema import schema
from .store import Store

logger = logging.getLogger(__name__)


class PolGraphQL(GraphQL):
    """The GraphQL endpoint; each request gets a context with fresh data loaders."""

    def __init__(self, store: Store) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.store = store

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(store=self.store, request=request, response=response)


def create_app(store: Store) -> Starlette:
    """Return the Starlette app serving the API over `store` (GraphiQL on a browser's GET)."""

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(store.experiments.find_one, {}, {"_id": 1})
        except (PyMongoError, sqlite3.Error, OSError) as error:
            logger.warning("health check: store unreachable: %s", error)
            return JSONResponse({"status": "unavailable", "store": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "store": "reachable"})

    async def home(request: Request) -> Response:
        return RedirectResponse("/graphql")

    graphql = PolGraphQL(store)
    return Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ]
    )
