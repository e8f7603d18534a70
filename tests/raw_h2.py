"""Raw HTTP/2 (h2, no gRPC library) for the tests that need to send what a gRPC library would not.

:func:`raw_call` is a client sending any bytes on a gRPC call (a length prefix announcing 1 GiB,
truncated or corrupted messages) and reporting what came back. :class:`RawServer` is a server that
answers each call through a callback writing frames with h2 (oversized prefixes, GOAWAY).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from h2.errors import ErrorCodes


def grpc_frame(payload: bytes, length: int | None = None) -> bytes:
    """A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, payload.

    ``length`` overrides the announced length (to lie about it).
    """
    return struct.pack(">?I", False, len(payload) if length is None else length) + payload


def request_headers(address: str, path: str) -> list[tuple[str, str]]:
    return [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", address),
            ("content-type", "application/grpc"), ("te", "trailers")]


@dataclass
class RawReply:
    """What the peer answered on one raw call."""

    headers: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    reset: int | None = None
    """RST_STREAM error code, when the peer reset the stream."""
    goaway: bool = False
    sent: int = 0
    """Bytes of the request body that went out before the call ended."""

    @property
    def status(self) -> int | None:
        """``grpc-status`` from the trailers (or from a trailers-only response)."""
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if value is None else int(value)

    @property
    def message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


def raw_call(address: str, path: str, chunks: Iterable[bytes], *, timeout: float = 20.0) -> RawReply:
    """Send ``chunks`` as the body of one gRPC call to ``address`` ("127.0.0.1:PORT"), within the
    peer's flow-control windows, then end the stream; return what came back.

    Sending stops as soon as the peer ends or resets the call (it may answer before reading it all).
    """
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    reply = RawReply()
    done = False
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, request_headers(address, path))
        sock.sendall(conn.data_to_send())

        def pump(block: bool) -> None:
            nonlocal done
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw call to {path} not finished within {timeout} s")
            sock.settimeout(max(0.01, deadline - time.monotonic()) if block else 0.0)
            try:
                data = sock.recv(1 << 20)
            except (BlockingIOError, TimeoutError):
                return
            except ConnectionError:
                done = True
                return
            finally:  # sends below and in the caller block (a non-blocking sendall can stop half-way)
                sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not data:
                done = True
                return
            for event in conn.receive_data(data):
                done = _record(conn, reply, stream_id, event) or done
            pending = conn.data_to_send()
            if pending:
                sock.sendall(pending)

        for chunk in chunks:
            view = memoryview(chunk)
            while view and not done:
                window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                if window <= 0:
                    pump(block=True)
                    continue
                try:
                    conn.send_data(stream_id, bytes(view[:window]))
                except h2.exceptions.StreamClosedError:
                    done = True
                    break
                sock.sendall(conn.data_to_send())
                reply.sent += min(window, len(view))
                view = view[window:]
                pump(block=False)
            if done:
                break
        if not done:
            try:
                conn.end_stream(stream_id)
                sock.sendall(conn.data_to_send())
            except h2.exceptions.StreamClosedError:
                done = True
        while not done:
            pump(block=True)
        conn.close_connection()
        with contextlib.suppress(OSError):
            sock.sendall(conn.data_to_send())
    return reply


def _record(conn: h2.connection.H2Connection, reply: RawReply, stream_id: int, event: h2.events.Event) -> bool:
    """Note ``event`` in ``reply``; True when the call is over."""
    if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
        reply.headers = dict(event.headers)  # type: ignore[arg-type]
    elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
        reply.data += event.data
        conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
    elif isinstance(event, h2.events.TrailersReceived) and event.stream_id == stream_id:
        reply.trailers = dict(event.headers)  # type: ignore[arg-type]
    elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
        return True
    elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream_id:
        reply.reset = event.error_code
        return True
    elif isinstance(event, h2.events.ConnectionTerminated):
        reply.goaway = True
        return True
    return False


# --- server ---------------------------------------------------------------------------------------

#: ``answer(conn, stream_id, path)`` writes the reply to one call with h2 calls on ``conn``.
Answer = Callable[[h2.connection.H2Connection, int, str], None]


def respond(conn: h2.connection.H2Connection, stream_id: int, body: bytes = b"", *, status: int = 0,
            end: bool = True) -> None:
    """Response headers, ``body`` as DATA and, when ``end``, trailers with ``grpc-status``."""
    conn.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
    if body:
        conn.send_data(stream_id, body)
    if end:
        conn.send_headers(stream_id, [("grpc-status", str(status))], end_stream=True)


class RawServer:
    """An HTTP/2 server on 127.0.0.1 answering each gRPC call with ``answer``; counts connections.

    ``async with RawServer(answer) as server:`` then dial ``server.target``.
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.resets: list[int] = []
        self.target = ""
        self._server: asyncio.base_events.Server | None = None
        self._transports: list[asyncio.Transport] = []
        self._protocols: list[_RawProtocol] = []

    async def __aenter__(self) -> RawServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self._server = await asyncio.get_running_loop().create_server(lambda: _RawProtocol(self), sock=sock)
        self.target = f"127.0.0.1:{sock.getsockname()[1]}"
        return self

    def goaway(self) -> None:
        """Send GOAWAY (NO_ERROR) on every open connection, as a server shutting down does."""
        for protocol in self._protocols:
            protocol.conn.close_connection()
            protocol.flush()

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for transport in self._transports:
            transport.abort()
        await self._server.wait_closed()


class _RawProtocol(asyncio.Protocol):
    def __init__(self, server: RawServer) -> None:
        self.server = server
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                         header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections += 1
        self.server._transports.append(transport)
        self.server._protocols.append(self)
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                path = dict(event.headers)[":path"]  # type: ignore[arg-type]
                self.server.answer(self.conn, event.stream_id, path)
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.server.resets.append(event.error_code)
        self.flush()

    def flush(self) -> None:
        assert self.transport is not None
        self.transport.write(self.conn.data_to_send())
        if self.conn.state_machine.state is h2.connection.ConnectionState.CLOSED:
            # After a GOAWAY: hang up a little later, so the peer reads the GOAWAY before the EOF.
            asyncio.get_running_loop().call_later(0.2, self.transport.close)


__all__ = ["ErrorCodes", "RawReply", "RawServer", "grpc_frame", "raw_call", "request_headers", "respond"]
