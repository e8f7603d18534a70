"""Small JSON endpoints under ``/_mmplugin/`` to drive a local host by hand (curl, tests).

- ``POST /_mmplugin/posts`` ``{"message": ..., "channel_id"?: ..., "user_id"?: ..., "root_id"?: ...}``:
  MessageWillBePosted chain, save, MessageHasBeenPosted; 201 with the post, 400 with the rejection
  (or with the store's error when the post cannot be saved).
- ``POST /_mmplugin/commands`` ``{"command": "/hello x", "channel_id"?: ..., "team_id"?: ...,
  "user_id"?: ..., "root_id"?: ...}``: ExecuteCommand on the plugin that registered the trigger (else
  every plugin implementing it).
- ``GET /_mmplugin/plugins``: each plugin's state, pid, restarts and hooks.
- ``POST /_mmplugin/plugins/<id>/activate|deactivate|reload``: the plugin's status afterwards; 404
  for an id not loaded, 400 when the action fails.
- ``GET /_mmplugin/timings``: per-hook call counts, errors and latency.

Fields are strings; an optional one that is missing, null or empty takes the seeded user, team or
channel. A body that is not a JSON object, lacks the required field, names a field not listed here
or gives one a value that is not a string is answered 400 with a message naming it, and nothing
is run.

They are meant for a host bound to 127.0.0.1 only, and need no authentication.
"""

from __future__ import annotations

import json
from typing import Any

import betterproto2

from mmplugin.host.actions import create_post, execute_command
from mmplugin.host.apiserver.errors import ApiError
from mmplugin.host.apiserver.store import Seed, Store
from mmplugin.host.asgi import MAX_JSON_BODY, Receive, Scope, Send, read_body, respond_json
from mmplugin.host.environment import Environment
from mmplugin.host.errors import HostError, PluginNotFound
from mmplugin.manifest import ManifestError
from mmplugin.proto import pb

PREFIX = "/_mmplugin/"

_POST_FIELDS = ("message", "channel_id", "user_id", "root_id")
_COMMAND_FIELDS = ("command", "channel_id", "team_id", "user_id", "root_id")
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}
"""What ``json.loads`` makes of each JSON type other than strings and null."""


class _BadRequest(Exception):
    """A request body the admin endpoints cannot act on; its text is the 400 answer's message."""


def _string_fields(document: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    """``document``'s non-null fields, checked: the first of ``allowed`` is required, all are strings."""
    unknown = [name for name in document if name not in allowed]
    if unknown:
        raise _BadRequest(f"unknown field {unknown[0]!r} (the fields are {', '.join(allowed)})")
    fields = {name: value for name, value in document.items() if value is not None}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise _BadRequest(f"field {name!r} must be a string, not {_JSON_TYPES[type(value)]}")
    if allowed[0] not in fields:
        raise _BadRequest(f"field {allowed[0]!r} is required")
    return fields


def message_json(message: betterproto2.Message) -> dict[str, Any]:
    """A message as JSON-ready snake_case fields."""
    return message.to_dict(output_format=betterproto2.OutputFormat.PYTHON, casing=betterproto2.Casing.SNAKE)


class AdminApp:
    """ASGI app for the endpoints above; ``seed`` supplies the default user, team and channel."""

    def __init__(self, env: Environment, store: Store, seed: Seed) -> None:
        self.env = env
        self.store = store
        self.seed = seed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope["path"][len(PREFIX):].strip("/").split("/")
        method = scope["method"]
        if method == "GET" and route == ["plugins"]:
            await respond_json(send, 200, [self._plugin_status(pid) for pid in self.env.plugin_ids])
        elif method == "GET" and route == ["timings"]:
            await respond_json(send, 200, [
                {"plugin_id": plugin_id, "hook": hook, "count": s.count, "errors": s.errors,
                 "sum_seconds": s.sum_seconds, "p50_le": s.quantile(0.5), "p99_le": s.quantile(0.99)}
                for (plugin_id, hook), s in sorted(self.env.timings.snapshot().items())])
        elif method == "POST" and route[0] in ("posts", "commands") and len(route) == 1:
            try:
                document = await _json_object(receive)
                if route[0] == "posts":
                    await self._post(_string_fields(document, _POST_FIELDS), send)
                else:
                    await self._command(_string_fields(document, _COMMAND_FIELDS), send)
            except _BadRequest as exc:  # raised before anything runs or is answered
                await respond_json(send, 400, {"message": str(exc)})
        elif method == "POST" and len(route) == 3 and route[0] == "plugins" and route[2] in (
                "activate", "deactivate", "reload"):
            await self._lifecycle(route[1], route[2], send)
        else:
            await respond_json(send, 404, {"message": f"no admin endpoint {method} {scope['path']}"})

    def _plugin_status(self, plugin_id: str) -> dict[str, Any]:
        supervisor = self.env.supervisor(plugin_id)
        hooks = self.env.hooks_for_plugin(plugin_id)
        return {"id": plugin_id, "state": self.env.state(plugin_id).value,
                "pid": supervisor.pid if supervisor else None, "restarts": supervisor.restarts if supervisor else 0,
                "last_failure": supervisor.last_failure if supervisor else "",
                "hooks": sorted(hooks.implemented) if hooks else []}

    async def _post(self, fields: dict[str, str], send: Send) -> None:
        post = pb.Post(message=fields["message"], channel_id=fields.get("channel_id") or self.seed.channel.id,
                       user_id=fields.get("user_id") or self.seed.user.id, root_id=fields.get("root_id", ""))
        try:
            outcome = await create_post(self.env, self.store, post)
        except ApiError as exc:  # e.g. a plugin's modified post names no channel
            await respond_json(send, exc.status_code, {"id": exc.id, "message": exc.message})
            return
        if outcome.dismissed:
            await respond_json(send, 200, {"dismissed": True})
        elif outcome.post is None:
            await respond_json(send, 400, {"id": "plugin.message_will_be_posted.rejected",
                                           "rejection_reason": outcome.rejection_reason})
        else:
            await respond_json(send, 201, message_json(outcome.post))

    async def _command(self, fields: dict[str, str], send: Send) -> None:
        args = pb.CommandArgs(
            command=fields["command"], user_id=fields.get("user_id") or self.seed.user.id,
            channel_id=fields.get("channel_id") or self.seed.channel.id,
            team_id=fields.get("team_id") or self.seed.team.id, root_id=fields.get("root_id", ""),
            site_url=self.store.site_url)
        results = await execute_command(self.env, self.store, args)
        if not results:
            await respond_json(send, 404, {"message": f"no active plugin handles {args.command.strip()!r}"})
            return
        await respond_json(send, 200, {"results": [
            {"plugin_id": r.plugin_id,
             "response": message_json(r.response) if r.response else None,
             "error": {"id": r.error.id, "message": str(r.error), "status_code": r.error.status_code}
             if r.error else None}
            for r in results]})

    async def _lifecycle(self, plugin_id: str, action: str, send: Send) -> None:
        try:
            await getattr(self.env, action)(plugin_id)
        except PluginNotFound as exc:
            await respond_json(send, 404, {"message": str(exc)})
            return
        except (HostError, ManifestError) as exc:
            await respond_json(send, 400, {"message": str(exc)})
            return
        await respond_json(send, 200, self._plugin_status(plugin_id))


async def _json_object(receive: Receive) -> dict[str, Any]:
    body = await read_body(receive)
    if body is None:  # too large (a client that went away reads no answer)
        raise _BadRequest(f"the request body is larger than {MAX_JSON_BODY:,} bytes")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise _BadRequest(f"the request body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _BadRequest("expected a JSON object as the request body")
    return document


__all__ = ["AdminApp", "message_json"]
