"""KV Counter: a counter in the plugin KV store, safe under concurrent use.

- ``/count`` adds the configured step and answers ``<label>: <count>``; ``/count reset`` clears it;
- ``GET /plugins/com.example.kv-counter/count`` answers ``{"count": n, "label": ...}``;
- settings (plugin.json): ``Step`` (1 to 1000) and ``Label``; an invalid step refuses the
  configuration, so the previous one stays in force.
"""

from __future__ import annotations

import dataclasses

import mmplugin
from mmplugin import HookError, Plugin
from mmplugin.http import Request, Response
from mmplugin.proto import pb

KEY = "count"
#: Compare-and-set attempts before giving up when other increments keep winning the race.
ATTEMPTS = 50


@dataclasses.dataclass
class Configuration:
    step: int = 1
    label: str = "Count"


class KVCounter(Plugin):
    def __init__(self) -> None:
        self.configuration = Configuration()

    async def on_configuration_change(self) -> None:
        configuration = await self.api.load_plugin_configuration(Configuration)
        if not 1 <= configuration.step <= 1000:
            raise HookError(f"Step must be between 1 and 1000, not {configuration.step}",
                            id="com.example.kv_counter.step", status_code=400)
        self.configuration = configuration

    async def on_activate(self) -> None:
        await self.api.register_command(command=pb.Command(
            trigger="count", auto_complete=True, auto_complete_desc="Add to the counter",
            auto_complete_hint="[reset]"))

    async def execute_command(self, plugin_context: pb.PluginContext, args: pb.CommandArgs) -> pb.CommandResponse:
        if args.command.split()[1:] == ["reset"]:
            await self.api.kv_delete(key=KEY)
            return pb.CommandResponse(response_type="ephemeral", text=f"{self.configuration.label} reset.")
        count = await self._add(self.configuration.step)
        return pb.CommandResponse(response_type="ephemeral", text=f"{self.configuration.label}: {count}")

    async def serve_http(self, plugin_context: pb.PluginContext, request: Request) -> Response:
        if request.path == "/count" and request.method == "GET":
            return Response.json({"count": await self._count(), "label": self.configuration.label})
        return Response.text("not found", status=404)

    async def _count(self) -> int:
        value = await self.api.kv_get(key=KEY)
        return int(value) if value else 0

    async def _add(self, step: int) -> int:
        # Compare-and-set: two commands at once must not both read 4 and both write 5.
        for _ in range(ATTEMPTS):
            old = await self.api.kv_get(key=KEY)  # b"" when there is no count yet
            count = (int(old) if old else 0) + step
            if await self.api.kv_compare_and_set(key=KEY, old_value=old, new_value=str(count).encode()):
                return count
        raise HookError("the counter is too busy right now; try again", status_code=503)


if __name__ == "__main__":
    mmplugin.run(KVCounter)
