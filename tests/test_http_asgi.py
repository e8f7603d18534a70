"""ASGI apps served through ServeHTTP: the bridge's scope and events, then Starlette and FastAPI unchanged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import fastapi
import pydantic
import pytest
from grpclib.const import Status
from http_harness import PLUGIN_ID, Reply, Served, call, exchange_failing_after_start, make_init, serving
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from mmplugin.http import ASGIHandler
from mmplugin.http._asgi import Message, Receive, Scope, Send
from mmplugin.proto import pb
from mmplugin.wire.servehttp import CHUNK_SIZE

ROOT = f"/plugins/{PLUGIN_ID}"


async def test_the_scope_describes_the_request_as_the_asgi_spec_asks() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(dict(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    init = make_init(
        "patch",
        "/a%20b/%C3%A9t%C3%A9?x=1&x=2",
        headers=[("X-Multi", "1"), ("X-Multi", "2"), ("Accept", "*/*")],
        proto="HTTP/2.0",
        proto_major=2,
        proto_minor=0,
        host="chat.example.com:8065",
        remote_addr="[2001:db8::7]:443",
    )
    async with serving(ASGIHandler(app)) as served:
        reply = await call(served, init)
    assert reply.status == 204
    [scope] = scopes
    assert scope == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "2",
        "method": "PATCH",
        "scheme": "http",
        "path": f"{ROOT}/a b/été",
        "raw_path": f"{ROOT}/a%20b/%C3%A9t%C3%A9".encode(),
        "query_string": b"x=1&x=2",
        "root_path": ROOT,
        "headers": [
            (b"host", b"chat.example.com:8065"),
            (b"x-multi", b"1"),
            (b"x-multi", b"2"),
            (b"accept", b"*/*"),
        ],
        "client": ("2001:db8::7", 443),
        "server": ("chat.example.com", 8065),
    }


@pytest.mark.parametrize(
    ("remote_addr", "host", "client", "server"),
    [
        ("10.0.0.1:5000", "example.com", ("10.0.0.1", 5000), ("example.com", 80)),
        ("@", "[::1]:9", None, ("::1", 9)),
        ("", "", None, None),
        ("10.0.0.1:http", "bad:port:x", None, None),
        ("[::1", "[::1]x", None, None),
    ],
)
async def test_client_and_server_addresses_are_parsed_when_they_can_be(
    remote_addr: str, host: str, client: object, server: object
) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body"})

    async with serving(ASGIHandler(app)) as served:
        await call(served, make_init(remote_addr=remote_addr, host=host))
    assert (seen[0]["client"], seen[0]["server"]) == (client, server)


async def test_receive_streams_the_body_then_waits_for_the_response_then_reports_disconnect() -> None:
    events: list[Message] = []
    late_receive_done_early: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            events.append(event)
            if not event["more_body"]:
                break
        waiter = asyncio.ensure_future(receive())
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"x-n", str(len(events)).encode())]}
        )
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        for _ in range(5):
            await asyncio.sleep(0)
        late_receive_done_early.append(waiter.done())
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        events.append(await waiter)
        events.append(await receive())

    body = b"q" * (2 * CHUNK_SIZE + 3)
    async with serving(ASGIHandler(app)) as served:
        reply = await call(served, make_init("POST"), body)
    assert reply.body == b"part"
    assert [(e["type"], len(e.get("body", b"")), e.get("more_body")) for e in events] == [
        ("http.request", CHUNK_SIZE, True),
        ("http.request", CHUNK_SIZE, True),
        ("http.request", 3, False),
        ("http.disconnect", 0, None),
        ("http.disconnect", 0, None),
    ]
    assert late_receive_done_early == [False]


async def test_a_body_that_stops_half_way_reads_as_a_disconnect(caplog: pytest.LogCaptureFixture) -> None:
    events: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        events.extend([await receive(), await receive(), await receive()])
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"noted"})

    async with serving(ASGIHandler(app)) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init("POST"), body_chunk=b"half"), end=True)
        reply = Reply.parse([message async for message in stream])
    assert reply.body == b"noted"
    assert [e["type"] for e in events] == ["http.request", "http.disconnect", "http.disconnect"]
    assert events[0]["body"] == b"half"
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "body truncated; the app receives http.disconnect" in warning.getMessage()


async def test_body_events_with_more_body_are_flushed_and_reach_the_client_while_the_app_runs() -> None:
    client_saw_first = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await client_saw_first.wait()
        await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": False})

    async with serving(ASGIHandler(app)) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init(), body_complete=True), end=True)
        received = [await stream.recv_message(), await stream.recv_message()]
        client_saw_first.set()
        received += [message async for message in stream]
    reply = Reply.parse([m for m in received if m is not None])
    assert [(m.body_chunk, m.flush) for m in reply.messages[1:]] == [
        (b"data: 1\n\n", True),
        (b"data: 2\n\n", False),
    ]


async def test_non_utf8_response_header_bytes_fall_back_to_latin1() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-utf8", "grüße".encode()), (b"x-latin1", "grüße".encode("latin-1"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async with serving(ASGIHandler(app)) as served:
        reply = await call(served, make_init())
    assert (reply.headers["x-utf8"], reply.headers["x-latin1"]) == ("grüße", "grüße")


@pytest.mark.parametrize(
    ("messages", "status"),
    [
        ([{"type": "http.response.trailers"}], 500),
        ([{"type": "http.response.body", "body": b"x"}], 500),
        ([{"type": "http.response.start", "status": 700000}], 500),
    ],
)
async def test_an_app_breaking_the_asgi_rules_before_its_response_gets_a_500(
    messages: list[Message], status: int
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    async with serving(ASGIHandler(app)) as served:
        reply = await call(served, make_init())
    assert reply.status == status


async def test_an_app_failing_after_its_response_started_ends_the_stream_with_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x", "more_body": False})
        await send({"type": "http.response.body", "body": b"y", "more_body": False})

    received, failure = await exchange_failing_after_start(ASGIHandler(app))
    assert failure.status is Status.INTERNAL
    assert received[1] is not None
    assert received[1].body_complete


# --- Starlette, mounted unchanged -------------------------------------------------------------


async def hello(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(
        {
            "name": request.path_params["name"],
            "tags": request.query_params.getlist("tag"),
            "agent": request.headers.get("user-agent"),
            "url": str(request.url),
            "link": str(request.url_for("hello", name="zoë")),
            "client": request.client.host if request.client else None,
        }
    )


async def echo(request: StarletteRequest) -> Response:
    return Response(await request.body(), media_type=request.headers.get("content-type"))


async def count(request: StarletteRequest) -> PlainTextResponse:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
    return PlainTextResponse(str(total))


async def pipe(request: StarletteRequest) -> StreamingResponse:
    return StreamingResponse(request.stream(), media_type="application/octet-stream")


async def cookies(request: StarletteRequest) -> PlainTextResponse:
    response = PlainTextResponse("two cookies")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


def sse_route(client_saw_first: asyncio.Event, closed: list[str]) -> Route:
    async def events() -> AsyncIterator[str]:
        try:
            yield "data: first\n\n"
            await client_saw_first.wait()
            yield "data: second\n\n"
        finally:
            closed.append("closed")

    async def sse(request: StarletteRequest) -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    return Route("/events", sse)


def starlette_app(*extra: Route) -> Starlette:
    return Starlette(
        routes=[
            Route("/hello/{name}", hello, name="hello"),
            Route("/echo", echo, methods=["POST"]),
            Route("/count", count, methods=["POST"]),
            Route("/pipe", pipe, methods=["POST"]),
            Route("/cookies", cookies),
            *extra,
        ]
    )


async def test_starlette_routes_path_params_query_headers_and_urls() -> None:
    init = make_init(
        "GET", "/hello/zo%C3%AB?tag=a&tag=b", headers=[("User-Agent", "pytest")], host="chat.example.com"
    )
    async with serving(ASGIHandler(starlette_app())) as served:
        reply = await call(served, init)
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "name": "zoë",
        "tags": ["a", "b"],
        "agent": "pytest",
        "url": f"http://chat.example.com{ROOT}/hello/zoë?tag=a&tag=b",  # Starlette builds it from path
        "link": f"http://chat.example.com{ROOT}/hello/zoë",
        "client": "203.0.113.9",
    }


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE + 1, 3 * 1024 * 1024])
async def test_starlette_echo_is_byte_exact(size: int) -> None:
    body = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    init = make_init("POST", "/echo", headers=[("Content-Type", "application/x-test")], content_length=size)
    async with serving(ASGIHandler(starlette_app())) as served:
        reply = await call(served, init, body)
    assert reply.status == 200
    assert reply.body == body
    assert reply.headers["content-type"] == "application/x-test"


async def test_starlette_request_stream_reads_the_body_incrementally() -> None:
    body = b"s" * (5 * CHUNK_SIZE + 7)
    async with serving(ASGIHandler(starlette_app())) as served:
        reply = await call(served, make_init("POST", "/count"), body)
    assert reply.body == str(len(body)).encode()


async def test_starlette_pipes_the_request_stream_into_a_streaming_response_byte_exact() -> None:
    # Under ASGI spec 2.3 Starlette would read receive() from a second task and drop chunks here.
    body = bytes(range(256)) * (20 * CHUNK_SIZE // 256)
    async with serving(ASGIHandler(starlette_app())) as served:
        reply = await call(served, make_init("POST", "/pipe"), body)
    assert reply.body == body


async def test_starlette_multi_value_headers_and_unknown_routes() -> None:
    async with serving(ASGIHandler(starlette_app())) as served:
        with_cookies = await call(served, make_init("GET", "/cookies"))
        missing = await call(served, make_init("GET", "/nowhere"))
    assert [c.split(";")[0] for c in with_cookies.headers.getall("set-cookie")] == ["a=1", "b=2"]
    assert missing.status == 404


async def test_starlette_server_sent_events_stream_and_finish_cleanly() -> None:
    client_saw_first = asyncio.Event()
    closed: list[str] = []
    app = starlette_app(sse_route(client_saw_first, closed))
    async with serving(ASGIHandler(app)) as served, served.open() as stream:
        await stream.send_message(
            pb.ServeHttpRequest(init=make_init("GET", "/events"), body_complete=True), end=True
        )
        received = [await stream.recv_message(), await stream.recv_message()]
        assert closed == []
        client_saw_first.set()
        received += [message async for message in stream]
    reply = Reply.parse([m for m in received if m is not None])
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.messages[1].body_chunk == b"data: first\n\n"
    assert reply.messages[1].flush
    assert reply.body == b"data: first\n\ndata: second\n\n"
    assert closed == ["closed"]


async def test_a_host_cancel_stops_a_starlette_stream_and_leaves_no_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    baseline = asyncio.all_tasks()
    never = asyncio.Event()
    closed: list[str] = []
    app = starlette_app(sse_route(never, closed))
    async with serving(ASGIHandler(app)) as served:
        async with served.open() as stream:
            await stream.send_message(
                pb.ServeHttpRequest(init=make_init("GET", "/events"), body_complete=True)
            )
            await stream.recv_message()
            await stream.recv_message()
            await stream.cancel()
        await settle(served, baseline)
    assert closed == ["closed"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def settle(served: Served, baseline: set[asyncio.Task[Any]]) -> None:
    for _ in range(500):
        if not served.running_handlers() and asyncio.all_tasks() <= baseline:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"left behind: {asyncio.all_tasks() - baseline}")


# --- FastAPI -----------------------------------------------------------------------------------


class Item(pydantic.BaseModel):
    name: str
    price: float


fastapi_app = fastapi.FastAPI()


@fastapi_app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "q": q}


@fastapi_app.post("/items")
async def create_item(item: Item) -> dict[str, Any]:
    return {"created": item.name, "price": item.price}


async def test_fastapi_app_is_served_unchanged() -> None:
    async with serving(ASGIHandler(fastapi_app)) as served:
        got = await call(served, make_init("GET", "/items/7?q=search"))
        made = await call(
            served,
            make_init("POST", "/items", headers=[("Content-Type", "application/json")]),
            json.dumps({"name": "pen", "price": 1.5}).encode(),
        )
        invalid = await call(served, make_init("GET", "/items/seven"))
    assert (got.status, json.loads(got.body)) == (200, {"item_id": 7, "q": "search"})
    assert (made.status, json.loads(made.body)) == (200, {"created": "pen", "price": 1.5})
    assert invalid.status == 422
