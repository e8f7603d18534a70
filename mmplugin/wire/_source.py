"""A small builder for the Python source of one generated function and the globals it runs with."""

from __future__ import annotations

import linecache
from typing import Any


class Source:
    """Lines of code plus the constants and cross-references they name.

    Constants (tag bytes, classes, struct packers) become globals of the generated function.
    References to another message's encoder or decoder are collected in :attr:`links` so the
    compiler can bind them lazily, which keeps recursive types (Struct, Value, ListValue) simple.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        self.links: dict[str, tuple[str, type]] = {}
        self._names: dict[tuple[Any, ...], str] = {}

    def add(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def const(self, value: Any, prefix: str) -> str:
        """A global name bound to ``value`` (deduplicated by value for bytes, by identity otherwise)."""
        simple = isinstance(value, (bytes, str, int)) and not isinstance(value, bool)
        key = (prefix, type(value), value if simple else id(value))
        name = self._names.get(key)
        if name is None:
            name = f"{prefix}{len(self._names)}"
            self._names[key] = name
            self.namespace[name] = value
        return name

    def link(self, kind: str, cls: type) -> str:
        """A global name that will hold the ``kind`` ("encode" or "decode") function of ``cls``."""
        key = (kind, cls)
        name = self._names.get(key)
        if name is None:
            name = f"{kind}_{cls.__name__}_{len(self._names)}"
            self._names[key] = name
            self.links[name] = (kind, cls)
        return name

    def build(self) -> None:
        """Compile the lines into :attr:`namespace`, registered with linecache for readable tracebacks."""
        text = "\n".join(self.lines) + "\n"
        filename = f"<mmplugin.wire {self.title}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        exec(compile(text, filename, "exec"), self.namespace)
