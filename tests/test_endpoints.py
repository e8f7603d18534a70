"""What every mmplugin server adds at the connection level, seen from a raw client socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import h2.config
import h2.connection
import h2.events
import pytest
from h2.settings import SettingCodes

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
