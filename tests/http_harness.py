"""A grpclib server that serves only ServeHTTP, and a host-like client for it (used by test_http_*)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from grpclib.client import Channel
from grpclib.client import Stream as ClientStream
from grpclib.const import Cardinality, Handler
from grpclib.exceptions import GRPCError
from multidict import CIMultiDict

from mmplugin.http import HTTPHandler, ServeHTTPStream, serve_http_stream
from mmplugin.proto import pb
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.endpoints import WireServer
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT
from mmplugin.wire.servehttp import CHUNK_SIZE, header_pairs

SERVE_HTTP = "/mattermost.pluginapi.v1.PluginHooks/ServeHTTP"
PLUGIN_ID = "com.example.http"

HostStream = ClientStream[pb.ServeHttpRequest, pb.ServeHttpResponse]


class ServeHTTPOnly:
    """A grpclib service object with the one method the plugin runtime will mount."""

    def __init__(self, handler: HTTPHandler) -> None:
        self.handler = handler

    async def serve(self, stream: ServeHTTPStream) -> None:
        await serve_http_stream(stream, self.handler, plugin_id=PLUGIN_ID)

    def __mapping__(self) -> dict[str, Handler]:
        return {
            SERVE_HTTP: Handler(
                self.serve, Cardinality.STREAM_STREAM, pb.ServeHttpRequest, pb.ServeHttpResponse
            )
        }


def listen_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Served:
    server: WireServer
    channel: Channel
    port: int

    def open(self) -> HostStream:
        return self.channel.request(
            SERVE_HTTP, Cardinality.STREAM_STREAM, pb.ServeHttpRequest, pb.ServeHttpResponse
        )

    def running_handlers(self) -> list[asyncio.Task[None]]:
        return [task for h in self.server._handlers for task in h._tasks.values() if not task.done()]


@asynccontextmanager
async def serving(handler: HTTPHandler) -> AsyncIterator[Served]:
    # The plugin's own server class: its flow control and frame size, and it closes its connections.
    server = WireServer([ServeHTTPOnly(handler)], codec=MessageCodec(), max_receive=FILE_RECEIVE_LIMIT)
    sock = listen_socket()
    await server.start(sock=sock)
    channel = Channel("127.0.0.1", sock.getsockname()[1], codec=MessageCodec())
    try:
        yield Served(server, channel, sock.getsockname()[1])
    finally:
        channel.close()
        server.close()
        # From Python 3.12 this also waits for every client connection to close: bound it.
        try:
            await asyncio.wait_for(server.wait_closed(), 10)
        except asyncio.TimeoutError:
            raise AssertionError("a client connection to the test server is still open") from None


def make_init(
    method: str = "GET", url: str = "/", headers: Iterable[tuple[str, str]] = (), **fields: object
) -> pb.ServeHttpRequestInit:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    defaults: dict[str, object] = {
        "proto": "HTTP/1.1",
        "proto_major": 1,
        "proto_minor": 1,
        "host": "chat.example.com",
        "remote_addr": "203.0.113.9:51234",
        "request_uri": f"/plugins/{PLUGIN_ID}{url}",
        "content_length": -1,
        "plugin_context": pb.PluginContext(session_id="s1", request_id="r1"),
    }
    defaults.update(fields)
    return pb.ServeHttpRequestInit(
        method=method,
        url=url,
        headers=[pb.HttpHeader(key=k, values=v) for k, v in grouped.items()],
        **defaults,
    )


def request_messages(init: pb.ServeHttpRequestInit, body: bytes) -> list[pb.ServeHttpRequest]:
    """What the Go host sends: init with the first chunk, 64 KiB chunks, body_complete on the last."""
    chunks = [body[i : i + CHUNK_SIZE] for i in range(0, len(body), CHUNK_SIZE)] or [b""]
    messages = [pb.ServeHttpRequest(body_chunk=chunk) for chunk in chunks]
    messages[0].init = init
    messages[-1].body_complete = True
    return messages


@dataclass
class Reply:
    status: int
    headers: CIMultiDict[str]
    body: bytes
    messages: list[pb.ServeHttpResponse] = field(repr=False)

    @classmethod
    def parse(cls, messages: Sequence[pb.ServeHttpResponse]) -> Reply:
        """Check the wire shape a Go host relies on, and read the response out of it."""
        first, *rest = messages
        assert first.init is not None, "the first response message must carry init"
        assert (first.body_chunk, first.body_complete) == (b"", False), "init travels alone"
        assert all(m.init is None for m in rest), "init only in the first message"
        assert all(len(m.body_chunk) <= CHUNK_SIZE for m in rest)
        assert [m.body_complete for m in rest] == [False] * (len(rest) - 1) + [True], "body_complete ends it"
        return cls(
            status=first.init.status_code,
            headers=CIMultiDict(header_pairs(first.init.headers)),
            body=b"".join(m.body_chunk for m in rest),
            messages=list(messages),
        )


async def send_all(stream: HostStream, messages: Sequence[pb.ServeHttpRequest]) -> None:
    for message in messages[:-1]:
        await stream.send_message(message)
    await stream.send_message(messages[-1], end=True)


async def call(served: Served, init: pb.ServeHttpRequestInit, body: bytes = b"") -> Reply:
    """One request as the Go host makes it: body sent while the response is read (no deadlock on echo)."""
    async with served.open() as stream:
        messages = request_messages(init, body)
        await stream.send_message(messages[0], end=len(messages) == 1)
        sender = asyncio.ensure_future(send_all(stream, messages[1:])) if len(messages) > 1 else None
        try:
            replies = [message async for message in stream]
            if sender is not None:
                await sender
        finally:
            if sender is not None:
                sender.cancel()
    return Reply.parse(replies)


async def exchange_failing_after_start(handler: HTTPHandler) -> tuple[list[pb.ServeHttpResponse | None], GRPCError]:
    """A bodiless request to a handler that fails once its response has started: the two messages
    that arrived, and the status that ended the stream instead of trailers with OK."""
    async with serving(handler) as served, served.open() as stream:
        await stream.send_message(pb.ServeHttpRequest(init=make_init(), body_complete=True), end=True)
        received = [await stream.recv_message(), await stream.recv_message()]
        assert await stream.recv_message() is None
        try:
            await stream.recv_trailing_metadata()
        except GRPCError as failure:
            return received, failure
    raise AssertionError("the stream ended with OK")
