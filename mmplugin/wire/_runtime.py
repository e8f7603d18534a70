"""Helpers that the generated encoders and decoders call for the uncommon cases.

The common cases (one-byte varints, tags and lengths) are written inline by the generators;
everything here runs only for multi-byte varints, negative numbers, unknown fields and errors.
"""

from __future__ import annotations

_U64 = (1 << 64) - 1
_MIN_I64 = -(1 << 63)
MAX_FIELD_NUMBER = (1 << 29) - 1
MAX_GROUP_DEPTH = 64


class Malformed(Exception):
    """Raised inside generated decoders; :func:`mmplugin.wire.codec.decode` turns it into DecodeError."""

    def __init__(self, reason: str, offset: int | None) -> None:
        super().__init__(reason, offset)
        self.reason = reason
        self.offset = offset


def read_varint(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """Finish a varint whose first byte ``first`` (>= 0x80) was read just before ``pos``."""
    value = first & 0x7F
    shift = 7
    start = pos - 1
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise Malformed("varint longer than 10 bytes", start)


def read_tag(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """Finish a multi-byte tag; protobuf allows at most five bytes."""
    return _read_short(data, pos, first, "tag")


def read_size(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """Finish a multi-byte length prefix; protobuf allows at most five bytes."""
    return _read_short(data, pos, first, "length prefix")


def _read_short(data: bytes, pos: int, first: int, what: str) -> tuple[int, int]:
    value = first & 0x7F
    for shift in (7, 14, 21, 28):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise Malformed(f"{what} longer than 5 bytes", pos - 5)


def varint_bytes(value: int) -> bytes:
    """Encode ``value`` as a varint; negatives take ten bytes (two's complement, as protobuf)."""
    if 0 <= value < 0x4000:
        return bytes((value,)) if value < 0x80 else bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0:
        if value < _MIN_I64:
            raise ValueError(f"{value} does not fit in a 64-bit varint")
        value &= _U64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def write_varint(buf: bytearray, value: int) -> None:
    """Append ``value`` to ``buf`` as a varint (any int, see :func:`varint_bytes`)."""
    if 0 <= value < 0x80:
        buf.append(value)
    else:
        buf += varint_bytes(value)


def signed32(value: int) -> int:
    """Interpret a decoded varint as int32 (protobuf truncates to the low 32 bits)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def signed64(value: int) -> int:
    """Interpret a decoded varint as int64."""
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


def unzigzag(value: int, bits: int) -> int:
    """Undo the zig-zag encoding of sint32/sint64 (after truncating to ``bits``)."""
    value &= (1 << bits) - 1
    return (value >> 1) ^ -(value & 1)


def zigzag(value: int) -> int:
    """Zig-zag encode a signed integer for sint32/sint64."""
    return (value << 1) ^ (value >> 63) if value < 0 else value << 1


def skip_field(data: bytes, pos: int, end: int, tag: int, depth: int = 0) -> int:
    """Skip the value of a field whose tag was read just before ``pos``; return the position after it."""
    wire_type = tag & 7
    if tag >> 3 == 0:
        raise Malformed("field number 0", pos - 1)
    if tag >> 3 > MAX_FIELD_NUMBER:
        raise Malformed(f"field number {tag >> 3} is out of range", pos - 1)
    if wire_type == 0:
        first = data[pos]
        pos += 1
        if first >= 0x80:
            pos = read_varint(data, pos, first)[1]
    elif wire_type == 2:
        length = data[pos]
        pos += 1
        if length >= 0x80:
            length, pos = read_size(data, pos, length)
        pos += length
    elif wire_type == 1:
        pos += 8
    elif wire_type == 5:
        pos += 4
    elif wire_type == 3:
        pos = _skip_group(data, pos, end, tag >> 3, depth)
    elif wire_type == 4:
        raise Malformed(f"end-group tag of field {tag >> 3} outside a group", pos - 1)
    else:
        raise Malformed(f"invalid wire type {wire_type} (field {tag >> 3})", pos - 1)
    if pos > end:
        raise Malformed(f"field {tag >> 3} runs past the end of its message (ends at {end})", pos)
    return pos


def _skip_group(data: bytes, pos: int, end: int, number: int, depth: int) -> int:
    if depth >= MAX_GROUP_DEPTH:
        raise Malformed("groups nested too deeply", pos)
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag >= 0x80:
            tag, pos = read_tag(data, pos, tag)
        if tag & 7 == 4:
            if tag >> 3 != number:
                raise Malformed(f"group {number} closed by end-group tag of field {tag >> 3}", pos)
            return pos
        pos = skip_field(data, pos, end, tag, depth + 1)
    raise Malformed(f"group {number} is not closed", pos)


def overrun(field: str, pos: int, length: int, end: int) -> Malformed:
    """The error for a length prefix that claims more bytes than remain."""
    return Malformed(f"{field} has length {length} but only {max(end - pos, 0)} bytes remain", pos)


def misaligned(what: str, end: int) -> Malformed:
    """The error for a message or packed field whose last value runs past its end."""
    return Malformed(f"last field of {what} runs past its end ({end})", end)
