"""The web application: GraphQL at /graphql, a health check at /healthz.

A browser's GET on /graphql gets Strawberry's GraphiQL page with its scripts and
stylesheets served from /static/graphiql/ by POL itself, so the page works offline.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL

from .resolvers import Context
from .schema import schema
from .store import Store

logger = logging.getLogger(__name__)

GRAPHIQL_ASSETS = Path(__file__).parent / "static" / "graphiql"
GRAPHIQL_PREFIX = "/static/graphiql/"

# The files Strawberry's GraphiQL page loads from the CDN, and the names of their
# byte-identical copies in GRAPHIQL_ASSETS: the page's integrity attributes hold for both.
GRAPHIQL_CDN = "https://unpkg.com/"
GRAPHIQL_CDN_FILES = {
    "react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}

REMOTE_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']https?://[^"']*""")


def local_graphiql_page(page: str) -> str:
    """Return Strawberry's GraphiQL `page` loading its assets from GRAPHIQL_PREFIX.

    A Strawberry release whose page names other assets than the copies shipped here
    gets its page back unchanged, assets from the CDN, and a warning in the log.
    """
    local_urls = {
        GRAPHIQL_CDN + path: GRAPHIQL_PREFIX + name for path, name in GRAPHIQL_CDN_FILES.items()
    }
    local = page
    for cdn_url, local_url in local_urls.items():
        local = local.replace(cdn_url, local_url)

    missing = [cdn_url for cdn_url in local_urls if cdn_url not in page]
    remote = REMOTE_ASSET.findall(local)
    if missing or remote:
        logger.warning(
            "GraphiQL loads its assets from the CDN: Strawberry's page does not match the "
            "copies in %s (not in the page: %s; no local copy: %s)",
            GRAPHIQL_PREFIX,
            missing,
            remote,
        )
        return page
    return local


class PolGraphQL(GraphQL):
    """The GraphQL endpoint; each request gets a context with fresh data loaders."""

    def __init__(self, store: Store) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.store = store
        self.graphiql_page = local_graphiql_page(self.graphql_ide_html)

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(store=self.store, request=request, response=response)

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's hook for the IDE page. The page is Strawberry's own, rewritten once
        # at startup, so it follows the installed Strawberry and no request rewrites HTML.
        return HTMLResponse(self.graphiql_page)


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
            Mount(GRAPHIQL_PREFIX.rstrip("/"), StaticFiles(directory=GRAPHIQL_ASSETS)),
        ]
    )
