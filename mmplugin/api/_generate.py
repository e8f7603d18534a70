"""Write ``mmplugin/api/_methods.py``: one typed method per ``PluginAPI`` RPC, async and sync.

Usage (from the repository root, with the test extras installed, as ruff formats the output)::

    python -m mmplugin.api._generate          # rewrite mmplugin/api/_methods.py
    python -m mmplugin.api._generate --check  # exit 1 when it is stale

The RPCs, their request fields and their response payloads are read from the generated service
(``pb.PluginApiBase``), which tests/test_contract.py keeps equal to the wire contract. Every method
takes the request's fields as keyword arguments and returns the payload: the response's field 2
(``None`` when there is none, a NamedTuple when there are several).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

from mmplugin.proto import pb, wkt

OUTPUT = Path(__file__).with_name("_methods.py")
_MODULES = {pb.__name__: "pb", wkt.__name__: "wkt"}
# These requests flatten a Go options struct (UserGetOptions, UserSearch) whose fields are all
# optional, so their parameters default to the proto3 zero value. Every other parameter is required.
_OPTIONS_RPCS = frozenset({"GetUsers", "SearchUsers"})
_ZERO = {str: '""', int: "0", bool: "False", bytes: 'b""', float: "0.0"}


def snake_case(rpc: str) -> str:
    """The Python method name of an RPC: ``KVSetWithOptions`` → ``kv_set_with_options``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", rpc.replace("OAuth", "Oauth"))
    return words.lower()


def render_type(hint: object) -> str:
    """Source text for a resolved field type, as seen from the generated module."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return " | ".join(render_type(arg) for arg in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(render_type(arg) for arg in args)}]"
    if hint is type(None):
        return "None"
    assert isinstance(hint, type), hint
    module = _MODULES.get(hint.__module__)
    return f"{module}.{hint.__qualname__}" if module else hint.__qualname__


def _without_none(hint: object) -> object:
    """A message parameter is required: ``Post | None`` is asked for as ``Post``."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (types.UnionType, typing.Union) and len(args) == 1 else hint


@dataclasses.dataclass(frozen=True)
class Param:
    """One keyword parameter: ``name: type = default``, passed to the request as ``arg``."""

    name: str
    type: str
    default: str | None = None
    arg: str = ""

    def source(self) -> str:
        return f"{self.name}: {self.type}" + (f" = {self.default}" if self.default else "")


def _param(name: str, hint: object, optional: bool) -> Param:
    required = _without_none(hint)
    if not optional:
        return Param(name, render_type(required), arg=name)
    if required in _ZERO:
        return Param(name, render_type(required), _ZERO[required], name)
    # Messages, lists and maps default to None: unset, or empty.
    empties: dict[object, str] = {list: "[]", dict: "{}"}
    empty = empties.get(typing.get_origin(required))
    return Param(name, f"{render_type(required)} | None", "None", f"{name} or {empty}" if empty else name)


@dataclasses.dataclass(frozen=True)
class Rpc:
    """One PluginAPI RPC as the generated methods see it."""

    name: str
    request: type
    response: type

    @property
    def method(self) -> str:
        return snake_case(self.name)

    def params(self) -> list[Param]:
        hints = typing.get_type_hints(self.request)
        optional = self.name in _OPTIONS_RPCS
        return [_param(f.name, hints[f.name], optional) for f in dataclasses.fields(self.request)]

    def payload(self) -> list[tuple[str, str]]:
        hints = typing.get_type_hints(self.response)
        fields = dataclasses.fields(self.response)
        assert fields[0].name == "error", f"{self.name}: field 1 of the response is not error"
        return [(f.name, render_type(hints[f.name])) for f in fields[1:]]

    @property
    def result_class(self) -> str:
        return self.response.__name__.removesuffix("Response") + "Result"


def service_rpcs() -> list[Rpc]:
    """Every PluginAPI RPC in service order."""
    rpcs = []
    for path, handler in pb.PluginApiBase().__mapping__().items():
        rpcs.append(Rpc(path.rsplit("/", 1)[1], handler.request_type, handler.reply_type))
    names = [rpc.method for rpc in rpcs]
    assert len(set(names)) == len(names), "two RPCs map to the same method name"
    return rpcs


def _method(rpc: Rpc, is_async: bool) -> str:
    params = "".join(f", {param.source()}" for param in rpc.params())
    star = ", *" if params else ""
    payload = rpc.payload()
    if not payload:
        returns, doc, result = "None", "no payload", ""
    elif len(payload) == 1:
        (name, returns), = payload
        doc, result = f"the ``{name}`` field", f"response.{name}"
    else:
        names = ", ".join(name for name, _ in payload)
        returns, doc = rpc.result_class, f"``{rpc.result_class}({names})``"
        result = f"{rpc.result_class}({', '.join(f'response.{name}' for name, _ in payload)})"
    args = ", ".join(f"{param.name}={param.arg}" for param in rpc.params())
    call = f'self._call("{rpc.name}", pb.{rpc.request.__name__}({args}), pb.{rpc.response.__name__})'
    await_ = "await " if is_async else ""
    body = f"response = {await_}{call}\n        return {result}" if result else f"{await_}{call}"
    return (
        f"    {'async ' if is_async else ''}def {rpc.method}(self{star}{params}) -> {returns}:\n"
        f'        """``{rpc.name}``; returns {doc}."""\n'
        f"        {body}\n"
    )


_HEADER = '''"""Generated by ``python -m mmplugin.api._generate`` from the PluginAPI service: do not edit.

One method per RPC, taking the request's fields as keyword arguments and returning the response's
payload. Errors in either of the host's conventions raise :mod:`mmplugin.api.errors` exceptions.
"""

from __future__ import annotations

from typing import NamedTuple

import betterproto2

from mmplugin.proto import pb, wkt

from ._transport import ResponseT
'''


def render() -> str:
    """The complete source of ``_methods.py``, formatted by ruff."""
    rpcs = service_rpcs()
    parts = [_HEADER]
    for rpc in rpcs:
        if len(rpc.payload()) > 1:
            fields = "".join(f"    {name}: {type_}\n" for name, type_ in rpc.payload())
            parts.append(f"\n\nclass {rpc.result_class}(NamedTuple):\n"
                         f'    """The payload of ``{rpc.name}``."""\n\n{fields}')
    for cls, is_async in (("AsyncMethods", True), ("SyncMethods", False)):
        kind = "awaitable" if is_async else "blocking"
        call = "async def _call" if is_async else "def _call"
        parts.append(
            f"\n\nclass {cls}:\n"
            f'    """The {len(rpcs)} PluginAPI RPCs as {kind} methods; a subclass provides ``_call``."""\n\n'
            f"    __slots__ = ()\n\n"
            f"    {call}(self, rpc: str, request: betterproto2.Message, response_type: type[ResponseT])"
            " -> ResponseT:\n        raise NotImplementedError\n"
        )
        parts.extend("\n" + _method(rpc, is_async) for rpc in rpcs)
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--line-length", "110", "-"],
        input="".join(parts), capture_output=True, text=True, check=True,
    )
    return formatted.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report whether _methods.py is stale")
    args = parser.parse_args(argv)
    source = render()
    if args.check:
        stale = not OUTPUT.exists() or OUTPUT.read_text() != source
        if stale:
            print(f"stale: {OUTPUT}; run `python -m mmplugin.api._generate`")
        return 1 if stale else 0
    OUTPUT.write_text(source)
    print(f"wrote {len(service_rpcs())} methods (async and sync) to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
