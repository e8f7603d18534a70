"""The native handler API through a real grpclib server and a host-like client on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from http_harness import PLUGIN_ID, Reply, call, make_init, serving

import mmplugin.http
from mmplugin.http import NativeHandler, Request, Response, ResponseWriter, ServeHTTPError, StreamingResponse
from mmplugin.proto import pb
from mmplugin.wire.servehttp import CHUNK_SIZE


async def describe(ctx: pb.PluginContext, request: Request) -> Response:
    return Response.json(
        {
            "method": request.method,
            "url": request.url,
            "path": request.path,
            "raw_path": request.raw_path,
            "query_string": request.query_string,
            "query": [[k, v] for k, v in request.query.items()],
            "accept": request.headers.getall("accept", []),
            "user": request.headers.get("MATTERMOST-USER-ID"),
            "host": request.host,
            "remote_addr": request.remote_addr,
            "proto": request.proto,
            "request_uri": request.request_uri,
            "content_length": request.content_length,
            "root_path": request.root_path,
            "session": ctx.session_id,
            "same_context": ctx is request.plugin_context,
            "body": (await request.body()).decode(),
        }
    )


async def test_get_reaches_the_handler_with_every_request_field() -> None:
    async with serving(NativeHandler(describe)) as served:
        init = make_init(
            "GET",
            "/caf%C3%A9/x%2Fy?q=1&q=two&empty=&sp=a+b",
            headers=[("Accept", "text/html"), ("Accept", "application/json"), ("Mattermost-User-Id", "u1")],
        )
        reply = await call(served, init)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    seen = json.loads(reply.body)
    assert seen == {
        "method": "GET",
        "url": "/caf%C3%A9/x%2Fy?q=1&q=two&empty=&sp=a+b",
        "path": "/café/x/y",
        "raw_path": "/caf%C3%A9/x%2Fy",
        "query_string": "q=1&q=two&empty=&sp=a+b",
        "query": [["q", "1"], ["q", "two"], ["empty", ""], ["sp", "a b"]],
        "accept": ["text/html", "application/json"],
        "user": "u1",
        "host": "chat.example.com",
        "remote_addr": "203.0.113.9:51234",
        "proto": "HTTP/1.1",
        "request_uri": f"/plugins/{PLUGIN_ID}/caf%C3%A9/x%2Fy?q=1&q=two&empty=&sp=a+b",
        "content_length": None,
        "root_path": f"/plugins/{PLUGIN_ID}",
        "session": "s1",
        "same_context": True,
        "body": "",
    }


@pytest.mark.parametrize(
    ("request_uri", "url", "root_path"),
    [
        (f"/mm/plugins/{PLUGIN_ID}/a?access_token=t&x=1", "/a?x=1", f"/mm/plugins/{PLUGIN_ID}"),
        (f"/plugins/{PLUGIN_ID}", "", f"/plugins/{PLUGIN_ID}"),
        ("/somewhere/else", "/a", f"/plugins/{PLUGIN_ID}"),
        ("", "/a", f"/plugins/{PLUGIN_ID}"),
    ],
)
async def test_root_path_keeps_the_site_subpath_the_host_removed(
    request_uri: str, url: str, root_path: str
) -> None:
    async with serving(NativeHandler(describe)) as served:
        reply = await call(served, make_init(url=url, request_uri=request_uri))
    assert json.loads(reply.body)["root_path"] == root_path


async def echo(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
    headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream")}
    return StreamingResponse(request.stream(), headers=headers, flush=False)


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 10 * 1024 * 1024])
async def test_post_echo_is_byte_exact(size: int) -> None:
    body = (bytes(range(251)) * (size // 251 + 1))[:size]
    async with serving(NativeHandler(echo)) as served:
        reply = await call(served, make_init("POST", "/echo", content_length=size), body)
    assert reply.status == 200
    assert reply.body == body
    assert not any(m.flush for m in reply.messages)


async def buffered_echo(ctx: pb.PluginContext, request: Request) -> Response:
    body = await request.body()
    assert await request.body() is body
    replay = b"".join([chunk async for chunk in request.stream()])
    return Response(replay, status=201, headers=[("X-Length", str(len(body)))])


async def test_body_collects_everything_and_can_be_read_again() -> None:
    body = b"z" * (3 * CHUNK_SIZE + 5)
    async with serving(NativeHandler(buffered_echo)) as served:
        reply = await call(served, make_init("PUT", "/", content_length=len(body)), body)
    assert (reply.status, reply.body, reply.headers["X-Length"]) == (201, body, str(len(body)))


async def test_multi_value_response_headers_travel_as_one_entry_per_name() -> None:
    async def cookies(ctx: pb.PluginContext, request: Request) -> Response:
        return Response(b"", 204, [("Set-Cookie", "a=1"), ("X-Tag", "t"), ("set-cookie", "b=2")])

    async with serving(NativeHandler(cookies)) as served:
        reply = await call(served, make_init())
    init = reply.messages[0].init
    assert init is not None
    assert [(h.key, h.values) for h in init.headers] == [("Set-Cookie", ["a=1", "b=2"]), ("X-Tag", ["t"])]
    assert reply.status == 204
    assert "Content-Length" not in reply.headers


async def test_text_response_sets_its_content_type() -> None:
    async def teapot(ctx: pb.PluginContext, request: Request) -> Response:
        return Response.text("short and stout ☕", status=418, headers={"X-Kind": "teapot"})

    async with serving(NativeHandler(teapot)) as served:
        reply = await call(served, make_init())
    assert reply.status == 418
    assert reply.body.decode() == "short and stout ☕"
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reply.headers["X-Kind"] == "teapot"


async def test_server_sent_events_reach_the_client_before_the_handler_finishes() -> None:
    client_saw_first = asyncio.Event()
    generator_closed = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"data: one\n\n"
            await client_saw_first.wait()  # only the client can let the handler go on
            yield b"data: two\n\n"
        finally:
            generator_closed.set()

    async def sse(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
        return StreamingResponse(events(), headers={"Content-Type": "text/event-stream"})

    async with serving(NativeHandler(sse)) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init(), body_complete=True), end=True)
        received = [await stream.recv_message(), await stream.recv_message()]
        assert not generator_closed.is_set()
        client_saw_first.set()
        received += [message async for message in stream]
    assert received[1] is not None
    assert (received[1].body_chunk, received[1].flush) == (b"data: one\n\n", True)
    reply = Reply.parse([m for m in received if m is not None])
    assert reply.body == b"data: one\n\ndata: two\n\n"
    assert generator_closed.is_set()


async def test_the_response_can_finish_before_the_request_body_is_sent() -> None:
    async def early(ctx: pb.PluginContext, request: Request) -> Response:
        return Response(b"no thanks", status=413)

    async with serving(NativeHandler(early)) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init("POST", content_length=1 << 30)))
        await stream.send_message(pb.ServeHttpRequest(body_chunk=b"x" * CHUNK_SIZE))
        replies = [message async for message in stream]  # the whole response, body still unfinished
        await stream.send_message(pb.ServeHttpRequest(body_complete=True), end=True)
    reply = Reply.parse(replies)
    assert (reply.status, reply.body) == (413, b"no thanks")


async def test_the_handler_starts_before_the_body_is_complete_and_reads_it_as_it_arrives() -> None:
    handler_started = asyncio.Event()
    chunks_seen: list[bytes] = []

    async def reader(request: Request, writer: ResponseWriter) -> None:
        handler_started.set()
        await writer.start(200, {"X-Early": "yes"})
        await writer.write(b"", flush=True)
        async for chunk in request.stream():
            chunks_seen.append(chunk)
            await writer.write(str(len(chunk)).encode() + b";", flush=True)

    async with serving(reader) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init("POST")))
        init_message = await stream.recv_message()  # answered before any body byte was sent
        assert init_message is not None
        assert init_message.init is not None
        assert handler_started.is_set()
        await stream.send_message(pb.ServeHttpRequest(body_chunk=b"abc"))
        while (await stream.recv_message()).body_chunk != b"3;":  # type: ignore[union-attr]
            pass
        assert chunks_seen == [b"abc"]
        await stream.send_message(pb.ServeHttpRequest(body_chunk=b"de", body_complete=True), end=True)
        rest = [message async for message in stream]
    assert b"".join(m.body_chunk for m in rest) == b"2;"
    assert rest[-1].body_complete


async def test_a_body_streamed_once_cannot_be_streamed_again() -> None:
    outcome: list[str] = []

    async def twice(ctx: pb.PluginContext, request: Request) -> Response:
        first = b"".join([chunk async for chunk in request.stream()])
        try:
            request.stream()
        except ServeHTTPError as exc:
            outcome.append(str(exc))
        return Response(first)

    async with serving(NativeHandler(twice)) as served:
        reply = await call(served, make_init("POST"), b"once")
    assert reply.body == b"once"
    assert outcome == ["the request body was already read with stream()"]


def test_the_public_names_are_one_sorted_list_that_all_import() -> None:
    assert mmplugin.http.__all__ == sorted(mmplugin.http.__all__)
    assert all(hasattr(mmplugin.http, name) for name in mmplugin.http.__all__)


async def test_a_slow_host_reader_holds_the_writer_back_through_flow_control() -> None:
    total = 32 * 1024 * 1024
    produced = 0

    async def stream_fast() -> AsyncIterator[bytes]:
        nonlocal produced
        block = b"f" * CHUNK_SIZE
        while produced < total:
            produced += CHUNK_SIZE
            yield block

    async def download(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
        return StreamingResponse(stream_fast(), flush=False)

    consumed = widest_gap = 0
    async with serving(NativeHandler(download)) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init(), body_complete=True), end=True)
        async for message in stream:
            consumed += len(message.body_chunk)
            widest_gap = max(widest_gap, produced - consumed)
            await asyncio.sleep(0.001)  # a slow HTTP client behind the host
    assert consumed == total
    # Without backpressure the handler would be all 32 MiB ahead; h2's 4 MiB window bounds it.
    assert widest_gap <= 6 * 1024 * 1024
