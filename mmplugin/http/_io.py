"""The two directions of one ServeHTTP stream over grpclib: request body in, response out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TypeAlias

import h2.exceptions
from grpclib.exceptions import StreamTerminatedError
from grpclib.server import Stream

from mmplugin.proto import pb
from mmplugin.wire.flow import LoopTurns
from mmplugin.wire.servehttp import CHUNK_SIZE, ClientDisconnected, HeadersLike, RequestDecoder, ResponseEncoder

# A string, so that importing mmplugin.http does not create the ServeHTTP message classes.
ServeHTTPStream: TypeAlias = "Stream[pb.ServeHttpRequest, pb.ServeHttpResponse]"

_TRANSPORT_ERRORS = (h2.exceptions.StreamClosedError, StreamTerminatedError, ConnectionError)


class StreamBody:
    """Reads request body chunks from the stream one message at a time, when asked.

    Once a chunk is handed out, the next message is fetched while the handler works on it, so a
    handler that reads as it writes finds its next chunk waiting (an echo streams about 15 % faster).
    That is the only read-ahead: everything after it stays in grpclib's flow-controlled buffer and
    the host's sender waits (SEMANTICS §7). A read that is cancelled half-way (a timeout around
    ``receive()``, an ASGI framework polling for disconnect) keeps its message for the next read:
    grpclib's ``recv_message`` would lose the frame it was in the middle of, so it runs in a task
    of its own, which the reader waits for.
    """

    def __init__(self, stream: ServeHTTPStream, decoder: RequestDecoder, first_chunk: bytes) -> None:
        self._stream = stream
        self._decoder = decoder
        self._first = first_chunk
        self._pending: asyncio.Future[pb.ServeHttpRequest | None] | None = None
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[None] | None = None

    @property
    def complete(self) -> bool:
        """True once the host has sent the whole body (some of it may not have been read yet)."""
        return self._decoder.body_complete

    async def read_chunk(self) -> bytes | None:
        """The next non-empty body chunk, or ``None`` at the end of the body.

        Raises :class:`RequestProtocolError` when the stream breaks the ServeHTTP rules.
        """
        async with self._lock:
            while True:
                if self._first:
                    chunk, self._first = self._first, b""
                    return chunk
                if self._decoder.body_complete:
                    return None
                self._first = self._decoder.feed(await self._next_message())
                if not self._decoder.body_complete:
                    self._start_read()

    def _start_read(self) -> asyncio.Future[pb.ServeHttpRequest | None]:
        self._pending = asyncio.ensure_future(self._receive())
        return self._pending

    async def _next_message(self) -> pb.ServeHttpRequest | None:
        pending = self._pending if self._pending is not None else self._start_read()
        if not pending.done():
            # Cancelling this wait leaves the read running; the next call takes its message.
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._pending = None
        return pending.result()

    async def _receive(self) -> pb.ServeHttpRequest | None:
        try:
            return await self._stream.recv_message()
        finally:
            # The read wakes its reader itself: through a done callback (shield, wait) the wake-up
            # would come a loop turn later, and each turn also takes in up to 256 KiB more body.
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    def close(self) -> None:
        """Stop a read still in flight (the handler is done with the request)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if pending.done():
            if not pending.cancelled():
                pending.exception()  # retrieved: it belongs to a read nobody waits for any more
        else:
            pending.cancel()


class ResponseWriter:
    """The response of one request, sent to the host as it is written.

    ``await start(status, headers)`` once, then ``await write(data)`` any number of times and
    ``await end()``; returning from the handler ends a started response. ``write(..., flush=True)``
    asks the host to pass what it has to its HTTP client now (server-sent events, long polling);
    ``write(b"", flush=True)`` flushes the headers alone. Each call waits until the host's flow
    control lets the bytes go, so a slow client slows the writer instead of filling memory.
    Writing after the host went away raises :class:`ClientDisconnected`.
    """

    def __init__(self, stream: ServeHTTPStream) -> None:
        self._stream = stream
        self._encoder = ResponseEncoder()
        self._broken = False
        self._turns = LoopTurns(CHUNK_SIZE)  # a response already in memory must not hold other hooks back

    @property
    def started(self) -> bool:
        """True once ``start`` was called: status and headers can no longer change."""
        return self._encoder.started

    @property
    def ended(self) -> bool:
        return self._encoder.ended

    @property
    def broken(self) -> bool:
        """True when a send failed or was cut short: nothing more can go on this stream."""
        return self._broken

    async def start(self, status: int = 200, headers: HeadersLike = ()) -> None:
        """Send status (100..999) and headers."""
        await self._send((self._encoder.start(status, headers),))

    async def write(self, data: bytes, *, flush: bool = False) -> None:
        """Send body bytes, cut into 64 KiB messages."""
        await self._send(self._encoder.body(data, flush=flush))

    async def end(self, data: bytes = b"") -> None:
        """Send the last body bytes, if any, and mark the body complete."""
        await self._send(self._encoder.end(data))

    async def _send(self, messages: Iterable[pb.ServeHttpResponse]) -> None:
        if self._broken:
            raise ClientDisconnected("the ServeHTTP stream can no longer carry a response")
        try:
            for message in messages:
                await self._stream.send_message(message)
                await self._turns.sent(len(message.body_chunk))
        except _TRANSPORT_ERRORS as exc:
            self._broken = True
            raise ClientDisconnected(f"the host closed the ServeHTTP stream: {exc}") from exc
        except BaseException:
            # A cancelled send may have put half a message on the wire.
            self._broken = True
            raise
