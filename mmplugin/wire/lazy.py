"""``google.protobuf.Struct`` and ``ListValue`` fields are decoded when first read, not when received.

A post's ``props`` is a Struct, often with Structs and lists nested in it, and most handlers read
none of it or one key: decoding it eagerly was two thirds of decoding a MessageWillBePosted
request. So a decoder stores a singular Struct or ListValue field as a *shell*: an instance of a
subclass of the message class (``LazyStruct``, ``LazyListValue``) that keeps the field's wire bytes.
The first read or write of any of its fields decodes those bytes (one level: the Structs and
lists inside it are shells in turn), fills the instance and turns it into a plain ``Struct`` or
``ListValue`` (``__class__`` assignment), so it behaves as an eagerly decoded message from then on.
Equality, ``repr``, ``bool``, copying, pickling and betterproto2's serialisers all read fields and
so decode first; ``isinstance(value, Struct)`` holds throughout. What reads the instance dict
directly (``vars()``) sees only the wire bytes until then.

Encoding a shell that was never read copies its wire bytes (the generated encoders check for
shells), so a post handed back unchanged is not decoded and re-encoded. Bytes that turn out to be
malformed raise :class:`~mmplugin.wire.errors.DecodeError` at that first read, and again at any
later one, since the shell stays as it was.
"""

from __future__ import annotations

import threading
from typing import Any

from mmplugin.wire import codec

WIRE = "_mmplugin_wire"
"""The key of a shell's wire bytes in its instance dict (the only key it has)."""

_LAZY = frozenset({("mmplugin_proto.google.protobuf", "Struct"), ("mmplugin_proto.google.protobuf", "ListValue")})
_shells: dict[type, type] = {}
_materializing = threading.Lock()


def is_lazy(cls: type) -> bool:
    """True for the message classes whose singular fields decode on first read."""
    return (cls.__module__, cls.__qualname__) in _LAZY


def shell_class(cls: type) -> type:
    """The shell subclass of lazy message class ``cls`` (see :func:`is_lazy`), made once."""
    shell = _shells.get(cls)
    if shell is None:
        shell = _shells.setdefault(cls, _make_shell(cls))
    return shell


def base_class(cls: type) -> type:
    """The message class of a shell class; any other class unchanged."""
    return getattr(cls, "_mmplugin_base", cls)


def _make_shell(cls: type) -> type:
    names = [*cls.__dataclass_fields__, "_unknown_fields"]  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__module__": cls.__module__,
        "__doc__": f"A {cls.__name__} not decoded yet; it becomes a plain {cls.__name__} when first read.",
        "_mmplugin_base": cls,
        "__eq__": _eq,
        "__reduce__": _reduce,
    }
    namespace.update({name: _field_property(name) for name in names})
    return type(f"Lazy{cls.__name__}", (cls,), namespace)


def _materialize(shell: Any) -> None:
    """Decode ``shell``'s bytes into it and make it an instance of the message class."""
    with _materializing:
        base = getattr(type(shell), "_mmplugin_base", None)
        if base is None:
            return  # another thread decoded it meanwhile
        wire = shell.__dict__.get(WIRE)
        if wire is not None:
            shell.__dict__ = codec.decode(base, wire).__dict__
        shell.__class__ = base


def _field_property(name: str) -> property:
    def read(self: Any) -> Any:
        _materialize(self)
        return getattr(self, name)

    def write(self: Any, value: Any) -> None:
        _materialize(self)
        setattr(self, name, value)

    def delete(self: Any) -> None:
        _materialize(self)
        delattr(self, name)

    return property(read, write, delete)


def _eq(self: Any, other: object) -> bool:
    _materialize(self)
    return bool(self == other)


def _reduce(self: Any) -> tuple[Any, ...]:
    _materialize(self)
    return self.__reduce__()  # type: ignore[no-any-return]
