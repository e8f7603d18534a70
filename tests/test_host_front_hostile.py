"""Hostile HTTP through the host's front (uvicorn + HostFront) to a real plugin process: bytes an
HTTP client library would refuse to send are written on a raw socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from host_support import FAST, make_plugin, serve_asgi

from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.front import HostFront
from mmplugin.host.routing import TokenAuth

USER = "u" * 26
PLUGIN = "com.example.web"

# One host and plugin for the module: the tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def front(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    env = Environment(InMemoryApi(Store()), FAST)
    await env.activate(env.load(make_plugin(tmp_path_factory.mktemp("front"), PLUGIN)).id)
    try:
        async with serve_asgi(HostFront(env, TokenAuth({"secret": USER}))) as url:
            yield url
    finally:
        await env.shutdown()


async def raw_http(url: str, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, without the blank line) and ``body`` on a new
    connection; return status, headers (lower-case names) and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    head_part, _, content = raw.partition(b"\r\n\r\n")
    status_line, *lines = head_part.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        content = dechunk(content)
    return int(status_line.split()[1]), headers, content


def dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if not size:
            return body
        body, data = body + data[:size], data[size + 2:]


def echo_request(path: str = "/echo", *headers: str) -> bytes:
    lines = [f"GET /plugins/{PLUGIN}{path} HTTP/1.1", "Host: front", *headers]
    return "\r\n".join(lines).encode("latin-1")


async def test_a_well_formed_raw_request_reaches_the_plugin(front: str) -> None:
    status, _, body = await raw_http(front, echo_request("/echo", "X-Fine: yes"))
    assert status == 200
    assert json.loads(body)["headers"]["X-Fine"] == ["yes"]


@pytest.mark.parametrize("header", [
    b"X-Evil: a\rMattermost-User-Id: admin",
    b"X-Evil: a\x00b",
    b"X-Evil : spaced",
    b"Bad Name: x",
])
async def test_malformed_request_headers_are_refused_by_the_http_server(front: str, header: bytes) -> None:
    status, _, _ = await raw_http(front, echo_request() + b"\r\n" + header)
    assert status == 400


@pytest.mark.parametrize("header", [
    b"X-Evil: a\nMattermost-User-Id: admin",  # a bare LF ends a line for h11
    b"X-Evil: a\r\n Mattermost-User-Id: admin",  # obsolete line folding: one value
])
async def test_line_breaks_cannot_smuggle_an_identity(front: str, header: bytes) -> None:
    status, _, body = await raw_http(front, echo_request() + b"\r\n" + header)
    assert status == 200
    headers = json.loads(body)["headers"]
    assert "Mattermost-User-Id" not in headers
    assert headers["X-Evil"][0].startswith("a")


@pytest.mark.parametrize("spelling", ["Mattermost-User-Id", "mattermost-user-id", "MATTERMOST-USER-ID"])
async def test_a_client_supplied_user_id_is_never_forwarded(front: str, spelling: str) -> None:
    status, _, body = await raw_http(front, echo_request("/echo", f"{spelling}: admin"))
    assert status == 200
    assert "Mattermost-User-Id" not in json.loads(body)["headers"]
    status, _, body = await raw_http(front, echo_request("/echo", f"{spelling}: admin",
                                                         "Authorization: Bearer secret"))
    assert json.loads(body)["headers"]["Mattermost-User-Id"] == [USER]


@pytest.mark.parametrize("path", [
    "/plugins/../x", "/plugins/./com.example.web/echo", "/plugins/%2e%2e/x", "/plugins/%2E%2E/x",
    "/plugins/..%2fcom.example.web/echo", "/plugins/com.example.web%2f..%2fother/echo",
    "/plugins/com.example.web/../../etc/passwd", "/plugins/com.example.web/a/%2e%2e/%2e%2e/x",
    "/plugins/com.example.web/..%2f..%2fx", "/plugins/com.example.web/.",
])
async def test_dot_segments_are_never_routed(front: str, path: str) -> None:
    status, _, body = await raw_http(front, f"GET {path} HTTP/1.1\r\nHost: front".encode())
    assert (status, body) == (404, b"404 page not found\n")


async def test_ten_thousand_headers_are_refused_and_the_front_keeps_serving(front: str) -> None:
    many = "\r\n".join(f"X-H{n}: {n}" for n in range(10_000)).encode()
    try:
        status, _, _ = await raw_http(front, echo_request() + b"\r\n" + many)
    except ConnectionResetError:  # refused while the headers were still being written
        status = 400
    assert status in (400, 431)
    async with httpx.AsyncClient(base_url=front, timeout=20) as client:
        assert (await client.get(f"/plugins/{PLUGIN}/echo")).status_code == 200


async def test_invalid_response_headers_from_the_plugin_are_dropped(front: str) -> None:
    status, headers, _ = await raw_http(front, echo_request("/inject"))
    assert status == 200
    assert headers["x-fine"] == "c"
    assert "set-cookie" not in headers
    assert "x-injected" not in headers
    assert not any(" " in name for name in headers)

