"""The services go-plugin's host expects besides the hooks.

- ``grpc.health.v1.Health``: ``"plugin"`` and ``""`` are SERVING, NOT_SERVING once stopping; any
  other service is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch (gRPC health protocol).
- ``plugin.GRPCController/Shutdown``: answers, then stops the process gracefully.
- ``plugin.GRPCStdio/StreamStdio``: an open stream with no data (stdio stays on the pipes), ended
  on shutdown.
- ``plugin.GRPCBroker/StartStream``: accepted and kept open until the host closes it or shutdown;
  Mattermost does not use the broker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from mmplugin.plugin.lifecycle import Lifecycle
from mmplugin.proto import goplugin, health, wkt

_log = logging.getLogger("mmplugin")

ServingStatus = health.HealthCheckResponseServingStatus
HEALTH_SERVICES = ("plugin", "")


class HealthService:
    """``grpc.health.v1.Health`` on the generated messages (grpclib's own needs Google's protobuf)."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle

    def status(self, service: str) -> health.HealthCheckResponseServingStatus:
        if service not in HEALTH_SERVICES:
            return ServingStatus.SERVICE_UNKNOWN
        return ServingStatus.SERVING if self._lifecycle.serving else ServingStatus.NOT_SERVING

    def __mapping__(self) -> dict[str, Handler]:
        request, response = health.HealthCheckRequest, health.HealthCheckResponse
        return {
            "/grpc.health.v1.Health/Check": Handler(self._check, Cardinality.UNARY_UNARY, request, response),
            "/grpc.health.v1.Health/Watch": Handler(self._watch, Cardinality.UNARY_STREAM, request, response),
        }

    async def _check(self, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call("Health/Check"):
            request = await stream.recv_message()
            service = request.service if request is not None else ""
            status = self.status(service)
            if status is ServingStatus.SERVICE_UNKNOWN:
                raise GRPCError(Status.NOT_FOUND, f"unknown service {service!r}")
            await stream.send_message(health.HealthCheckResponse(status=status))
            await stream.send_trailing_metadata()

    async def _watch(self, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call("Health/Watch", long_lived=True):
            request = await stream.recv_message()
            service = request.service if request is not None else ""
            await stream.send_message(health.HealthCheckResponse(status=self.status(service)))
            await self._lifecycle.stopping.wait()
            if service in HEALTH_SERVICES:
                await stream.send_message(health.HealthCheckResponse(status=self.status(service)))
            await stream.send_trailing_metadata()


class ControllerService:
    """``plugin.GRPCController``: the host's request to exit."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle

    def __mapping__(self) -> dict[str, Handler]:
        return {"/plugin.GRPCController/Shutdown": Handler(self._shutdown, Cardinality.UNARY_UNARY,
                                                           goplugin.Empty, goplugin.Empty)}

    async def _shutdown(self, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call("GRPCController/Shutdown"):
            await stream.recv_message()
            await stream.send_message(goplugin.Empty())
            await stream.send_trailing_metadata()
            self._lifecycle.stop("the host called GRPCController/Shutdown")


class StdioService:
    """``plugin.GRPCStdio``: open and silent until shutdown."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle

    def __mapping__(self) -> dict[str, Handler]:
        return {"/plugin.GRPCStdio/StreamStdio": Handler(self._stream_stdio, Cardinality.UNARY_STREAM,
                                                         wkt.Empty, goplugin.StdioData)}

    async def _stream_stdio(self, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call("GRPCStdio/StreamStdio", long_lived=True):
            await stream.recv_message()
            await stream.send_initial_metadata()
            await self._lifecycle.stopping.wait()
            await stream.send_trailing_metadata()


class BrokerService:
    """``plugin.GRPCBroker``: accepted, its messages ignored, until the host closes it or shutdown."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle

    def __mapping__(self) -> dict[str, Handler]:
        return {"/plugin.GRPCBroker/StartStream": Handler(self._start_stream, Cardinality.STREAM_STREAM,
                                                          goplugin.ConnInfo, goplugin.ConnInfo)}

    async def _start_stream(self, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call("GRPCBroker/StartStream", long_lived=True):
            await stream.send_initial_metadata()
            reader = asyncio.ensure_future(_discard(stream))
            stopping = asyncio.ensure_future(self._lifecycle.stopping.wait())
            try:
                await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, stopping):
                    task.cancel()
                await asyncio.gather(reader, stopping, return_exceptions=True)
            await stream.send_trailing_metadata()


async def _discard(stream: Stream[Any, Any]) -> None:
    async for message in stream:
        _log.debug("ignoring GRPCBroker message %r", message)
