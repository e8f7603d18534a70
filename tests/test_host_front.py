"""The HTTP front under uvicorn with a real HTTP client, routing to real plugin processes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from host_support import FAST, eventually, make_plugin, serve_asgi

from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.front import HostFront
from mmplugin.host.routing import TokenAuth

USER = "u" * 26


@pytest.fixture
async def front(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    env = Environment(InMemoryApi(Store()), FAST)
    web = make_plugin(tmp_path, "com.example.web")
    make_plugin(tmp_path, "com.example.nohttp", {"hooks": ["OnActivate"]})
    for directory in (web, tmp_path / "com.example.nohttp"):
        await env.activate(env.load(directory).id)
    try:
        async with serve_asgi(HostFront(env, TokenAuth({"secret": USER}))) as url:
            yield url, web
    finally:
        await env.shutdown()


async def test_request_init_and_header_stripping(front: tuple[str, Path]) -> None:
    url, _ = front
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get(
            "/plugins/com.example.web/echo/a%20b?x=1&access_token=nope&y=2",
            headers=[("Authorization", "Bearer secret"), ("Referer", "http://evil"),
                     ("Cookie", "MMAUTHTOKEN=session; theme=dark"), ("Mattermost-User-Id", "spoofed"),
                     ("X-Custom", "one"), ("X-Custom", "two"), ("Accept-Language", "fr")])
        assert response.status_code == 200
        assert response.headers.get_list("x-plugin") == ["com.example.web", "second"]
        info = response.json()
        assert info["method"] == "GET"
        assert info["url"] == "/echo/a%20b?x=1&y=2"
        assert info["request_uri"] == "/plugins/com.example.web/echo/a%20b?x=1&access_token=nope&y=2"
        assert (info["proto"], info["proto_major"], info["proto_minor"]) == ("HTTP/1.1", 1, 1)
        assert info["host"] == url.removeprefix("http://")
        assert info["remote_addr"].startswith("127.0.0.1:")
        assert info["content_length"] == 0
        headers = info["headers"]
        assert headers["Mattermost-User-Id"] == [USER]
        assert headers["Cookie"] == ["theme=dark"]
        assert headers["X-Custom"] == ["one", "two"]
        assert not {"Authorization", "Referer", "Host"} & headers.keys()
        assert info["request_id"]

        spoofed = (await client.get("/plugins/com.example.web/echo",
                                    headers={"Mattermost-User-Id": "admin", "Authorization": "Bearer wrong"})).json()
        assert "Mattermost-User-Id" not in spoofed["headers"]
        by_query = (await client.get("/plugins/com.example.web/echo?access_token=secret")).json()
        assert by_query["headers"]["Mattermost-User-Id"] == [USER]
        assert by_query["url"] == "/echo"


async def test_request_body_is_streamed_in_chunks(front: tuple[str, Path]) -> None:
    url, _ = front
    body = bytes(range(256)) * 1000  # 256,000 bytes
    async with httpx.AsyncClient(base_url=url) as client:
        info = (await client.post("/plugins/com.example.web/upload", content=body)).json()
        assert info["body_length"] == len(body)
        assert info["content_length"] == len(body)
        assert info["largest_chunk"] <= 64 * 1024
        assert info["chunks"] >= 4

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"x" * 100_000

        info = (await client.post("/plugins/com.example.web/upload", content=chunks())).json()
        assert info["content_length"] == -1
        assert info["body_length"] == 300_000


async def test_streaming_response_and_flush(front: tuple[str, Path]) -> None:
    url, _ = front
    async with httpx.AsyncClient(base_url=url, timeout=20) as client, \
            client.stream("GET", "/plugins/com.example.web/stream?key=one") as response:
        assert response.status_code == 200
        parts = response.aiter_bytes()
        assert await parts.__anext__() == b"first\n"  # arrives while the plugin still waits
        released = await client.post("/plugins/com.example.web/release/one")
        assert released.status_code == 204
        assert b"".join([part async for part in parts]) == b"second\n"


async def test_client_disconnect_cancels_the_plugin_handler(front: tuple[str, Path]) -> None:
    url, web = front
    async with httpx.AsyncClient(base_url=url, timeout=20) as client, \
            client.stream("GET", "/plugins/com.example.web/stream?key=gone") as response:
        assert await response.aiter_bytes().__anext__() == b"first\n"
    await eventually(lambda: (web / "cancelled-gone").exists())


async def test_early_response_and_error_statuses(front: tuple[str, Path]) -> None:
    url, _ = front
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        early = await client.post("/plugins/com.example.web/early", content=b"z" * 1_000_000)
        assert (early.status_code, early.content) == (202, b"early")
        assert (await client.get("/plugins/com.example.web/status?code=1000")).status_code == 500
        assert (await client.get("/plugins/com.example.web/status?code=0")).status_code == 200
        assert (await client.get("/plugins/com.example.nothere/x")).status_code == 404
        assert (await client.get("/plugins/com.example.nohttp/x")).status_code == 404
        assert (await client.get("/other")).status_code == 404
        # The connection pool still works after all of that.
        assert json.loads((await client.get("/plugins/com.example.web/echo")).content)["url"] == "/echo"
