"""A receive-size limit on gRPC messages, checked before a message is read.

grpclib (0.4.9, pinned) reads a message by awaiting as many bytes as its 4-byte length prefix
announces, buffering whatever the peer sends until then (SEMANTICS §7). Every stream of a
:class:`~mmplugin.wire.endpoints.WireServer` or :class:`~mmplugin.wire.endpoints.WireChannel`
(a :class:`LimitedStream`) checks that length first: a message announced
above ``max_receive`` fails the call with RESOURCE_EXHAUSTED (:class:`MessageTooLarge`), worded as grpc-go words it
(``received message larger than max (N vs. M)``), before any of its body is read. The call then
ends (the server answers the status, the client resets the stream) and grpclib discards the rest
of the body as it arrives, so memory stays bounded by the HTTP/2 flow-control window.

The limits the project uses (each configurable where it is applied):

- :data:`GO_RECEIVE_LIMIT` (4 MiB): the host's PluginAPI server, like grpc-go's default on the
  Mattermost server.
- :data:`FILE_RECEIVE_LIMIT` (128 MiB): messages that may carry a whole file: hook requests
  (FileWillBeUploaded sends the upload's content; Mattermost's default ``MaxFileSize`` is 100 MiB),
  hook responses on the host (its modified content) and PluginAPI responses (GetFile, ReadFile).
  A ServeHTTP message is at most a 64 KiB chunk plus headers, far below it.

Where it hooks in: grpclib's ``recv_message`` calls the protocol stream's ``recv_data`` once for
the 5-byte prefix and once with the announced length; :class:`LimitedStream` refuses the second
when it is too large (and maps grpclib's framing faults to statuses).
"""

from __future__ import annotations

import logging
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.protocol import Stream

MIB = 1024 * 1024
#: grpc-go's default receive limit, kept by the Mattermost server's PluginAPI server (SEMANTICS §1).
GO_RECEIVE_LIMIT = 4 * MIB
#: Receive limit where a message may carry a whole file (hook requests and responses, API responses).
FILE_RECEIVE_LIMIT = 128 * MIB

_log = logging.getLogger("mmplugin")


class MessageTooLarge(GRPCError):
    """RESOURCE_EXHAUSTED: a received message announced ``size`` bytes, over ``limit``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(Status.RESOURCE_EXHAUSTED, f"received message larger than max ({size} vs. {limit})")
        self.size = size
        self.limit = limit


class LimitedStream(Stream):
    """A grpclib protocol stream that checks each message's 5-byte prefix before reading its body.

    Besides the size limit, it turns the framing faults grpclib reports as a bare exception (an
    "Application error" traceback and status UNKNOWN on a server) into statuses, as grpc-go does:
    a stream ending inside a message is INTERNAL; a compressed message (none is ever negotiated
    here) is UNIMPLEMENTED.
    """

    def __init__(self, *args: Any, max_receive: int, **kwargs: Any) -> None:
        self.max_receive = max_receive
        self._at_prefix = True
        super().__init__(*args, **kwargs)

    async def recv_data(self, size: int) -> bytes:
        # grpclib's recv_message is the only caller: the 5-byte prefix, then the body it announces.
        at_prefix, self._at_prefix = self._at_prefix, not self._at_prefix
        if not at_prefix and size > self.max_receive:
            _log.warning("refused a %d-byte gRPC message (the limit is %d bytes)", size, self.max_receive)
            raise MessageTooLarge(size, self.max_receive)
        try:
            data: bytes | None = await super().recv_data(size)
        except AssertionError:  # grpclib's Buffer: the stream ended part-way through ``size`` bytes
            data = None
        if at_prefix and data == b"":
            self._at_prefix = True  # the stream ended between messages
            return data
        if data is None or len(data) < size:
            what = "message prefix" if at_prefix else f"{size}-byte message"
            raise GRPCError(Status.INTERNAL, f"the stream ended inside a {what}")
        if at_prefix and data[0]:
            raise GRPCError(Status.UNIMPLEMENTED, "compressed gRPC messages are not supported")
        return data


__all__ = ["FILE_RECEIVE_LIMIT", "GO_RECEIVE_LIMIT", "LimitedStream", "MessageTooLarge"]
