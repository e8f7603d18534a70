"""grpclib's Server and Channel as every mmplugin endpoint uses them, plugin side and host side.

On top of grpclib (0.4.9, pinned), each connection of a :class:`WireServer` or :class:`WireChannel`

- refuses a received message over ``max_receive`` bytes before reading it, and answers framing
  faults with a status (:mod:`mmplugin.wire.limits`);
- credits HTTP/2 flow control per stream, so an unread stream stalls only itself
  (:mod:`mmplugin.wire.flow`);
- once closed, a server also closes the connections its clients left open (in ``wait_closed()``,
  after grpclib's handlers have written their last frames, and once the client has ended the
  calls they answered, for at most :attr:`WireServer.close_grace` seconds): asyncio's
  ``Server.close()`` only stops listening before Python 3.13, and grpclib only cancels handlers;
- accepts DATA frames of up to :data:`MAX_FRAME_SIZE`, so a peer that honours it (another
  mmplugin endpoint) sends a 64 KiB body chunk as one frame instead of five;
- does not hex-encode each received DATA frame for a trace line nobody reads
  (:mod:`mmplugin.wire.framerepr`, installed on import);
- reuses the HPACK encoding and decoding of header blocks it repeats, as every unary call does
  (:mod:`mmplugin.wire.headercache`);
- remembers how the last :data:`CLOSED_STREAMS_KEPT` closed streams closed, where h2 keeps 65,536
  (about 7.5 MiB per connection once that many calls have passed).

grpclib offers no hook for the connection-level parts: its ``H2Protocol`` builds the
``Connection`` (which creates the streams and returns flow-control credit) inside
``connection_made``. :class:`WireProtocol` turns that object into a :class:`WireConnection` right
after, before any stream exists; both sides build their protocols through ``_protocol_factory``,
which the classes here override.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from grpclib.client import Channel
from grpclib.protocol import H2Protocol, Stream
from grpclib.server import Server
from h2.settings import SettingCodes
from h2.stream import StreamState
from h2.utilities import SizeLimitDict

from mmplugin.wire import framerepr, headercache
from mmplugin.wire.flow import StreamFlowConnection
from mmplugin.wire.limits import LimitedStream

#: The largest frame this endpoint accepts (HTTP/2's default is 16 KiB; a ServeHTTP chunk is 64 KiB).
MAX_FRAME_SIZE = 256 * 1024

#: Closed streams whose ending each connection remembers. h2 looks a stream up there only when a
#: DATA or HEADERS frame arrives on it after it closed: one it reset gets a stream error, any other
#: a connection error. Such a frame was in flight when the stream was reset, so it arrives long
#: before 4,096 later streams have closed.
CLOSED_STREAMS_KEPT = 4096

_log = logging.getLogger("mmplugin")

framerepr.install()


class WireConnection(StreamFlowConnection):
    """grpclib's connection state, creating :class:`LimitedStream` streams."""

    max_receive: int

    def create_stream(self, *, stream_id: int | None = None, wrapper: Any = None) -> Stream:
        return LimitedStream(self, self._connection, self._transport, stream_id=stream_id, wrapper=wrapper,
                             max_receive=self.max_receive)


class WireProtocol(H2Protocol):
    """grpclib's HTTP/2 protocol over a :class:`WireConnection`; ``open_connections``, when given,
    holds the protocol while its connection is open."""

    def __init__(self, *args: Any, max_receive: int, open_connections: set[WireProtocol] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_receive = max_receive
        self._open_connections = open_connections
        self._idle: asyncio.Event | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.connection.__class__ = WireConnection
        cast(WireConnection, self.connection).max_receive = self.max_receive
        headercache.install(self.connection._connection)
        self.connection._connection._closed_streams = SizeLimitDict(size_limit=CLOSED_STREAMS_KEPT)
        self.connection._connection.update_settings({SettingCodes.MAX_FRAME_SIZE: MAX_FRAME_SIZE})
        self.connection.flush()
        if self._open_connections is not None:
            self._open_connections.add(self)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._idle is not None:
            self._note_if_idle()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._open_connections is not None:
            self._open_connections.discard(self)
        if self._idle is not None:
            self._idle.set()
        super().connection_lost(exc)

    async def close_when_idle(self, timeout: float) -> None:
        """Close the transport once the client has ended every call this side has answered, or
        after ``timeout`` s.

        A call answered while the client was still sending (a broker stream at shutdown) ends only
        when the client resets it, as grpc-go and grpcio do; grpcio reports such a call OK only
        after that, so hanging up first can turn it into UNAVAILABLE. A call never answered (its
        handler cancelled) is not waited for. No GOAWAY is sent: h2 processes no further frame of
        a connection once it has sent one.
        """
        self._idle = asyncio.Event()
        self._note_if_idle()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            _log.debug("closing a connection whose client left %d answered call(s) open for %g s",
                       len(self._answered_streams()), timeout)
        if not self.connection.is_closing():  # the client may have hung up first
            self.connection._transport.close()  # what was written still goes out first

    def _answered_streams(self) -> list[int]:
        """Streams this side has ended and the client has not."""
        streams = self.connection._connection.streams
        return [stream_id for stream_id, stream in streams.items()
                if stream.state_machine.state is StreamState.HALF_CLOSED_LOCAL]

    def _note_if_idle(self) -> None:
        assert self._idle is not None
        if not self._answered_streams():
            self._idle.set()


def _check(max_receive: int) -> int:
    if not isinstance(max_receive, int) or isinstance(max_receive, bool) or max_receive < 0:
        raise ValueError(f"max_receive must be a number of bytes, got {max_receive!r}")
    return max_receive


class WireServer(Server):
    """A grpclib :class:`~grpclib.server.Server` refusing requests over ``max_receive`` bytes."""

    protocol_class: type[WireProtocol] = WireProtocol
    #: Seconds ``wait_closed()`` waits for clients to end the calls the server answered.
    close_grace = 0.5

    def __init__(self, *args: Any, max_receive: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_receive = _check(max_receive)
        self._open_connections: set[WireProtocol] = set()

    def _protocol_factory(self) -> H2Protocol:
        made = super()._protocol_factory()
        return self.protocol_class(made.handler, made.config, made.h2_config, max_receive=self.max_receive,
                                   open_connections=self._open_connections)

    async def wait_closed(self) -> None:
        """After ``close()``: wait for grpclib's handlers, close every client connection once its
        client has ended the calls answered on it (see :meth:`WireProtocol.close_when_idle`), then
        wait for the listening socket (which from Python 3.12 also waits for those connections)."""
        if self._handlers:
            await asyncio.wait({asyncio.ensure_future(handler.wait_closed()) for handler in self._handlers})
        await asyncio.gather(*(protocol.close_when_idle(self.close_grace) for protocol in self._open_connections))
        await super().wait_closed()


class WireChannel(Channel):
    """A grpclib :class:`~grpclib.client.Channel` refusing responses over ``max_receive`` bytes."""

    def __init__(self, *args: Any, max_receive: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_receive = _check(max_receive)

    def _protocol_factory(self) -> H2Protocol:
        made = super()._protocol_factory()
        return WireProtocol(made.handler, made.config, made.h2_config, max_receive=self.max_receive)


__all__ = ["WireChannel", "WireConnection", "WireProtocol", "WireServer"]
