"""Generate ``decode(data, pos, end)``: build a message from ``data[pos:end]`` without slicing it.

The instance dict starts as a copy of a prebuilt dict of field defaults (fresh lists and dicts for
repeated and map fields) and is filled as fields arrive; the tag of each wire field selects its
reader through a small binary tree of integer comparisons. The instance is made with
``object.__new__`` and given that dict, which holds exactly what the dataclass ``__init__`` plus
betterproto2's ``__post_init__`` would (every field and ``_unknown_fields``), so equality, repr,
``bool()`` and copying behave as for parsed messages.

Semantics follow protobuf: the last value of a singular scalar wins, a repeated scalar accepts
packed and unpacked encodings, a singular message field met twice is merged, setting one member of
a oneof clears the others, a field with an unexpected wire type is kept as an unknown field, and
unknown fields are kept as raw bytes (betterproto2's ``_unknown_fields``) for re-encoding.
Every length is checked against the end of the enclosing message before it is used.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from mmplugin.wire import _runtime, lazy
from mmplugin.wire._source import Source
from mmplugin.wire.schema import STRUCT_FORMATS, FieldPlan, MessagePlan

_LITERAL_TYPES = (str, bytes, int, float, bool, type(None))
_SIGN = {
    "int32": ("0x7FFFFFFF", "signed32(v)"),
    "enum": ("0x7FFFFFFF", "signed32(v)"),
    "int64": ("0x7FFFFFFFFFFFFFFF", "signed64(v)"),
    "uint32": ("0xFFFFFFFF", "v & 0xFFFFFFFF"),
    "uint64": ("0xFFFFFFFFFFFFFFFF", "v & 0xFFFFFFFFFFFFFFFF"),
}
_LEAF = 3  # tags compared one by one below this many; a binary split above


def generate_decoder(plan: MessagePlan, merge: Callable[..., object]) -> Source:
    """The source of ``decode(data, pos, end)`` for ``plan``; ``merge`` handles repeated singular messages."""
    src = Source(f"decode {plan.name}")
    src.namespace.update(
        read_varint=_runtime.read_varint,
        read_tag=_runtime.read_tag,
        read_size=_runtime.read_size,
        skip_field=_runtime.skip_field,
        signed32=_runtime.signed32,
        signed64=_runtime.signed64,
        unzigzag=_runtime.unzigzag,
        overrun=_runtime.overrun,
        misaligned=_runtime.misaligned,
        Malformed=_runtime.Malformed,
        merge=merge,
        new=object.__new__,
        C=plan.cls,
    )
    defaults = {field.name: None if field.repeated or field.entry else field.default for field in plan.fields}
    defaults["_unknown_fields"] = b""
    src.namespace["DEFAULTS"] = defaults
    src.add(0, "def decode(data, pos, end):")
    # Copying a prebuilt dict is much faster than building one from locals for wide messages.
    src.add(1, "d = DEFAULTS.copy()")
    for index, field in enumerate(plan.fields):
        if field.repeated or field.entry:
            src.add(1, f"f{index} = d[{field.name!r}] = {'{}' if field.entry else '[]'}")
    for group in _oneofs(plan):
        src.add(1, f"{group} = None")
    src.add(1, "while pos < end:")
    src.add(2, "s = pos")
    src.add(2, "t = data[pos]")
    src.add(2, "pos += 1")
    src.add(2, "if t >= 128:")
    if any(field.number >= 16 for field in plan.fields):
        # Two-byte tags (fields 16 to 2047) are common enough here to read inline.
        src.add(3, "u = data[pos]")
        src.add(3, "pos += 1")
        src.add(3, "if u < 128:")
        src.add(4, "t = (t & 127) | (u << 7)")
        src.add(3, "else:")
        src.add(4, "t, pos = read_tag(data, s + 1, t)")
    else:
        src.add(3, "t, pos = read_tag(data, pos, t)")
    cases: list[tuple[int, Callable[[int], None]]] = []
    for index, field in enumerate(plan.fields):
        cases.extend(_cases(src, plan, index, field))
    cases.sort(key=lambda case: case[0])
    _dispatch(src, 2, cases)
    src.add(1, "if pos != end:")
    src.add(2, f"raise misaligned({plan.name!r}, end)")
    src.add(1, "o = new(C)")
    src.add(1, "o.__dict__ = d")
    src.add(1, "return o")
    return src


def _oneofs(plan: MessagePlan) -> dict[str, str]:
    """The local holding the name of the member set last -> its oneof group, for each group."""
    names = dict.fromkeys(field.oneof for field in plan.fields if field.oneof)
    return {f"g{index}": name for index, name in enumerate(names) if name}


def _initial(src: Source, field: FieldPlan) -> str:
    if type(field.default) in _LITERAL_TYPES:
        return repr(field.default)
    return src.const(field.default, "D")


def _dispatch(src: Source, depth: int, cases: list[tuple[int, Callable[[int], None]]]) -> None:
    if len(cases) > _LEAF:
        middle = len(cases) // 2
        src.add(depth, f"if t < {cases[middle][0]}:")
        _dispatch(src, depth + 1, cases[:middle])
        src.add(depth, "else:")
        _dispatch(src, depth + 1, cases[middle:])
        return
    for position, (tag, body) in enumerate(cases):
        src.add(depth, f"{'if' if position == 0 else 'elif'} t == {tag}:")
        body(depth + 1)
    if cases:
        src.add(depth, "else:")
        depth += 1
    src.add(depth, "pos = skip_field(data, pos, end, t)")
    src.add(depth, "d['_unknown_fields'] += data[s:pos]")


def _tag(number: int, wire_type: int) -> int:
    return number << 3 | wire_type


def _cases(
    src: Source, plan: MessagePlan, index: int, field: FieldPlan
) -> list[tuple[int, Callable[[int], None]]]:
    target = f"f{index}"
    label = f"{plan.name}.{field.name}"
    group = next((local for local, name in _oneofs(plan).items() if name == field.oneof), None)

    def single(depth: int) -> None:
        _read(src, depth, field, f"d[{field.name!r}]", label, "end", "", merge=True)
        if group:
            # Setting one member of a oneof clears the member set before it.
            src.add(depth, f"if {group} is not None and {group} != {field.name!r}:")
            src.add(depth + 1, f"d[{group}] = None")
            src.add(depth, f"{group} = {field.name!r}")

    def append(depth: int) -> None:
        _read(src, depth, field, f"{target}.append", label, "end", "", merge=False)

    def packed(depth: int) -> None:
        _packed(src, depth, field, target, label)

    def entry(depth: int) -> None:
        _entry(src, depth, field, target, label)

    if field.proto_type == "map":
        return [(_tag(field.number, 2), entry)]
    if field.repeated:
        cases: list[tuple[int, Callable[[int], None]]] = [(_tag(field.number, field.wire_type), append)]
        if field.packed:
            cases.append((_tag(field.number, 2), packed))
        return cases
    return [(_tag(field.number, field.wire_type), single)]


def _store(target: str, expr: str) -> str:
    return f"{target}({expr})" if target.endswith(".append") else f"{target} = {expr}"


def _length(src: Source, depth: int, label: str, bound: str, sfx: str) -> None:
    """Read a length prefix into ``n{sfx}`` and the end of the value into ``e{sfx}``, checked."""
    n, e = f"n{sfx}", f"e{sfx}"
    src.add(depth, f"{n} = data[pos]")
    src.add(depth, "pos += 1")
    src.add(depth, f"if {n} >= 128:")
    # Two-byte lengths (128 B to 16 KiB) are common enough to read inline.
    src.add(depth + 1, "u = data[pos]")
    src.add(depth + 1, "if u < 128:")
    src.add(depth + 2, f"{n} = ({n} & 127) | (u << 7)")
    src.add(depth + 2, "pos += 1")
    src.add(depth + 1, "else:")
    src.add(depth + 2, f"{n}, pos = read_size(data, pos, {n})")
    src.add(depth, f"{e} = pos + {n}")
    src.add(depth, f"if {e} > {bound}:")
    src.add(depth + 1, f"raise overrun({label!r}, pos, {n}, {bound})")


def _read(
    src: Source, depth: int, field: FieldPlan, target: str, label: str, bound: str, sfx: str, *, merge: bool
) -> None:
    """Read one value of ``field`` (its tag already consumed) and store it into ``target``."""
    kind = field.proto_type
    e = f"e{sfx}"
    if kind in ("string", "bytes", "message") or field.unwrap:
        _length(src, depth, label, bound, sfx)
        if kind == "string":
            src.add(depth, _store(target, f"data[pos:{e}].decode()"))
        elif kind == "bytes":
            src.add(depth, _store(target, f"data[pos:{e}]"))
        else:
            assert field.python_type is not None
            decode = src.link("decode", field.python_type)
            value = f"{decode}(data, pos, {e})"
            if field.unwrap:
                value += ".to_wrapped()"
            if merge and kind == "message":
                cls = src.const(field.python_type, "M")
                src.add(depth, f"if {target} is None:")
                if lazy.is_lazy(field.python_type):
                    src.add(depth + 1, f"o = new({src.const(lazy.shell_class(field.python_type), 'L')})")
                    src.add(depth + 1, f"o.__dict__ = {{{lazy.WIRE!r}: data[pos:{e}]}}")
                    value = "o"
                src.add(depth + 1, _store(target, value))
                src.add(depth, "else:")
                src.add(depth + 1, _store(target, f"merge({cls}, {target}, {field.unwrap}, data, pos, {e})"))
            else:
                src.add(depth, _store(target, value))
        src.add(depth, f"pos = {e}")
    elif kind in STRUCT_FORMATS:
        width = struct.calcsize(STRUCT_FORMATS[kind])
        unpack = src.const(struct.Struct("<" + STRUCT_FORMATS[kind]).unpack_from, "U")
        src.add(depth, f"if pos + {width} > {bound}:")
        src.add(depth + 1, f"raise overrun({label!r}, pos, {width}, {bound})")
        src.add(depth, _store(target, f"{unpack}(data, pos)[0]"))
        src.add(depth, f"pos += {width}")
    else:
        src.add(depth, "v = data[pos]")
        src.add(depth, "pos += 1")
        src.add(depth, "if v >= 128:")
        src.add(depth + 1, "v, pos = read_varint(data, pos, v)")
        _store_varint(src, depth, field, target)


def _store_varint(src: Source, depth: int, field: FieldPlan, target: str) -> None:
    kind = field.proto_type
    if kind in _SIGN:
        limit, fix = _SIGN[kind]
        src.add(depth, f"if v > {limit}:")
        src.add(depth + 1, f"v = {fix}")
    if kind == "bool":
        src.add(depth, _store(target, "v != 0"))
    elif kind in ("sint32", "sint64"):
        src.add(depth, _store(target, f"unzigzag(v, {kind[4:]})"))
    elif kind == "enum":
        assert field.python_type is not None
        members = src.const(dict(field.python_type._value2member_map_), "E")  # type: ignore[attr-defined]
        enum = src.const(field.python_type, "N")
        src.add(depth, f"x = {members}.get(v)")
        src.add(depth, "if x is None:")
        src.add(depth + 1, f"x = {enum}(v)")
        src.add(depth, _store(target, "x"))
    else:
        src.add(depth, _store(target, "v"))


def _packed(src: Source, depth: int, field: FieldPlan, target: str, label: str) -> None:
    _length(src, depth, label, "end", "")
    kind = field.proto_type
    if kind in STRUCT_FORMATS:
        width = struct.calcsize(STRUCT_FORMATS[kind])
        src.add(depth, f"if n % {width}:")
        src.add(depth + 1, f"raise Malformed('packed {label} is not a whole number of values', pos)")
        fmt = STRUCT_FORMATS[kind]
        src.add(depth, f"{target}.extend({src.const(struct.unpack_from, 'unpack')}"
                       f"('<%d{fmt}' % (n // {width}), data, pos))")
        src.add(depth, "pos = e")
        return
    src.add(depth, "while pos < e:")
    src.add(depth + 1, "v = data[pos]")
    src.add(depth + 1, "pos += 1")
    src.add(depth + 1, "if v >= 128:")
    src.add(depth + 2, "v, pos = read_varint(data, pos, v)")
    _store_varint(src, depth + 1, field, f"{target}.append")
    src.add(depth, "if pos != e:")
    src.add(depth + 1, f"raise misaligned({'packed ' + label!r}, e)")


def _entry(src: Source, depth: int, field: FieldPlan, target: str, label: str) -> None:
    """Read one map entry message inline and store it into the dict ``target``."""
    assert field.entry is not None
    key, value = field.entry.fields
    _length(src, depth, label, "end", "")
    src.add(depth, f"k = {_initial(src, key)}")
    src.add(depth, f"y = {_initial(src, value)}")
    src.add(depth, "while pos < e:")
    src.add(depth + 1, "t = data[pos]")
    src.add(depth + 1, "pos += 1")
    src.add(depth + 1, f"if t == {_tag(1, key.wire_type)}:")
    _read(src, depth + 2, key, "k", label + " key", "e", "1", merge=False)
    src.add(depth + 1, f"elif t == {_tag(2, value.wire_type)}:")
    _read(src, depth + 2, value, "y", label + " value", "e", "1", merge=True)
    src.add(depth + 1, "else:")
    src.add(depth + 2, "if t >= 128:")
    src.add(depth + 3, "t, pos = read_tag(data, pos, t)")
    src.add(depth + 2, "pos = skip_field(data, pos, e, t)")
    src.add(depth, "if pos != e:")
    src.add(depth + 1, f"raise misaligned({label + ' entry'!r}, e)")
    if value.proto_type == "message" and not value.unwrap:
        assert value.python_type is not None
        src.add(depth, "if y is None:")
        src.add(depth + 1, f"y = {src.link('decode', value.python_type)}(data, 0, 0)")
    src.add(depth, f"{target}[k] = y")

