"""HTTP/2 flow control per stream, so one unread stream cannot stall a whole connection.

grpclib (0.4.9, pinned) returns flow-control credit only when the application reads a message, and
for the connection and the stream together (SEMANTICS §7). Every call of a plugin shares one
connection, so a few streams whose data nobody reads yet (a ServeHTTP handler that has not started
on its upload; on the host, a download whose HTTP client is slow) use up the connection's 4 MiB
window and every other call on it stops: hook requests and responses included, until their
deadlines pass.

:class:`StreamFlowConnection` does what grpc-go does: the connection's window is credited as DATA
arrives (in batches of a quarter window), and only the stream's window waits for the application.
Each stream still holds at most its own window (4 MiB) of unread data, so a slow reader slows its
own sender and no other.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h2.events
from grpclib.protocol import Connection


class StreamFlowConnection(Connection):
    """A grpclib ``Connection`` crediting the connection window on receipt, streams on read.

    Installed over grpclib's own connection object by :class:`mmplugin.wire.endpoints.WireProtocol`
    (grpclib builds it inside ``connection_made``); it adds no state of its own before first use.
    """

    _pending_credit = 0
    _read_credit: dict[int, int] | None = None
    """Bytes read per stream and not yet credited (batched like the connection's)."""

    def feed(self, data: bytes) -> list[Any]:
        events: list[Any] = super().feed(data)
        received = sum(event.flow_controlled_length or 0 for event in events
                       if isinstance(event, h2.events.DataReceived))
        if received:
            self._pending_credit += received
            if self._pending_credit >= self._config.http2_connection_window_size // 4:
                self._connection.increment_flow_control_window(self._pending_credit)
                self._pending_credit = 0
        return events

    def ack(self, stream_id: int, size: int) -> None:
        # The application read (or dropped) ``size`` bytes of this stream: its window only, credited
        # once a quarter of it is due (the sender always keeps at least three quarters).
        credit = self._read_credit
        if credit is None:
            credit = self._read_credit = {}
        stream = self._connection.streams.get(stream_id)
        if stream is None or not stream.open:
            credit.pop(stream_id, None)
            return
        due = credit.pop(stream_id, 0) + size
        if due < self._config.http2_stream_window_size // 4:
            if due:
                credit[stream_id] = due
            if len(credit) > 256:  # drop streams that ended without another ack
                streams = self._connection.streams
                for gone in [sid for sid in credit if sid not in streams or not streams[sid].open]:
                    del credit[gone]
            return
        self._connection.increment_flow_control_window(due, stream_id)
        self.flush()


class LoopTurns:
    """Gives the event loop a turn after every ``every`` bytes a sender writes.

    grpclib's ``send_message`` returns without suspending while the stream's window lasts, so a
    sender whose data is already in memory would otherwise write a whole 4 MiB window before
    anything else on the loop (other hooks, the relay of a response) runs. Small messages cost
    nothing: the turn comes once per ``every`` bytes, not per message.
    """

    __slots__ = ("_every", "_since")

    def __init__(self, every: int) -> None:
        self._every = every
        self._since = 0

    async def sent(self, size: int) -> None:
        """Count ``size`` bytes just sent; yield to the loop once ``every`` have gone since the last turn."""
        self._since += size
        if self._since >= self._every:
            self._since = 0
            await asyncio.sleep(0)
