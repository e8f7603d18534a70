"""The one place that decides how protobuf messages are encoded and decoded.

Everything in mmplugin (plugin side, host side, API client, benchmarks) encodes and decodes
through :func:`encode` and :func:`decode`, and grpclib is handed :class:`MessageCodec`, so a faster
codec can replace the betterproto2 default here without touching any other module.
"""

from __future__ import annotations

from typing import Any, TypeVar

import betterproto2
from grpclib.encoding.base import CodecBase

M = TypeVar("M", bound=betterproto2.Message)


def encode(message: betterproto2.Message) -> bytes:
    """Serialise ``message`` to protobuf wire bytes."""
    return bytes(message)


def decode(message_type: type[M], data: bytes) -> M:
    """Parse protobuf wire bytes into a new ``message_type`` instance."""
    return message_type.parse(data)


class MessageCodec(CodecBase):
    """grpclib codec (content type ``application/grpc+proto``) for the generated dataclasses."""

    __content_subtype__ = "proto"

    def encode(self, message: Any, message_type: Any) -> bytes:
        if not isinstance(message, message_type):
            raise TypeError(f"expected a {message_type.__name__} message, got {type(message).__name__}")
        return encode(message)

    def decode(self, data: bytes, message_type: Any) -> Any:
        return decode(message_type, data)
