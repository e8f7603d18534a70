"""What every mmplugin server adds at the connection level, seen from a raw client socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import h2.config
import h2.connection
import h2.events
import pytest
from h2.settings import SettingCodes
from hyperframe import frame

from mmplugin.wire import framerepr
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.endpoints import MAX_FRAME_SIZE, WireServer
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
