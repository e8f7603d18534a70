"""What the code generators need to know about a message class, read from betterproto2's metadata.

betterproto2 keeps each field's protobuf facts in ``cls.__dataclass_fields__[name].metadata
['betterproto']``, and the Python classes of message and enum fields in the class's annotations;
this module turns both into plain :class:`FieldPlan` rows. Only the annotations of message, enum
and map fields are evaluated, once each, in the class's module: ``typing.get_type_hints`` would
evaluate every field's (a compile and an eval each, most of a plan's time on a wide message such as
Post), and betterproto2's own table (``cls._betterproto.cls_by_field``) reads all of a class's hints
again for each such field (some 20 ms for User, whose three maps once sent the plan there).
"""

from __future__ import annotations

import dataclasses
import keyword
import sys
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
    fields = []
    for dc_field in dataclasses.fields(cls):
        meta = dc_field.metadata.get("betterproto")
        if not isinstance(meta, betterproto2.FieldMetadata):
            raise Unsupported(f"{cls.__qualname__}.{dc_field.name} has no betterproto2 metadata")
        fields.append(_plan_field(cls, dc_field, meta))
    return MessagePlan(cls, tuple(fields))


def _annotation(cls: type, dc_field: dataclasses.Field[Any]) -> Any:
    hint = dc_field.type
    if isinstance(hint, str):  # the generated modules' annotations are strings (PEP 563)
        hint = eval(hint, vars(sys.modules[cls.__module__]))
    return hint


def _field_class(cls: type, dc_field: dataclasses.Field[Any]) -> Any:
    """The class a field's annotation names, as betterproto2 reads it: ``Post | None`` and
    ``list[Post]`` name Post, an enum's annotation is the enum."""
    hint = _annotation(cls, dc_field)
    args = getattr(hint, "__args__", None)
    return hint if args is None else args[0]


def _entry_plan(cls: type, dc_field: dataclasses.Field[Any], meta: betterproto2.FieldMetadata) -> MessagePlan:
    """The entry message of a map field (``key`` = 1, ``value`` = 2), declared as betterproto2 declares
    its own entry class: from the field's ``map_meta`` and the key and value classes of its
    annotation (``dict[str, Post]``). The plan's ``cls`` is the message holding the map."""
    if meta.map_meta is None:
        raise Unsupported(f"{cls.__qualname__}.{dc_field.name} is a map without map metadata")
    classes = getattr(_annotation(cls, dc_field), "__args__", None) or ()
    if len(classes) != 2:
        raise Unsupported(f"{cls.__qualname__}.{dc_field.name} is a map not annotated dict[K, V]")
    fields = []
    for number, name, part, python_type in zip((1, 2), ("key", "value"), meta.map_meta, classes, strict=True):
        enum_default = (lambda enum=python_type: enum(0)) if part.proto_type == "enum" else None
        entry_field = betterproto2.field(number, part.proto_type, unwrap=part.unwrap, default_factory=enum_default)
        entry_field.name, entry_field.type = name, python_type
        fields.append(_plan_field(cls, entry_field, entry_field.metadata["betterproto"]))
    return MessagePlan(cls, tuple(fields))


def _plan_field(cls: type, dc_field: dataclasses.Field[Any], meta: betterproto2.FieldMetadata) -> FieldPlan:
    name = dc_field.name
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
        entry = _entry_plan(cls, dc_field, meta)
    elif meta.unwrap is not None:
        python_type = meta.unwrap()
    elif kind in ("message", "enum"):
        python_type = _field_class(cls, dc_field)
    repeated = bool(meta.repeated)
    factory = dc_field.default_factory  # betterproto2 gives every field one (its default_gen)
    if factory is dataclasses.MISSING:
        raise Unsupported(f"{cls.__qualname__}.{name} has no default factory")
    default = None if repeated or kind == "map" else factory()
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
