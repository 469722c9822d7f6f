"""The web application: GraphQL at /graphql (WebSocket too), a health check at /healthz.

A browser's GET on /graphql gets Strawberry's GraphiQL page with its scripts and
stylesheets served from /static/graphiql/ by POL itself, so the page works offline.
Subscriptions use the graphql-transport-ws protocol on the same path.

With a token, mutations and subscriptions need it (`Authorization: Bearer <token>`;
for a subscription, in the connection_init payload or on the upgrade request) and queries
do not. Every refusal is a JSON GraphQL error body with a stable `extensions.code`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode
from graphql import parse as parse_graphql
from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from .resolvers import Context
from .resolvers.live import active_polls
from .schema import schema
from .store import Store
from .timing import ReadLog, TimedStore

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


# The largest request body and query string accepted; a GraphQL document is far smaller.
MAX_BODY_BYTES = 1024 * 1024
# Subscriptions at once on one WebSocket; each reads the store four times a second.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10
# A request that sends this header (any value) gets `extensions.timing` (see pol.timing).
TIMING_HEADER = "pol-timing"


def _check_operation_name(request: dict) -> None:
    """Refuse a document of several operations that does not name the one to run."""
    query = request.get("query")
    if not isinstance(query, str) or request.get("operationName"):
        return
    try:
        document = parse_graphql(query)
    except GraphQLError:
        return  # the GraphQL layer reports the syntax error itself
    names = [
        definition.name.value if definition.name else "(anonymous)"
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if len(names) > 1:
        raise HTTPException(
            400,
            f"operationName: got none; allowed: one of {', '.join(names)}, as the document "
            f"holds {len(names)} operations",
        )


@dataclass
class ApiContext(Context):
    """A request's context: with a token configured, `authenticated` says whether it came."""

    authenticated: bool = True
    connection_params: Any = None
    read_log: ReadLog | None = None


class TransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, closing the socket (4400) on a message of the wrong shape."""

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)


def message_problem(message: Any) -> str | None:
    """Return what is wrong with a graphql-transport-ws message, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a string `type`"
    if message["type"] != "subscribe":
        return None
    payload = message.get("payload")
    if not isinstance(message.get("id"), str) or not isinstance(payload, dict):
        return "subscribe needs a string `id` and an object `payload`"
    expected = {"query": str, "variables": (dict, type(None)), "operationName": (str, type(None))}
    for name, kinds in expected.items():
        if not isinstance(payload.get(name), kinds):
            return f"subscribe: payload.{name} has the wrong type"
    return None


class PolGraphQL(GraphQL):
    """The GraphQL endpoint; each request gets a context with fresh data loaders."""

    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, store: Store, token: str | None = None) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
        )
        self.store = store
        self.token = token
        self.graphiql_page = local_graphiql_page(self.graphql_ide_html)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_BODY_BYTES:
            refusal = too_large("the query string", 414)
            await refusal(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            await too_large("the request body", 413)(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, replay(body)))
        except HTTPException as error:
            response = error_response(error.reason, "BAD_REQUEST", error.status_code)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", str(data[:80]), 0) from None
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(f"not UTF-8 text: {error.reason}", "", 0) from None
        if not isinstance(value, dict):
            raise json.JSONDecodeError(
                f"expected a JSON object, got {type(value).__name__}", str(data[:80]), 0
            )
        return value

    def parse_json(self, data: str | bytes) -> Any:
        try:
            request = self.decode_json(data)
        except json.JSONDecodeError as error:
            raise HTTPException(
                400,
                f"the request must be a JSON object with a `query` string ({error.msg}); "
                "batches of operations are not accepted",
            ) from error
        _check_operation_name(request)
        return request

    async def get_context(self, request: Any, response: Any) -> ApiContext:
        read_log = ReadLog() if TIMING_HEADER in request.headers else None
        return ApiContext(
            store=TimedStore(self.store, read_log) if read_log else self.store,
            request=request,
            response=response,
            authenticated=self.holds_token(request.headers.get("authorization")),
            read_log=read_log,
        )

    async def on_ws_connect(self, context: ApiContext) -> None:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        offered = params.get("Authorization", params.get("authorization"))
        if offered is not None:
            if not isinstance(offered, str):
                raise ConnectionRejectionError()
            context.authenticated = self.holds_token(offered)

    def holds_token(self, authorization: str | None) -> bool:
        """Return True when no token is configured or `authorization` is "Bearer <token>"."""
        if self.token is None:
            return True
        scheme, _, offered = (authorization or "").partition(" ")
        # Compared in constant time, so the answer's timing tells nothing of the token.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            offered.strip().encode(), self.token.encode()
        )

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        errors = response_data.get("errors") if isinstance(response_data, dict) else None
        if errors and any(
            (error.get("extensions") or {}).get("code") == "UNAUTHENTICATED" for error in errors
        ):
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="pol"'
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's hook for the IDE page. The page is Strawberry's own, rewritten once
        # at startup, so it follows the installed Strawberry and no request rewrites HTML.
        return HTMLResponse(self.graphiql_page)


def error_response(message: str, code: str, status: int) -> JSONResponse:
    """Return a GraphQL-style error body for a request refused before GraphQL ran."""
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


def too_large(what: str, status: int) -> JSONResponse:
    """Return the refusal of a request whose body or query string is over MAX_BODY_BYTES."""
    return error_response(
        f"{what} is over the limit of {MAX_BODY_BYTES} bytes", "REQUEST_TOO_LARGE", status
    )


async def read_body(receive: Receive) -> bytes | None:
    """Return the request body, or None as soon as it is over MAX_BODY_BYTES."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """Return an ASGI receive channel that gives `body` once, then a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def create_app(store: Store, token: str | None = None) -> Starlette:
    """Return the Starlette app serving the API over `store` (GraphiQL on a browser's GET).

    With `token`, mutations and subscriptions need `Authorization: Bearer <token>`.
    """

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(store.experiments.find_one, {}, {"_id": 1})
        except (PyMongoError, sqlite3.Error, OSError) as error:
            logger.warning("health check: store unreachable: %s", error)
            return JSONResponse({"status": "unavailable", "store": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "store": "reachable", "livePolls": active_polls()})

    async def home(request: Request) -> Response:
        return RedirectResponse("/graphql")

    graphql = PolGraphQL(store, token)
    return Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            # Every method: the endpoint answers those it does not serve with a JSON 405.
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Mount(GRAPHIQL_PREFIX.rstrip("/"), StaticFiles(directory=GRAPHIQL_ASSETS)),
        ]
    )
