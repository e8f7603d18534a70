r"""The one place that decides how protobuf messages are encoded and decoded.

Everything in mmplugin (plugin side, host side, API client, benchmarks) encodes and decodes
through :func:`encode` and :func:`decode`, and grpclib is handed :class:`MessageCodec`.

The messages are betterproto2's generated dataclasses; the work is done by Python functions
generated once per message class from betterproto2's field metadata (:mod:`mmplugin.wire.compiler`).
The bytes are identical to ``bytes(message)`` and decoded instances equal ``Cls.parse(data)``, an
order of magnitude faster on structured messages. ``google.protobuf.Struct`` and ``ListValue``
fields (a post's ``props``) are decoded when first read (:mod:`mmplugin.wire.lazy`), so a malformed
one raises there rather than here. Malformed input raises :class:`DecodeError`::

    >>> from mmplugin.proto import pb
    >>> data = encode(pb.KvSetRequest(key="k", value=b"v"))
    >>> data
    b'\n\x01k\x12\x01v'
    >>> decode(pb.KvSetRequest, data)
    KvSetRequest(key='k', value=b'v')
    >>> try:
    ...     decode(pb.KvSetRequest, data[:-1])
    ... except DecodeError as exc:
    ...     print(exc)
    cannot decode KvSetRequest: KvSetRequest.value has length 1 but only 0 bytes remain at offset 5
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar

import betterproto2
from grpclib.const import Status
from grpclib.encoding.base import CodecBase
from grpclib.exceptions import GRPCError

from mmplugin.wire._runtime import Malformed
from mmplugin.wire.errors import DecodeError

if TYPE_CHECKING:
    from mmplugin.wire.compiler import Decoder, MessageEncoder

M = TypeVar("M", bound=betterproto2.Message)

_log = logging.getLogger("mmplugin")

__all__ = ["DecodeError", "MessageCodec", "decode", "encode"]


def _bind_compiler() -> None:
    """Import the compiler at the first message: a plugin's start needs neither it nor its plans."""
    global _message_encoder_for, _decoder_for
    from mmplugin.wire import compiler

    _message_encoder_for, _decoder_for = compiler.message_encoder_for, compiler.decoder_for


def _first_message_encoder_for(cls: type) -> MessageEncoder:
    _bind_compiler()
    return _message_encoder_for(cls)


def _first_decoder_for(cls: type) -> Decoder:
    _bind_compiler()
    return _decoder_for(cls)


_message_encoder_for = _first_message_encoder_for
_decoder_for = _first_decoder_for


def encode(message: betterproto2.Message) -> bytes:
    """Serialise ``message`` to protobuf wire bytes (the same bytes as ``bytes(message)``)."""
    return _message_encoder_for(type(message))(message)


def decode(message_type: type[M], data: bytes | bytearray | memoryview) -> M:
    """Parse protobuf wire bytes into a new ``message_type`` instance.

    Raises :class:`DecodeError` (a ``ValueError``) naming the type and the offset when ``data``
    is truncated or malformed.
    """
    if type(data) is not bytes:
        data = bytes(data)
    try:
        message: M = _decoder_for(message_type)(data, 0, len(data))
    except Malformed as exc:
        raise DecodeError(message_type.__qualname__, exc.reason, exc.offset) from None
    except IndexError:
        raise DecodeError(message_type.__qualname__, "input ends inside a field", len(data)) from None
    except UnicodeDecodeError as exc:
        reason = f"a string field is not valid UTF-8 ({exc.reason})"
        raise DecodeError(message_type.__qualname__, reason, None) from None
    except RecursionError:
        raise DecodeError(message_type.__qualname__, "messages nested too deeply", None) from None
    return message


class MessageCodec(CodecBase):
    """grpclib codec (content type ``application/grpc+proto``) for the generated dataclasses.

    A received message that does not decode fails its call with status INTERNAL, as in grpc-go
    (on a server, the caller gets that status; on a client, the call raises it), and is logged.
    """

    __content_subtype__ = "proto"

    def encode(self, message: Any, message_type: Any) -> bytes:
        if not isinstance(message, message_type):
            raise TypeError(f"expected a {message_type.__name__} message, got {type(message).__name__}")
        return encode(message)

    def decode(self, data: bytes, message_type: Any) -> Any:
        try:
            return decode(message_type, data)
        except DecodeError as exc:
            _log.warning("refused an undecodable gRPC message: %s", exc)
            raise GRPCError(Status.INTERNAL, str(exc)) from None
