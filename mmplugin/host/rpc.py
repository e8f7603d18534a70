"""What can go wrong on a gRPC call to a plugin, and how to say it in one line."""

from __future__ import annotations

import asyncio

import h2.exceptions
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

#: Failures of a call at transport, HTTP/2 or gRPC level, deadline included.
RPC_ERRORS = (GRPCError, StreamTerminatedError, ProtocolError, h2.exceptions.H2Error, OSError,
              asyncio.TimeoutError)


def describe(exc: BaseException) -> str:
    """``UNAVAILABLE: ...``, ``deadline exceeded`` or ``ConnectionRefusedError: ...``."""
    if isinstance(exc, GRPCError):
        return f"{exc.status.name}: {exc.message}" if exc.message else exc.status.name
    if isinstance(exc, asyncio.TimeoutError):
        return "deadline exceeded"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = ["RPC_ERRORS", "describe"]
