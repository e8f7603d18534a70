"""The host end of ServeHTTP: an HTTP request streamed to the plugin, its response streamed back.

:func:`serve_http` sends the request init and the body in 64 KiB chunks while it receives the
response, in two independent directions (a plugin may answer before it read the body). Failures map
as on the Go host (SEMANTICS §3): the stream cannot be opened → 503; the first receive fails →
502; a status outside 100..999 → 500; an error after the response started is only logged. Every
chunk is handed to the sink as soon as it arrives, so a plugin's ``flush`` is always honoured.
Cancelling the coroutine (the HTTP client went away) resets the stream, which cancels the plugin's
handler. Open streams and body bytes each way are counted in a
:class:`~mmplugin.host.counters.PluginCounters` as they flow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable
from typing import Protocol

from grpclib.client import Channel, Stream
from grpclib.const import Cardinality

from mmplugin.hooks.table import HOOKS_BY_NAME
from mmplugin.host.counters import PluginCounters
from mmplugin.host.rpc import RPC_ERRORS, describe
from mmplugin.proto import pb
from mmplugin.wire.flow import LoopTurns
from mmplugin.wire.servehttp import CHUNK_SIZE

PATH = HOOKS_BY_NAME["ServeHTTP"].path
#: Response headers the HTTP server sets itself; a plugin's value would corrupt the framing.
FRAMING_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})

logger = logging.getLogger("mmplugin.host.servehttp")


class ResponseSink(Protocol):
    """Where the plugin's HTTP response goes (the front's ASGI ``send``, or a test double)."""

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Send the status line and headers."""

    async def write(self, data: bytes) -> None:
        """Send body bytes now."""


async def serve_http(channel: Channel, plugin_id: str, init: pb.ServeHttpRequestInit,
                     body: AsyncIterable[bytes] | None, sink: ResponseSink,
                     counters: PluginCounters | None = None) -> int:
    """Run one HTTP request through the plugin's ServeHTTP; returns the status sent to the sink.

    ``body`` is None for a request without a body. The caller ends the HTTP response afterwards.
    """
    counters = counters if counters is not None else PluginCounters()
    sent = _StatusSink(sink)
    try:
        async with channel.request(PATH, Cardinality.STREAM_STREAM, pb.ServeHttpRequest,
                                   pb.ServeHttpResponse) as stream:
            await stream.send_request()
            counters.servehttp_streams_open += 1
            try:
                await _exchange(stream, plugin_id, init, body, sent, counters)
            finally:
                counters.servehttp_streams_open -= 1
    except RPC_ERRORS as exc:
        if not sent.status:
            logger.warning("plugin %s: cannot open the ServeHTTP stream: %s", plugin_id, describe(exc))
            await _answer(sent, 503, "plugin unavailable")
        else:
            logger.debug("plugin %s: closing the ServeHTTP stream: %s", plugin_id, describe(exc))
    return sent.status


async def _exchange(stream: Stream[pb.ServeHttpRequest, pb.ServeHttpResponse], plugin_id: str,
                    init: pb.ServeHttpRequestInit, body: AsyncIterable[bytes] | None, sink: _StatusSink,
                    counters: PluginCounters) -> None:
    sender = asyncio.create_task(_send_request(stream, plugin_id, init, body, counters))
    try:
        complete = await _relay_response(stream, plugin_id, sink, counters)
    finally:
        if not sender.done():
            sender.cancel()
        await asyncio.wait([sender])
    if not (complete and not sender.cancelled() and sender.result()):
        # The plugin is done with us (or failed): drop whatever is left of the stream.
        await stream.cancel()
        return
    try:
        await stream.recv_trailing_metadata()
    except RPC_ERRORS as exc:
        logger.error("plugin %s: ServeHTTP failed after the response started: %s", plugin_id, describe(exc))


async def _send_request(stream: Stream[pb.ServeHttpRequest, pb.ServeHttpResponse], plugin_id: str,
                        init: pb.ServeHttpRequestInit, body: AsyncIterable[bytes] | None,
                        counters: PluginCounters) -> bool:
    """Send init and body; False if the plugin closed the stream before taking all of it."""
    try:
        if body is None:
            await stream.send_message(pb.ServeHttpRequest(init=init, body_complete=True), end=True)
            return True
        await stream.send_message(pb.ServeHttpRequest(init=init))
        turns = LoopTurns(CHUNK_SIZE)  # a buffered body must not delay the response relay
        async for data in body:
            for offset in range(0, len(data), CHUNK_SIZE):
                chunk = data[offset:offset + CHUNK_SIZE]
                await stream.send_message(pb.ServeHttpRequest(body_chunk=chunk))
                counters.servehttp_request_bytes += len(chunk)
                await turns.sent(len(chunk))
        await stream.send_message(pb.ServeHttpRequest(body_complete=True), end=True)
    except RPC_ERRORS as exc:
        # The plugin may finish (and close the stream) before reading the whole body.
        logger.debug("plugin %s: ServeHTTP request body not fully sent: %s", plugin_id, describe(exc))
        return False
    return True


async def _relay_response(stream: Stream[pb.ServeHttpRequest, pb.ServeHttpResponse], plugin_id: str,
                          sink: ResponseSink, counters: PluginCounters) -> bool:
    """Copy the response to the sink; True if the plugin completed it."""
    try:
        message = await stream.recv_message()
    except RPC_ERRORS as exc:
        logger.error("plugin %s: ServeHTTP failed before responding: %s", plugin_id, describe(exc))
        await _answer(sink, 502, "plugin failed to respond")
        return False
    if message is None:
        logger.error("plugin %s: ServeHTTP stream ended without a response", plugin_id)
        await _answer(sink, 502, "plugin failed to respond")
        return False
    init = message.init
    status = (init.status_code if init else 0) or 200
    if not 100 <= status <= 999:
        logger.error("plugin %s: ServeHTTP answered invalid status %d", plugin_id, status)
        await _answer(sink, 500, "plugin answered an invalid status")
        return False
    headers = [(h.key, value) for h in (init.headers if init else ()) if h.key.lower() not in FRAMING_HEADERS
               for value in h.values]
    await sink.start(status, headers)
    try:
        while True:
            if message.body_chunk:
                counters.servehttp_response_bytes += len(message.body_chunk)
                await sink.write(message.body_chunk)
            if message.body_complete:
                return True
            next_message = await stream.recv_message()
            if next_message is None:
                return True
            message = next_message
    except RPC_ERRORS as exc:
        logger.error("plugin %s: ServeHTTP failed after the response started: %s", plugin_id, describe(exc))
        return False


async def _answer(sink: ResponseSink, status: int, text: str) -> None:
    await sink.start(status, [("Content-Type", "text/plain; charset=utf-8")])
    await sink.write(text.encode() + b"\n")


class _StatusSink:
    """Passes through to the caller's sink and remembers the status it was given (0: not started)."""

    def __init__(self, sink: ResponseSink) -> None:
        self._sink = sink
        self.status = 0

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status
        await self._sink.start(status, headers)

    async def write(self, data: bytes) -> None:
        await self._sink.write(data)


__all__ = ["CHUNK_SIZE", "ResponseSink", "serve_http"]
