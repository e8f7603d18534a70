"""One unary PluginAPI call over a grpclib channel, with the size check and the error mapping.

Keepalive stays off (grpclib's default, never configured here): the Go API server answers pings
more often than every 5 minutes with GOAWAY ``too_many_pings`` (SEMANTICS §1).

A response announcing more than the client's ``max_response_size`` is refused before it is read
(:mod:`mmplugin.wire.limits`); the default, 128 MiB, fits a file of Mattermost's default
``MaxFileSize`` (100 MiB) in GetFile or ReadFile.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import betterproto2
import h2.exceptions
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError, StreamTerminatedError

from mmplugin.proto import pb
from mmplugin.wire.codec import MessageCodec, encode
from mmplugin.wire.endpoints import WireChannel
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT, MessageTooLarge

from .errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    TooLargeError,
    error_from_app_error,
    error_from_status,
)

SERVICE_PATH = "/mattermost.pluginapi.v1.PluginAPI/"
TARGET_ENV = "MATTERMOST_PLUGIN_API_TARGET"
# grpc-go's default receive limit on the host's API server.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


class Response(Protocol):
    """What every PluginAPI response has: ``AppError error = 1``."""

    error: pb.AppError | None


ResponseT = TypeVar("ResponseT", bound=Response)


@dataclass(frozen=True)
class _Encoded:
    """A request already encoded by :meth:`Connection.call`, which needed its size before sending."""

    data: bytes


class _Codec(MessageCodec):
    """The shared codec, passing requests that :meth:`Connection.call` encoded through untouched
    (encoding twice just to measure would double the codec's cost)."""

    def encode(self, message: Any, message_type: Any) -> bytes:
        if isinstance(message, _Encoded):
            return message.data
        return super().encode(message, message_type)


def parse_target(target: str | None) -> tuple[str, int]:
    """``(host, port)`` from ``"127.0.0.1:PORT"``, or from ``$MATTERMOST_PLUGIN_API_TARGET``."""
    value = target if target is not None else os.environ.get(TARGET_ENV)
    if not value:
        raise ConfigurationError(
            f"no PluginAPI target: pass target='127.0.0.1:PORT' or set {TARGET_ENV} "
            "(the host sets it when it starts the plugin)"
        )
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"PluginAPI target {value!r} is not 'HOST:PORT'")
    return host, int(port)


class Connection:
    """A lazily connecting grpclib channel to the host's PluginAPI server, shared by all calls.

    Create it inside the running loop it will serve (grpclib binds the channel to that loop).
    """

    def __init__(self, host: str, port: int, timeout: float | None,
                 max_response_size: int = FILE_RECEIVE_LIMIT) -> None:
        self.address = f"{host}:{port}"
        self.timeout = timeout
        self._channel = WireChannel(host, port, codec=_Codec(), max_receive=max_response_size)

    def close(self) -> None:
        self._channel.close()

    async def call(
        self, rpc: str, request: betterproto2.Message, response_type: type[ResponseT]
    ) -> ResponseT:
        """Call ``rpc`` and return its response, raising an :mod:`~mmplugin.api.errors` exception
        for an error in either convention, a transport failure, a request over 4 MiB (refused
        before anything is sent) or a response over ``max_response_size`` (refused unread)."""
        data = encode(request)
        if len(data) > MAX_REQUEST_BYTES:
            raise TooLargeError(
                rpc, id="mmplugin.api.request_too_large", status_code=413,
                grpc_status=Status.RESOURCE_EXHAUSTED,
                message=f"the request is {len(data)} bytes encoded; the host accepts at most "
                f"{MAX_REQUEST_BYTES} (4 MiB), so it was not sent",
            )
        try:
            async with self._channel.request(
                SERVICE_PATH + rpc, Cardinality.UNARY_UNARY, _Encoded, response_type, timeout=self.timeout,
            ) as stream:
                await stream.send_message(_Encoded(data), end=True)
                response = await stream.recv_message()
        except MessageTooLarge as exc:
            raise TooLargeError(
                rpc, id="mmplugin.api.response_too_large", status_code=413,
                grpc_status=Status.RESOURCE_EXHAUSTED,
                message=f"the host's response is {exc.size} bytes encoded; this client accepts at most "
                f"{exc.limit} (max_response_size), so it was not read",
            ) from None
        except GRPCError as exc:
            raise error_from_status(rpc, exc.status, exc.message) from None
        except asyncio.TimeoutError:
            raise APITimeoutError(rpc, f"no answer from the host within {self.timeout} s") from None
        except (OSError, StreamTerminatedError, h2.exceptions.ProtocolError) as exc:
            reason = str(exc) or type(exc).__name__
            raise APIConnectionError(rpc, f"host {self.address} unreachable or gone: {reason}") from exc
        if response is None:
            raise APIConnectionError(rpc, f"the host at {self.address} ended the call without a response")
        if response.error is not None and response.error.id:
            raise error_from_app_error(rpc, response.error)
        return response
