"""Small JSON endpoints under ``/_mmplugin/`` to drive a local host by hand (curl, tests).

- ``POST /_mmplugin/posts`` ``{"message": ..., "channel_id"?: ..., "user_id"?: ..., "root_id"?: ...}``:
  MessageWillBePosted chain, save, MessageHasBeenPosted; 201 with the post, 400 with the rejection
  (or with the store's error when the post cannot be saved).
- ``POST /_mmplugin/commands`` ``{"command": "/hello x", "channel_id"?: ..., "team_id"?: ...}``:
  ExecuteCommand on the plugin that registered the trigger (else every plugin implementing it).
- ``GET /_mmplugin/plugins``: each plugin's state, pid, restarts and hooks.
- ``POST /_mmplugin/plugins/<id>/activate|deactivate|reload``.
- ``GET /_mmplugin/timings``: per-hook call counts, errors and latency.

They are meant for a host bound to 127.0.0.1 only, and need no authentication.
"""

from __future__ import annotations

import json
from typing import Any

import betterproto2

from mmplugin.host.actions import create_post, execute_command
from mmplugin.host.apiserver.errors import ApiError
from mmplugin.host.apiserver.store import Seed, Store
from mmplugin.host.asgi import Receive, Scope, Send, read_body, respond_json
from mmplugin.host.environment import Environment
from mmplugin.host.errors import HostError
from mmplugin.manifest import ManifestError
from mmplugin.proto import pb

PREFIX = "/_mmplugin/"


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
            document = await _json_object(receive)
            if document is None:
                await respond_json(send, 400, {"message": "expected a JSON object as the request body"})
            elif route[0] == "posts":
                await self._post(document, send)
            else:
                await self._command(document, send)
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

    async def _post(self, document: dict[str, Any], send: Send) -> None:
        post = pb.Post(channel_id=str(document.get("channel_id") or self.seed.channel.id),
                       user_id=str(document.get("user_id") or self.seed.user.id),
                       root_id=str(document.get("root_id") or ""), message=str(document.get("message", "")))
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

    async def _command(self, document: dict[str, Any], send: Send) -> None:
        command = str(document.get("command", ""))
        args = pb.CommandArgs(
            command=command, user_id=str(document.get("user_id") or self.seed.user.id),
            channel_id=str(document.get("channel_id") or self.seed.channel.id),
            team_id=str(document.get("team_id") or self.seed.team.id), root_id=str(document.get("root_id") or ""),
            site_url=self.store.site_url)
        results = await execute_command(self.env, self.store, args)
        if not results:
            await respond_json(send, 404, {"message": f"no active plugin handles {command.strip()!r}"})
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
        except (HostError, ManifestError) as exc:
            await respond_json(send, 400, {"message": str(exc)})
            return
        await respond_json(send, 200, self._plugin_status(plugin_id))


async def _json_object(receive: Receive) -> dict[str, Any] | None:
    body = await read_body(receive)
    try:
        document = json.loads(body or b"")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


__all__ = ["AdminApp", "message_json"]
