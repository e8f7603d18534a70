"""Build, cache and hand out the generated encoder and decoder of each message class.

Functions are generated on first use per class (Python source from :mod:`schema` facts, compiled
once); references to other message classes are bound lazily, on their first call, so a class
is compiled only when a message of it is actually met. A class the generators do not support
gets betterproto2's own ``bytes()`` / ``parse`` instead, listed by :func:`fallbacks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from mmplugin.wire import lazy
from mmplugin.wire._gen_decode import generate_decoder
from mmplugin.wire._gen_encode import generate_encoder
from mmplugin.wire._source import Source
from mmplugin.wire.schema import Unsupported, plan_message

Encoder = Callable[[Any, bytearray], None]
"""``encoder(message, buf)`` appends the wire form of ``message`` to ``buf``."""
MessageEncoder = Callable[[Any], bytes]
"""``message_encoder(message)`` returns the wire form of ``message``."""
Decoder = Callable[[bytes, int, int], Any]
"""``decoder(data, start, end)`` builds a message from ``data[start:end]``."""

_encoders: dict[type, Encoder] = {}
_message_encoders: dict[type, MessageEncoder] = {}
_decoders: dict[type, Decoder] = {}
_fallbacks: dict[type, str] = {}
# The message classes each generated function refers to, by kind: what :func:`prepare` walks.
_nested: dict[tuple[str, type], tuple[type, ...]] = {}


def encoder_for(cls: type) -> Encoder:
    """The encoder of message class ``cls`` (for nesting into a buffer), generated on first use."""
    encoder = _encoders.get(cls)
    if encoder is None:
        message_encoder_for(cls)
        encoder = _encoders[cls]
    return encoder


def message_encoder_for(cls: type) -> MessageEncoder:
    """The top-level encoder of message class ``cls``, generated on first use."""
    message_encoder = _message_encoders.get(cls)
    if message_encoder is None:
        base = lazy.base_class(cls)
        if base is not cls:
            message_encoder_for(base)
            _encoders[cls], _message_encoders[cls] = _encoders[base], _message_encoders[base]
            return _message_encoders[base]
        try:
            src = generate_encoder(plan_message(cls))
            _link(src, "encode", cls)
            src.build()
            encoder, message_encoder = src.namespace["encode"], src.namespace["encode_message"]
        except Unsupported as exc:
            encoder, message_encoder = _fallback_encoders(cls, str(exc))
        _encoders[cls] = encoder
        _message_encoders[cls] = message_encoder
    return message_encoder


def decoder_for(cls: type) -> Decoder:
    """The decoder of message class ``cls``, generated on first use."""
    decoder = _decoders.get(cls)
    if decoder is None:
        base = lazy.base_class(cls)
        if base is not cls:
            decoder = _decoders[cls] = decoder_for(base)
            return decoder
        try:
            src = generate_decoder(plan_message(cls), _merge)
            _link(src, "decode", cls)
            src.build()
            decoder = src.namespace["decode"]
        except Unsupported as exc:
            decoder = _fallback_decoder(cls, str(exc))
        _decoders[cls] = decoder
    return decoder


def fallbacks() -> dict[type, str]:
    """Message classes met so far that use betterproto2's codec, with the reason."""
    return dict(_fallbacks)


def prepare(cls: type, kind: Literal["encode", "decode"]) -> Iterator[type]:
    """Generate the ``kind`` functions of ``cls`` and of every message class its messages can hold.

    A generator: it does one class per step and yields it, so a caller on an event loop can let
    other work in between; classes generated before are passed over without a step.
    """
    made = _encoders if kind == "encode" else _decoders
    make = encoder_for if kind == "encode" else decoder_for
    seen: set[type] = set()
    todo = [cls]
    while todo:
        current = lazy.base_class(todo.pop())
        if current in seen:
            continue
        seen.add(current)
        fresh = current not in made
        make(current)
        todo.extend(_nested.get((kind, current), ()))
        if fresh:
            yield current


def _link(src: Source, kind: str, cls: type) -> None:
    for link, (link_kind, other) in src.links.items():
        src.namespace[link] = _late(src.namespace, link, link_kind, other)
    _nested[kind, cls] = tuple(other for link_kind, other in src.links.values() if link_kind == kind)


def _late(namespace: dict[str, Any], name: str, kind: str, cls: type) -> Callable[..., Any]:
    """A stand-in that resolves the real function on its first call and replaces itself."""
    ready = (_encoders if kind == "encode" else _decoders).get(cls)
    if ready is not None:
        return ready

    def first_call(*args: Any) -> Any:
        function = encoder_for(cls) if kind == "encode" else decoder_for(cls)
        namespace[name] = function
        return function(*args)

    return first_call


def _merge(cls: type, old: Any, unwrapped: bool, data: bytes, start: int, end: int) -> Any:
    """Merge a second occurrence of a singular message field into the first, as protobuf does."""
    if unwrapped:
        old = cls.from_wrapped(old)  # type: ignore[attr-defined]
    buf = bytearray()
    encoder_for(cls)(old, buf)
    buf += data[start:end]
    merged = decoder_for(cls)(bytes(buf), 0, len(buf))
    return merged.to_wrapped() if unwrapped else merged


def _fallback_encoders(cls: type, reason: str) -> tuple[Encoder, MessageEncoder]:
    _fallbacks[cls] = reason

    def encode(message: Any, buf: bytearray) -> None:
        buf += bytes(message)

    return encode, bytes


def _fallback_decoder(cls: type, reason: str) -> Decoder:
    _fallbacks[cls] = reason

    def decode(data: bytes, start: int, end: int) -> Any:
        return cls.parse(data[start:end])  # type: ignore[attr-defined]

    return decode
