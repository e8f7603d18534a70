"""Generate ``encode(m, buf)``: append the wire form of message ``m`` to the bytearray ``buf``.

The output matches betterproto2's ``bytes(m)`` byte for byte: fields in declaration order (which
is field-number order in the generated code), zero values of plain proto3 fields skipped, fields
with presence written whenever they are not None, repeated scalars packed, map entries with both
key and value always written, and the unknown fields kept from decoding appended last.

A nested message is written in place after a one-byte length placeholder; when it turns out to
be 128 bytes or longer the placeholder is widened (one memmove) instead of encoding the child
into a separate buffer. The top-level function ``encode_message(m) -> bytes`` of a message with
``bytes`` fields has its own copy of the body, which keeps large values out of the buffer and
joins them in at the end, so a 64 KiB body chunk is copied once; for any other message it calls
``encode``, so the body is compiled once (compiling is most of a message's first encode).
"""

from __future__ import annotations

import struct

from mmplugin.wire import _runtime, lazy
from mmplugin.wire._source import Source
from mmplugin.wire.schema import STRUCT_FORMATS, FieldPlan, MessagePlan

SPLICE_FROM = 2048
"""``bytes`` values at least this long are joined into the top-level output instead of copied twice."""


def generate_encoder(plan: MessagePlan) -> Source:
    """The source of ``encode(m, buf)`` and ``encode_message(m) -> bytes`` for ``plan``."""
    src = Source(f"encode {plan.name}")
    src.namespace.update(
        write_varint=_runtime.write_varint, varint_bytes=_runtime.varint_bytes, zigzag=_runtime.zigzag
    )
    src.add(0, "def encode(m, buf):")
    # A shell (mmplugin.wire.lazy) that was never read still holds its wire bytes.
    shell = src.const(lazy.shell_class(plan.cls), "L") if lazy.is_lazy(plan.cls) else None
    if shell:
        src.add(1, f"if type(m) is {shell}:")
        src.add(2, f"buf += m.__dict__[{lazy.WIRE!r}]")
        src.add(2, "return")
    _body(src, plan, top=False)
    src.add(0, "def encode_message(m):")
    if shell:
        src.add(1, f"if type(m) is {shell}:")
        src.add(2, f"return m.__dict__[{lazy.WIRE!r}]")
    src.add(1, "buf = bytearray()")
    if any(field.proto_type == "bytes" for field in plan.fields):
        # Its own copy of the body, which splices large bytes values in instead of copying them.
        src.add(1, "parts = None")
        _body(src, plan, top=True)
        src.add(1, "if parts is not None:")
        src.add(2, "parts.append(buf)")
        src.add(2, "return b''.join(parts)")
    else:
        src.add(1, "encode(m, buf)")  # one body to compile, not two
    src.add(1, "return bytes(buf)")
    return src


def _body(src: Source, plan: MessagePlan, *, top: bool) -> None:
    for field in plan.fields:
        _field(src, field, top)
    src.add(1, "u = m._unknown_fields")
    src.add(1, "if u:")
    src.add(2, "buf += u")


def _tag_bytes(number: int, wire_type: int) -> bytes:
    return _runtime.varint_bytes(number << 3 | wire_type)


def _field(src: Source, field: FieldPlan, top: bool) -> None:
    src.add(1, f"v = m.{field.name}")
    if field.presence:
        src.add(1, "if v is not None:")
    else:
        src.add(1, "if v:")
    if field.proto_type == "map":
        assert field.entry is not None
        key, value = field.entry.fields
        tag = src.const(_tag_bytes(field.number, 2), "T")
        src.add(2, "for k, x in v.items():")
        src.add(3, f"buf += {tag}")
        _open(src, 3, "s")
        _value(src, 3, key, "k", "s1")
        _value(src, 3, value, "x", "s1")
        _close(src, 3, "s")
    elif field.packed:
        _packed(src, field)
    elif field.repeated:
        src.add(2, "for x in v:")
        _value(src, 3, field, "x", "s", top)
    else:
        _value(src, 2, field, "v", "s", top)


def _value(src: Source, depth: int, field: FieldPlan, var: str, mark: str, top: bool = False) -> None:
    """Write tag and value of one (non-repeated) occurrence of ``field`` held in ``var``."""
    kind = field.proto_type
    src.add(depth, f"buf += {src.const(_tag_bytes(field.number, field.wire_type), 'T')}")
    if field.unwrap or kind == "message":
        assert field.python_type is not None
        _open(src, depth, mark)
        encode = src.link("encode", field.python_type)
        if field.unwrap:
            wrap = src.const(field.python_type.from_wrapped, "W")  # type: ignore[attr-defined]
            src.add(depth, f"{encode}({wrap}({var}), buf)")
        else:
            src.add(depth, f"{encode}({var}, buf)")
        _close(src, depth, mark)
    elif kind == "string":
        src.add(depth, f"b = {var}.encode()")
        _length_then(src, depth, "b")
    elif kind == "bytes" and top:
        _length(src, depth, var)
        src.add(depth, f"if n < {SPLICE_FROM}:")
        src.add(depth + 1, f"buf += {var}")
        src.add(depth, "else:")
        src.add(depth + 1, "if parts is None:")
        src.add(depth + 2, "parts = []")
        src.add(depth + 1, f"parts += (buf, {var})")
        src.add(depth + 1, "buf = bytearray()")
    elif kind == "bytes":
        _length_then(src, depth, var)
    elif kind in ("sint32", "sint64"):
        src.add(depth, f"write_varint(buf, zigzag({var}))")
    elif kind in STRUCT_FORMATS:
        pack = src.const(struct.Struct("<" + STRUCT_FORMATS[kind]).pack, "P")
        src.add(depth, f"buf += {pack}({var})")
    else:
        src.add(depth, f"if 0 <= {var} < 128:")
        src.add(depth + 1, f"buf.append({var})")
        src.add(depth, "else:")
        src.add(depth + 1, f"write_varint(buf, {var})")


def _length(src: Source, depth: int, data: str) -> None:
    src.add(depth, f"n = len({data})")
    src.add(depth, "if n < 128:")
    src.add(depth + 1, "buf.append(n)")
    src.add(depth, "elif n < 16384:")
    src.add(depth + 1, "buf.append(n & 127 | 128)")
    src.add(depth + 1, "buf.append(n >> 7)")
    src.add(depth, "else:")
    src.add(depth + 1, "buf += varint_bytes(n)")


def _length_then(src: Source, depth: int, data: str) -> None:
    _length(src, depth, data)
    src.add(depth, f"buf += {data}")


def _open(src: Source, depth: int, mark: str) -> None:
    src.add(depth, f"{mark} = len(buf)")
    src.add(depth, "buf.append(0)")


def _close(src: Source, depth: int, mark: str) -> None:
    src.add(depth, f"n = len(buf) - {mark} - 1")
    src.add(depth, "if n < 128:")
    src.add(depth + 1, f"buf[{mark}] = n")
    src.add(depth, "elif n < 16384:")
    src.add(depth + 1, f"buf[{mark}] = n & 127 | 128")
    src.add(depth + 1, f"buf.insert({mark} + 1, n >> 7)")
    src.add(depth, "else:")
    src.add(depth + 1, f"buf[{mark}:{mark} + 1] = varint_bytes(n)")


def _packed(src: Source, field: FieldPlan) -> None:
    src.add(2, f"buf += {src.const(_tag_bytes(field.number, 2), 'T')}")
    kind = field.proto_type
    if kind in STRUCT_FORMATS:
        src.add(2, f"p = {src.const(struct.pack, 'pack')}('<%d{STRUCT_FORMATS[kind]}' % len(v), *v)")
    else:
        zig = kind in ("sint32", "sint64")
        src.add(2, "p = bytearray()")
        src.add(2, "for x in v:")
        src.add(3, f"write_varint(p, {'zigzag(x)' if zig else 'x'})")
    _length_then(src, 2, "p")
