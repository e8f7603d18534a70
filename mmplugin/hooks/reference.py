"""Render the hook reference (``docs/hooks.md``) from the hook table, so the docs cannot drift.

Run ``python -m mmplugin.hooks.reference docs/hooks.md`` to rewrite it; a test fails while stale.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, cast

import betterproto2

from mmplugin.hooks.table import HOOKS, Hook, OnError

_ON_ERROR = {
    OnError.APP_ERROR: "the response's `error` (AppError `plugin.<method>.error`, status 500, text in "
    "`message` and `detailed_error`); raise `HookError` to choose the id and status",
    OnError.REJECT: "a rejection: `rejection_reason` is the error text",
    OnError.UNHEALTHY: "`healthy = false`",
    OnError.LOG: "logged with its traceback; the host sees an empty response",
}


def _field_types(message: type[betterproto2.Message]) -> dict[str, str]:
    """Field name to annotation text, as the generated dataclass declares it."""
    return {f.name: str(f.type) for f in dataclasses.fields(cast(Any, message))}


def signature(hook: Hook) -> str:
    """The handler signature a plugin class defines for ``hook``."""
    if hook.streaming:
        return f"{hook.method}(self, ctx, request) -> Response"
    request_types = _field_types(hook.request)
    params = "".join(f", {name}: {request_types[name]}" for name in hook.params)
    if hook.result is None:
        returns = "None"
    else:
        returns = _field_types(hook.response)[hook.result]
        if "None" not in returns:
            returns += " | None"
    if hook.on_error is OnError.REJECT:
        returns += " | Reject"
    return f"{hook.method}(self{params}) -> {returns}"


def _section(hook: Hook) -> str:
    lines = [f"## {hook.name}", "", hook.summary, "", "```python", f"def {signature(hook)}", "```", ""]
    if hook.streaming:
        lines.append("Streamed both ways; see the HTTP section of the README.")
        return "\n".join(lines)
    returned = (
        f"a value fills `{hook.result}`; `None` leaves it unset" if hook.result else "nothing (`None`)"
    )
    if hook.on_error is OnError.REJECT:
        returned += "; `Reject(reason)` refuses"
    default = ", ".join(f"`{k} = {v!r}`" for k, v in hook.unimplemented.items()) or "an empty response"
    failure = (
        "the host logs it and carries on as if the hook were not implemented"
        if hook.fail_open
        else "the host reports an error"
    )
    lines += [
        f"- **Returns**: {returned}; returning a `{hook.response.__name__}` sends it as is.",
        f"- **An exception becomes**: {_ON_ERROR[hook.on_error]}.",
        f"- **Not implemented**: the host assumes {default}.",
        f"- **If the call fails** (deadline, crash): {failure}.",
        "",
    ]
    return "\n".join(lines)


def render_reference() -> str:
    """The whole hook reference as Markdown."""
    head = [
        "# Hook reference",
        "",
        "Generated from `mmplugin/hooks/table.py` by `python -m mmplugin.hooks.reference docs/hooks.md`;",
        "do not edit by hand. Define a method with the hook's name on your `Plugin` subclass, sync or",
        "async; arguments are passed by position, so parameter names are yours. `plugin_context` carries",
        "the session, request id, IP and user agent of the request. Types are the generated dataclasses",
        "of `mmplugin.proto.pb`.",
        "",
        "| Hook | Handler | Exception becomes |",
        "| --- | --- | --- |",
    ]
    head += [f"| [{h.name}](#{h.name.lower()}) | `{h.method}` | {h.on_error.value} |" for h in HOOKS]
    return "\n".join(head) + "\n\n" + "\n".join(_section(h) for h in HOOKS).rstrip() + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m mmplugin.hooks.reference OUTPUT.md")
    Path(sys.argv[1]).write_text(render_reference(), encoding="utf-8")
