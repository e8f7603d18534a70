"""What a handler's arguments, return value or exception become on the wire, without IO (SEMANTICS §2).

A handler receives the request fields named in its hook row, and its answer maps to the response:

- ``None``: the empty response: allow, unchanged, nothing to report (an allowed post is sent back
  with an *unset* ``modified_post``, never echoed, because the host strips fields from it);
- an instance of the hook's response message: sent as is;
- :class:`Reject` (reject-style hooks only): ``rejection_reason``;
- any other value fills the row's ``result`` field and must have that field's type.

An exception becomes the hook's negative answer (:func:`error_response`), never a gRPC error status,
because the host treats a failed call as "allow" for the hooks that can refuse.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, NamedTuple

import betterproto2

from mmplugin.hooks import Hook, OnError
from mmplugin.plugin.errors import HookError
from mmplugin.proto import pb


@dataclass(frozen=True)
class Reject:
    """Return ``Reject("reason")`` from a reject-style hook to refuse the post, login, upload...

    ``Reject(DISMISS_POST)`` from MessageWillBePosted/Updated drops the post silently.
    """

    reason: str

    def __post_init__(self) -> None:
        if not self.reason:
            raise ValueError("Reject needs a non-empty reason: the host reads an empty one as 'allow'")


class ResultTypeError(TypeError):
    """A handler returned a value its hook cannot send."""


class _ResultType(NamedTuple):
    item: type
    repeated: bool

    def accepts(self, value: object) -> bool:
        if self.repeated:
            return isinstance(value, (list, tuple)) and all(self._accepts_item(v) for v in value)
        return self._accepts_item(value)

    def _accepts_item(self, value: object) -> bool:
        if self.item is int and isinstance(value, bool):
            return False
        return isinstance(value, self.item)

    def describe(self) -> str:
        return f"list[{self.item.__name__}]" if self.repeated else self.item.__name__


_RESULT_TYPES: dict[str, _ResultType] = {}


def _result_type(hook: Hook) -> _ResultType | None:
    if hook.result is None:
        return None
    cached = _RESULT_TYPES.get(hook.name)
    if cached is None:
        hint = typing.get_type_hints(hook.response)[hook.result]
        if isinstance(hint, types.UnionType):
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        repeated = typing.get_origin(hint) is list
        item = typing.get_args(hint)[0] if repeated else hint
        cached = _RESULT_TYPES[hook.name] = _ResultType(item, repeated)
    return cached


def arguments(hook: Hook, request: betterproto2.Message) -> tuple[Any, ...]:
    """The handler's positional arguments: the request fields listed in the hook row, in order."""
    return tuple(getattr(request, name) for name in hook.params)


def expected_results(hook: Hook) -> str:
    """What a handler of ``hook`` may return, in words (for error messages and docs)."""
    choices = ["None"]
    result = _result_type(hook)
    if result is not None:
        choices.append(result.describe())
    if hook.on_error is OnError.REJECT:
        choices.append("Reject(reason)")
    choices.append(hook.response.__name__)
    return ", ".join(choices[:-1]) + " or " + choices[-1]


def to_response(hook: Hook, value: object) -> betterproto2.Message:
    """The response for a handler's return value; :class:`ResultTypeError` when it does not fit."""
    if value is None:
        return hook.response()
    if isinstance(value, hook.response):
        return value
    if isinstance(value, Reject) and hook.on_error is OnError.REJECT:
        return fill(hook, "rejection_reason", value.reason)
    result = _result_type(hook)
    if result is not None and hook.result is not None and result.accepts(value):
        filled = list(value) if isinstance(value, tuple) else value
        return fill(hook, hook.result, filled)
    raise ResultTypeError(
        f"{hook.method} returned {type(value).__name__}; {hook.name} expects {expected_results(hook)}"
    )


def describe(exc: BaseException) -> str:
    """The human text of an exception: a HookError's message, else ``Type: text``."""
    if isinstance(exc, HookError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def error_response(hook: Hook, exc: BaseException) -> betterproto2.Message:
    """The hook's negative answer for an exception raised by (or about) its handler.

    AppError hooks get ``error`` with the text in both ``message`` and ``detailed_error`` (the Go
    host drops ``message``), ``id`` ``plugin.<handler>.error``, ``where`` the hook name and status
    500, unless a :class:`HookError` chose them.
    """
    text = describe(exc)
    if hook.on_error is OnError.APP_ERROR:
        chosen = exc if isinstance(exc, HookError) else None
        error = pb.AppError(
            id=(chosen.id if chosen and chosen.id else f"plugin.{hook.method}.error"),
            message=text,
            detailed_error=chosen.detailed_error if chosen else text,
            where=hook.name,
            status_code=chosen.status_code if chosen else 500,
        )
        return fill(hook, "error", error)
    if hook.on_error is OnError.REJECT:
        return fill(hook, "rejection_reason", text)
    if hook.on_error is OnError.UNHEALTHY:
        return fill(hook, "healthy", False)
    return hook.response()


def fill(hook: Hook, field: str, value: object) -> betterproto2.Message:
    """``hook``'s response with one field set."""
    return hook.response(**{field: value})
