"""A foreign host: grpcio (Google's C core, like grpc-go on the wire) drives the ServeHTTP stream."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import grpc
from http_harness import SERVE_HTTP, Reply, make_init, request_messages, serving

from mmplugin.http import NativeHandler, Request, StreamingResponse
from mmplugin.proto import pb
from mmplugin.wire.codec import decode, encode
from mmplugin.wire.servehttp import CHUNK_SIZE


async def shout(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
    async def upper() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            yield chunk.upper()

    return StreamingResponse(upper(), status=207, headers=[("X-Echo", "1"), ("X-Echo", "2")])


async def grpcio_exchange(port: int, messages: list[pb.ServeHttpRequest]) -> list[pb.ServeHttpResponse]:
    # The call object keeps grpcio's connection open until it is freed, so it stays in here.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        call = channel.stream_stream(SERVE_HTTP)(
            encode(message) for message in messages
        )  # raw bytes both ways
        replies = [decode(pb.ServeHttpResponse, raw) async for raw in call]
        assert await call.code() == grpc.StatusCode.OK
        return replies
    finally:
        await channel.close()


async def test_grpcio_as_the_host_streams_a_request_and_reads_the_response() -> None:
    body = b"abcdefgh" * (CHUNK_SIZE // 4) + b"end"  # three messages each way
    async with serving(NativeHandler(shout)) as served:
        replies = await grpcio_exchange(served.port, request_messages(make_init("POST", "/shout"), body))
    reply = Reply.parse(replies)
    assert reply.status == 207
    assert reply.headers.getall("X-Echo") == ["1", "2"]
    assert reply.body == body.upper()


async def test_a_grpcio_cancel_cancels_the_plugin_handler() -> None:
    closed: list[str] = []

    async def forever() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await asyncio.sleep(0.01)
        finally:
            closed.append("closed")

    async def ticker(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
        return StreamingResponse(forever())

    async def read_two_then_cancel(port: int) -> None:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            call = channel.stream_stream(SERVE_HTTP)(iter([encode(request_messages(make_init(), b"")[0])]))
            stream = call.__aiter__()
            await anext(stream)
            await anext(stream)
            call.cancel()
        finally:
            await channel.close()

    baseline = asyncio.all_tasks()
    async with serving(NativeHandler(ticker)) as served:
        await read_two_then_cancel(served.port)
        gc.collect()  # a cancelled grpcio call sits in a reference cycle that holds its connection
        for _ in range(500):  # bounded: the reset travels to the plugin and cancels its handler
            if closed and not served.running_handlers():
                break
            await asyncio.sleep(0.01)
    assert closed == ["closed"]
    assert not served.running_handlers()
    assert {t for t in asyncio.all_tasks() - baseline if not t.done()} == set()
