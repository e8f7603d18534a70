"""What every mmplugin server adds at the connection level, seen from a raw client socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import h2.config
import h2.connection
import h2.events
import pytest
from grpclib.const import Cardinality, Handler
from grpclib.server import Stream
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe import frame
from raw_h2 import request_headers

from mmplugin.proto import wkt
from mmplugin.wire import endpoints, framerepr
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.endpoints import MAX_FRAME_SIZE, WireChannel, WireServer
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT


@pytest.fixture
async def server() -> AsyncIterator[tuple[WireServer, int]]:
    wire = WireServer([], codec=MessageCodec(), max_receive=FILE_RECEIVE_LIMIT)
    await wire.start("127.0.0.1", 0)
    assert wire._server is not None
    port = wire._server.sockets[0].getsockname()[1]
    yield wire, port
    wire.close()
    await asyncio.wait_for(wire.wait_closed(), 10)


async def test_the_server_advertises_frames_large_enough_for_a_body_chunk(server: tuple[WireServer, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server[1])
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    writer.write(client.data_to_send())
    advertised: dict[int, int] = {}
    try:
        while SettingCodes.MAX_FRAME_SIZE not in advertised:
            data = await asyncio.wait_for(reader.read(65536), 10)
            assert data, "the server closed the connection before advertising its frame size"
            for event in client.receive_data(data):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    advertised.update({code: setting.new_value for code, setting in event.changed_settings.items()})
    finally:
        writer.close()
    assert advertised[SettingCodes.MAX_FRAME_SIZE] == MAX_FRAME_SIZE


async def test_closing_the_server_closes_connections_its_clients_left_open(server: tuple[WireServer, int]) -> None:
    wire, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await asyncio.wait_for(reader.read(9), 10)  # the server's SETTINGS: the connection is up
        wire.close()
        await asyncio.wait_for(wire.wait_closed(), 10)
        await asyncio.wait_for(reader.read(), 10)  # returns only at EOF: the server hung up
        assert reader.at_eof()
    finally:
        writer.close()


class _OpenCalls:
    """``Answer`` ends its call without waiting for the client to end its side, as a broker stream
    does at shutdown; ``Hang`` never answers."""

    def __init__(self) -> None:
        self.hanging = asyncio.Event()

    def __mapping__(self) -> dict[str, Handler]:
        return {"/test.Open/Answer": Handler(self._answer, Cardinality.STREAM_STREAM, wkt.Empty, wkt.Empty),
                "/test.Open/Hang": Handler(self._hang, Cardinality.STREAM_STREAM, wkt.Empty, wkt.Empty)}

    async def _answer(self, stream: Stream[Any, Any]) -> None:
        await stream.send_trailing_metadata()

    async def _hang(self, stream: Stream[Any, Any]) -> None:
        self.hanging.set()
        await asyncio.Event().wait()


class _RawClient:
    """An h2 client on a loopback socket that opens a call and keeps its own side open."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.h2.initiate_connection()

    def send(self) -> None:
        self.writer.write(self.h2.data_to_send())

    def open_call(self, port: int, path: str) -> int:
        """Open a call to ``path`` and keep the client's side open (no END_STREAM)."""
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, request_headers(f"127.0.0.1:{port}", path))
        self.send()
        return stream_id

    async def read_until(self, wanted: Any) -> None:
        while True:
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            assert data, "the server hung up"
            events = self.h2.receive_data(data)
            self.send()
            if any(wanted(event) for event in events):
                return


class HalfOpenCall(NamedTuple):
    wire: WireServer
    port: int
    service: _OpenCalls
    client: _RawClient
    stream_id: int
    """The call the server has ended and the client has not."""


@pytest.fixture
async def half_open_call() -> AsyncIterator[HalfOpenCall]:
    """A server, and a raw client whose call the server has ended while the client's side is open."""
    service = _OpenCalls()
    wire = WireServer([service], codec=MessageCodec(), max_receive=FILE_RECEIVE_LIMIT)
    await wire.start("127.0.0.1", 0)
    assert wire._server is not None
    port = wire._server.sockets[0].getsockname()[1]
    client = _RawClient(*await asyncio.open_connection("127.0.0.1", port))
    try:
        stream_id = client.open_call(port, "/test.Open/Answer")
        await client.read_until(lambda event: isinstance(event, h2.events.StreamEnded))
        yield HalfOpenCall(wire, port, service, client, stream_id)
    finally:
        client.writer.close()
        wire.close()
        await asyncio.wait_for(wire.wait_closed(), 10)


async def test_closing_the_server_waits_for_the_client_to_end_its_open_streams(half_open_call: HalfOpenCall) -> None:
    # grpcio reports such a call OK only once it has reset it; a hang-up before that can turn it
    # into UNAVAILABLE (the broker stream at a plugin's shutdown).
    wire, client, stream_id = half_open_call.wire, half_open_call.client, half_open_call.stream_id
    wire.close_grace = 30
    wire.close()
    closing = asyncio.ensure_future(wire.wait_closed())
    await asyncio.sleep(0.05)  # time to hang up, for a server that would
    client.h2.ping(b"stillopn")
    client.send()
    await client.read_until(lambda event: isinstance(event, h2.events.PingAckReceived))
    assert not closing.done()
    client.h2.reset_stream(stream_id, ErrorCodes.NO_ERROR)
    client.send()
    await asyncio.wait_for(closing, 10)
    assert await asyncio.wait_for(client.reader.read(), 10) == b""  # EOF: the server hung up


async def test_closing_the_server_hangs_up_on_open_streams_after_its_grace(
        half_open_call: HalfOpenCall, caplog: pytest.LogCaptureFixture) -> None:
    wire, client = half_open_call.wire, half_open_call.client
    wire.close_grace = 0.1
    wire.close()
    with caplog.at_level(logging.DEBUG, logger="mmplugin"):
        await asyncio.wait_for(wire.wait_closed(), 10)
    assert await asyncio.wait_for(client.reader.read(), 10) == b""
    assert "closing a connection whose client left 1 answered call(s) open for 0.1 s" in caplog.messages


async def test_closing_the_server_does_not_wait_for_calls_it_never_answered(half_open_call: HalfOpenCall) -> None:
    # Calls whose handlers the close cancelled: the client is waiting for the server, not the reverse.
    wire, client = half_open_call.wire, half_open_call.client
    wire.close_grace = 30
    client.h2.reset_stream(half_open_call.stream_id, ErrorCodes.NO_ERROR)
    client.open_call(half_open_call.port, "/test.Open/Hang")
    await asyncio.wait_for(half_open_call.service.hanging.wait(), 10)
    wire.close()
    await asyncio.wait_for(wire.wait_closed(), 10)
    assert await asyncio.wait_for(client.reader.read(), 10) == b""


async def test_closing_the_server_ends_when_the_client_hangs_up_first(half_open_call: HalfOpenCall) -> None:
    wire, client = half_open_call.wire, half_open_call.client
    wire.close_grace = 30
    wire.close()
    closing = asyncio.ensure_future(wire.wait_closed())
    await asyncio.sleep(0.05)
    assert not closing.done()
    client.writer.close()
    await asyncio.wait_for(closing, 10)  # no error closing a connection that is already gone


async def test_connections_remember_a_bounded_number_of_closed_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoints, "CLOSED_STREAMS_KEPT", 8)
    wire = WireServer([_OpenCalls()], codec=MessageCodec(), max_receive=FILE_RECEIVE_LIMIT)
    await wire.start("127.0.0.1", 0)
    assert wire._server is not None
    channel = WireChannel("127.0.0.1", wire._server.sockets[0].getsockname()[1], codec=MessageCodec(),
                          max_receive=FILE_RECEIVE_LIMIT)
    try:
        for _ in range(30):
            async with channel.request("/test.Open/Answer", Cardinality.STREAM_STREAM, wkt.Empty, wkt.Empty) as call:
                await call.send_message(wkt.Empty(), end=True)
                assert await call.recv_message() is None
        assert channel._protocol is not None
        (server_side,) = wire._open_connections
        for h2_connection in (channel._protocol.connection._connection, server_side.connection._connection):
            assert h2_connection.open_inbound_streams == 0  # moves closed streams to the record
            assert list(h2_connection._closed_streams) == list(range(2 * 22 + 1, 2 * 29 + 2, 2))
    finally:
        channel.close()
        wire.close()
        await asyncio.wait_for(wire.wait_closed(), 10)


@pytest.mark.parametrize("size", [0, 1, 10, 11, 12, 64 * 1024])
@pytest.mark.parametrize("pad_length", [None, 0, 3, 200])
def test_a_received_data_frame_reads_as_hyperframe_writes_it(size: int, pad_length: int | None) -> None:
    # The repr h2 builds for every received frame: the same text as hyperframe's, made from the
    # shown bytes only (mmplugin.wire.framerepr, installed when mmplugin.wire.endpoints loads).
    data_frame = frame.DataFrame(1, bytes(range(256)) * (size // 256) + bytes(size % 256), flags=["END_STREAM"])
    if pad_length is not None:
        data_frame.flags.add("PADDED")
        data_frame.pad_length = pad_length
    assert frame.DataFrame._body_repr is framerepr._data_frame_body_repr
    assert data_frame._body_repr() == frame.Frame._body_repr(data_frame)
    framerepr.install()  # a second time changes nothing
    assert frame.DataFrame._body_repr is framerepr._data_frame_body_repr
