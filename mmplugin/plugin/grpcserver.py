"""grpclib's Server with the changes a plugin needs, on grpclib 0.4.9 (pinned) internals.

- Received messages are limited in size, and flow control is per stream (:mod:`mmplugin.wire.endpoints`).
- Unknown method paths: grpclib's own "method not found" reply has no ``content-type``, which
  grpc-go reports as ``Unknown`` and answers with a stream reset (SEMANTICS §7). Here every
  unknown path gets a handler that fails with UNIMPLEMENTED inside a normal grpclib stream, so the
  reply is a complete trailers-only response.
- Concurrent calls: h2 advertises ``MAX_CONCURRENT_STREAMS = 100`` and grpclib keeps it, so a
  client with 100 slow calls open (long ServeHTTP streams, hooks waiting on something) has to queue
  every further call, fast or not. Each connection raises it to :data:`MAX_CONCURRENT_STREAMS`.

grpclib has no public hook for any of them, hence the overrides of its private ``_mapping`` and
``_protocol_factory`` (and the h2 connection under its ``Connection``); the tests cover each.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream
from h2.settings import SettingCodes

from mmplugin.proto import wkt
from mmplugin.wire.endpoints import WireProtocol, WireServer

_log = logging.getLogger("mmplugin")

#: Concurrent calls a host may have open on one connection (grpc-go's own server sets no limit).
MAX_CONCURRENT_STREAMS = 4096


class Routes(dict[str, Handler]):
    """grpclib's method table, answering any path it lacks with an UNIMPLEMENTED handler."""

    def get(self, path: str, default: Any = None) -> Any:
        handler = super().get(path)
        if handler is None:
            handler = Handler(partial(_unimplemented, path), Cardinality.STREAM_STREAM, wkt.Empty, wkt.Empty)
        return handler


async def _unimplemented(path: str, stream: Stream[Any, Any]) -> None:
    _log.debug("answering UNIMPLEMENTED for %s", path)
    raise GRPCError(Status.UNIMPLEMENTED, f"unknown method {path}")


class _Protocol(WireProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        limit: dict[SettingCodes | int, int] = {SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS}
        self.connection._connection.update_settings(limit)
        self.connection.flush()


class PluginServer(WireServer):
    """A :class:`~mmplugin.wire.endpoints.WireServer` that answers unknown paths and allows many calls."""

    protocol_class = _Protocol

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._mapping = Routes(self._mapping)
