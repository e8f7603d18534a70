"""A plugin process reaches its host's PluginAPI through ``self.api`` and ``self.sync_api``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from api_hosts import GrpclibHost, serve_grpclib
from plugin_process import PluginProcess, call, write_plugin

from mmplugin.proto import goplugin, pb
from mmplugin.wire.handshake import API_TARGET_ENV

SOURCE = '''
import mmplugin
from mmplugin.proto import pb


class UsesApi(mmplugin.Plugin):
    async def on_activate(self):
        await self.api.log_info("activated", plugin=await self.api.get_plugin_id())

    def execute_command(self, plugin_context, args):
        self.sync_api.kv_set_json("last-command", {"command": args.command})
        return pb.CommandResponse(text="stored")


mmplugin.run(UsesApi)
'''


async def test_async_and_sync_api_reach_the_host(tmp_path: Path) -> None:
    host = GrpclibHost()
    async with serve_grpclib(host) as target:
        process = PluginProcess(write_plugin(tmp_path / "plugin", SOURCE), env={API_TARGET_ENV: target})
        channel = process.channel()
        try:
            activated = await call(channel, "OnActivate")
            command = await call(channel, "ExecuteCommand",
                                 pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/store x")))
            await call(channel, "/plugin.GRPCController/Shutdown", goplugin.Empty(), goplugin.Empty)
        finally:
            channel.close()
        assert await asyncio.to_thread(process.wait) == 0
    assert activated == pb.OnActivateResponse()
    assert command.response.text == "stored"
    assert host.kv["last-command"] == b'{"command":"/store x"}'
    level, request = host.logs[0]
    assert level == "info"
    assert request.msg == "activated"
    assert [(kv.key, kv.value.string_value) for kv in request.key_value_pairs] == [("plugin", "com.example.test")]
