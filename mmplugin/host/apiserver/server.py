"""One PluginAPI gRPC server per plugin on ``127.0.0.1:0``, all backed by one shared store."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmplugin.host.apiserver.handlers import ApiContext
from mmplugin.host.apiserver.service import PluginApiService
from mmplugin.host.apiserver.store import Store
from mmplugin.manifest import Manifest
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.endpoints import WireServer
from mmplugin.wire.limits import GO_RECEIVE_LIMIT


class ApiServer:
    """A running PluginAPI server for one plugin; ``target`` is what the plugin dials.

    Requests over ``max_receive_size`` bytes (4 MiB, as on the Mattermost server) fail with
    RESOURCE_EXHAUSTED before they are read.
    """

    def __init__(self, service: PluginApiService, *, max_receive_size: int = GO_RECEIVE_LIMIT) -> None:
        self.service = service
        self._server = WireServer([service], codec=MessageCodec(), max_receive=max_receive_size)
        self.target = ""

    async def start(self) -> None:
        # IPPROTO_TCP so asyncio turns Nagle off on accepted connections (SEMANTICS §7).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        await self._server.start(sock=sock)
        self.target = f"127.0.0.1:{sock.getsockname()[1]}"

    async def close(self) -> None:
        """Stop serving; the plugin's slash commands go with it, as on the server."""
        context = self.service.context
        context.store.commands.remove_plugin(context.plugin_id)
        self._server.close()
        await self._server.wait_closed()


class InMemoryApi:
    """Opens a PluginAPI server per plugin over a shared :class:`Store`.

    ``local_config`` maps plugin ids to their saved settings (keys are lower-cased), overlaid on
    the manifest's defaults.
    """

    def __init__(self, store: Store | None = None,
                 local_config: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.store = store if store is not None else Store()
        self.local_config = dict(local_config or {})

    async def open(self, manifest: Manifest, plugin_dir: Path) -> ApiServer:
        self.store.configs.register(manifest, self.local_config.get(manifest.id))
        context = ApiContext(self.store, manifest.id, Path(plugin_dir),
                             logging.getLogger(f"mmplugin.host.plugin.{manifest.id}"))
        server = ApiServer(PluginApiService(context))
        await server.start()
        return server


__all__ = ["ApiServer", "InMemoryApi"]
