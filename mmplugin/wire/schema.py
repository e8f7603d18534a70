"""What the code generators need to know about a message class, read from betterproto2's metadata.

betterproto2 keeps each field's protobuf facts in ``cls.__dataclass_fields__[name].metadata
['betterproto']`` and resolves the Python classes of message, enum and map fields in
``cls._betterproto.cls_by_field``; this module turns both into plain :class:`FieldPlan` rows.
"""

from __future__ import annotations

import dataclasses
import keyword
from typing import Any

import betterproto2

VARINT_TYPES = frozenset({"enum", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64"})
FIXED32_TYPES = frozenset({"float", "fixed32", "sfixed32"})
FIXED64_TYPES = frozenset({"double", "fixed64", "sfixed64"})
LENGTH_TYPES = frozenset({"string", "bytes", "message", "map"})
PACKABLE_TYPES = VARINT_TYPES | FIXED32_TYPES | FIXED64_TYPES
STRUCT_FORMATS = {
    "float": "f", "double": "d", "fixed32": "I", "sfixed32": "i", "fixed64": "Q", "sfixed64": "q",
}


class Unsupported(Exception):
    """A message class the generators cannot compile (the codec then uses betterproto2 for it)."""


@dataclasses.dataclass(frozen=True)
class FieldPlan:
    """One field of a message, as the generators see it."""

    name: str
    number: int
    proto_type: str
    repeated: bool
    # Encoded whenever it is not None (proto3 ``optional``, oneof members, messages, wrappers).
    presence: bool
    oneof: str | None
    # The message class (or the wrapper message class when ``unwrap``), or the enum class.
    python_type: type | None
    # The Python value is the unwrapped form of the ``python_type`` wrapper message.
    unwrap: bool
    # Map fields: the plan of the synthetic entry message (fields ``key`` = 1, ``value`` = 2).
    entry: MessagePlan | None
    # The default value when not repeated and not a map (immutable: str, int, enum member, None...).
    default: Any

    @property
    def wire_type(self) -> int:
        if self.proto_type in VARINT_TYPES:
            return 0
        if self.proto_type in FIXED64_TYPES:
            return 1
        if self.proto_type in FIXED32_TYPES:
            return 5
        return 2

    @property
    def packed(self) -> bool:
        """Repeated scalars are written packed (proto3 default), as betterproto2 does."""
        return self.repeated and self.proto_type in PACKABLE_TYPES

    @property
    def label(self) -> str:
        return f"field {self.name} ({self.number})"


@dataclasses.dataclass(frozen=True)
class MessagePlan:
    """A message class and its fields in betterproto2's serialisation order (declaration order)."""

    cls: type
    fields: tuple[FieldPlan, ...]

    @property
    def name(self) -> str:
        return self.cls.__qualname__


def plan_message(cls: type) -> MessagePlan:
    """Read the field plan of a betterproto2 message class; raise :class:`Unsupported` if it cannot."""
    if not (isinstance(cls, type) and issubclass(cls, betterproto2.Message)):
        raise Unsupported(f"{cls!r} is not a betterproto2 message class")
    if not dataclasses.is_dataclass(cls):
        raise Unsupported(f"{cls.__qualname__} is not a dataclass")
    if getattr(cls, "__post_init__", None) is not betterproto2.Message.__post_init__:
        raise Unsupported(f"{cls.__qualname__} defines its own __post_init__")
    proto_meta = cls._betterproto
    fields = []
    for dc_field in dataclasses.fields(cls):
        meta = dc_field.metadata.get("betterproto")
        if not isinstance(meta, betterproto2.FieldMetadata):
            raise Unsupported(f"{cls.__qualname__}.{dc_field.name} has no betterproto2 metadata")
        fields.append(_plan_field(cls, dc_field.name, meta, proto_meta))
    return MessagePlan(cls, tuple(fields))


def _plan_field(cls: type, name: str, meta: betterproto2.FieldMetadata, proto_meta: Any) -> FieldPlan:
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        raise Unsupported(f"{cls.__qualname__} has a field named {name!r}")
    kind = meta.proto_type
    known = VARINT_TYPES | FIXED32_TYPES | FIXED64_TYPES | LENGTH_TYPES
    if kind not in known:
        raise Unsupported(f"{cls.__qualname__}.{name} has proto type {kind!r}")
    entry = None
    python_type: type | None = None
    unwrap = meta.unwrap is not None
    if kind == "map":
        entry = plan_message(proto_meta.cls_by_field[name])
    elif meta.unwrap is not None:
        python_type = meta.unwrap()
    elif kind in ("message", "enum"):
        python_type = proto_meta.cls_by_field[name]
    repeated = bool(meta.repeated)
    default = None if repeated or kind == "map" else proto_meta.default_gen[name]()
    return FieldPlan(
        name=name,
        number=meta.number,
        proto_type=kind,
        repeated=repeated,
        presence=bool(meta.optional or meta.group) or (kind == "message" and not repeated),
        oneof=meta.group,
        python_type=python_type,
        unwrap=unwrap,
        entry=entry,
        default=default,
    )
