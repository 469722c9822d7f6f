"""GraphiQL as a user meets it: served by `pol serve` itself, working in a real browser offline."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from strawberry.http.ides import get_graphql_ide_html
from test_serve import serving
from websockets.sync.client import ClientConnection, connect

from pol.app import GRAPHIQL_ASSETS, GRAPHIQL_CDN, GRAPHIQL_CDN_FILES, GRAPHIQL_PREFIX

CREATE = """
mutation Create($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }
"""
EXPERIMENTS = "{ experiments { id name } }"
ASSET = re.compile(r"""(?:src|href)="([^"]*)"\s+integrity="(sha384-[^"]*)\"""")
WINDOW = (1280, 800)


def chromium() -> str | None:
    """Return the path of a Chromium binary, or None where there is none."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def server(tmp_path):
    """Start `pol serve` without trial workers on a free port; yield its base URL."""
    with serving(tmp_path, "--workers", "0") as url:
        yield url.removesuffix("/graphql")


class DevTools:
    """A Chrome DevTools protocol session on one page that records what the page does."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.last_id = 0
        self.requests: list[str] = []
        self.statuses: dict[str, int] = {}
        self.failures: list[str] = []
        self.errors: list[str] = []

    def send(self, method: str, **params: Any) -> dict:
        """Return the result of one protocol command, recording the events that come before it."""
        self.last_id += 1
        self.connection.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.connection.recv(timeout=20))
            if message.get("id") == self.last_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]
            self.record(message.get("method"), message.get("params", {}))

    def record(self, event: str | None, params: dict) -> None:
        if event == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif event == "Network.responseReceived":
            self.statuses[params["response"]["url"]] = params["response"]["status"]
        elif event == "Network.loadingFailed":
            self.failures.append(f"{params.get('errorText')} {params.get('blockedReason', '')}")
        elif event == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif event == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry'].get('url')}: {params['entry']['text']}")

    def evaluate(self, expression: str) -> Any:
        """Return the value of a JavaScript expression evaluated in the page."""
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15) -> Any:
        """Return the first truthy value of `expression`, polling the page until `timeout`."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, (
                f"timed out waiting for {expression}; errors: {self.errors}; "
                f"failed loads: {self.failures}"
            )
            time.sleep(0.1)
        return value


@pytest.fixture
def page():
    """Start headless Chromium with a fresh profile; yield a DevTools session on its page."""
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium not found (apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="pol-chromium-"))
    # No host but 127.0.0.1 resolves: the page gets no network beyond the POL server.
    process = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # With port 0 Chromium picks a free port and writes it to this file.
        active_port = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (active_port.exists() and active_port.read_text().count("\n") >= 1):
            assert process.poll() is None, f"Chromium exited with {process.returncode}"
            assert time.monotonic() < deadline, "Chromium opened no DevTools port"
            time.sleep(0.1)
        port = int(active_port.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        target = next(target for target in targets if target["type"] == "page")
        websocket_url = target["webSocketDebuggerUrl"]
        with connect(websocket_url, max_size=None, open_timeout=10) as connection:
            session = DevTools(connection)
            for domain in ("Network", "Page", "Runtime", "Log"):
                session.send(f"{domain}.enable")
            session.send(
                "Emulation.setDeviceMetricsOverride",
                width=WINDOW[0],
                height=WINDOW[1],
                deviceScaleFactor=1,
                mobile=False,
            )
            yield session
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    """Return a PNG's width, height and number of distinct byte values in its pixel rows."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    chunks, offset = [], 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"IDAT":
            chunks.append(png[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return width, height, len(set(zlib.decompress(b"".join(chunks))))


def test_the_vendored_assets_are_the_files_strawberrys_page_names():
    assets = ASSET.findall(get_graphql_ide_html("graphiql"))
    cdn_urls = sorted(GRAPHIQL_CDN + path for path in GRAPHIQL_CDN_FILES)

    assert sorted(url for url, _ in assets) == cdn_urls
    for url, integrity in assets:
        local = GRAPHIQL_ASSETS / GRAPHIQL_CDN_FILES[url.removeprefix(GRAPHIQL_CDN)]
        digest = base64.b64encode(hashlib.sha384(local.read_bytes()).digest()).decode()
        assert f"sha384-{digest}" == integrity, local.name


def test_the_page_loads_everything_from_pol(server):
    page = httpx.get(f"{server}/graphql", headers={"accept": "text/html"}, timeout=10)
    assets = ASSET.findall(page.text)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert len(assets) == len(GRAPHIQL_CDN_FILES)
    assert re.findall(r"""(?:src|href)=["']https?://""", page.text) == []
    for url, _ in assets:
        assert url.startswith(GRAPHIQL_PREFIX)
        asset = httpx.get(server + url, timeout=10)
        assert asset.status_code == 200
        assert asset.content == (GRAPHIQL_ASSETS / url.removeprefix(GRAPHIQL_PREFIX)).read_bytes()

    # A client asking for JSON still gets GraphQL over GET, not the page.
    answer = httpx.get(f"{server}/graphql", params={"query": "{ __typename }"}, timeout=10)
    assert answer.json() == {"data": {"__typename": "Query"}}


def test_graphiql_renders_and_runs_a_query_offline(server, page, tmp_path):
    space = [{"name": "max_epochs", "kind": "CATEGORICAL", "choices": [1]}]
    created = httpx.post(
        f"{server}/graphql",
        timeout=30,
        json={
            "query": CREATE,
            "variables": {
                "input": {"name": "browser check", "dataset": "digits", "searchSpace": space}
            },
        },
    )
    experiment = created.json()["data"]["createExperiment"]

    page.send("Page.navigate", url=f"{server}/graphql?q={quote(EXPERIMENTS)}")
    page.wait_for("document.querySelector('.graphiql-execute-button') !== null")
    editor = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
    assert page.wait_for(f"{editor}.getValue()") == EXPERIMENTS

    page.evaluate("document.querySelector('.graphiql-execute-button').click()")
    response = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
    answer = json.loads(page.wait_for(response))

    assert answer == {"data": {"experiments": [{"id": experiment["id"], "name": "browser check"}]}}

    # The documentation explorer shows the schema GraphiQL fetched by introspection.
    page.evaluate("document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()")
    assert "Query" in page.wait_for("document.querySelector('.graphiql-doc-explorer')?.innerText")

    screenshot = base64.b64decode(page.send("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "graphiql.png").write_bytes(screenshot)
    width, height, colours = png_size_and_colours(screenshot)

    assert (width, height) == WINDOW and len(screenshot) > 20_000 and colours > 50

    # Every request the page made went to this server, and every one succeeded.
    hosts = {urlsplit(url).netloc for url in page.requests if not url.startswith("data:")}
    assert hosts == {urlsplit(server).netloc}, page.requests
    local_assets = {server + GRAPHIQL_PREFIX + name for name in GRAPHIQL_CDN_FILES.values()}
    assert local_assets <= set(page.requests)
    assert {page.statuses[url] for url in local_assets} == {200}
    assert page.failures == [] and page.errors == []
