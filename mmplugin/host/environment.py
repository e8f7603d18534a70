"""Several plugins side by side: loading, activation, and hooks that run through every plugin (SEMANTICS §5).

:meth:`Environment.run_multi_plugin_hook` runs a callback for each active plugin that implements a
hook, in plugin-id order, until the callback returns False: the Mattermost server's
``RunMultiPluginHook``. :meth:`Environment.message_will_be_posted` builds the post chain on it:
each plugin sees the previous one's modification and a rejection stops the chain.

Example::

    env = Environment(InMemoryApi(), SupervisorConfig())
    manifest = env.load("plugins/hello")
    await env.activate(manifest.id)
    post, rejection = await env.message_will_be_posted(pb.Post(message="hi"))
    await env.shutdown()
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mmplugin.host.adapter import HooksAdapter
from mmplugin.host.counters import PluginCounters
from mmplugin.host.errors import HookAppError, PluginNotFound, PluginStartError
from mmplugin.host.metrics import HostMetrics
from mmplugin.host.supervisor import PluginState, PluginSupervisor, SupervisorConfig
from mmplugin.host.timing import HookTimings
from mmplugin.manifest import Manifest, load_manifest
from mmplugin.proto import pb

logger = logging.getLogger("mmplugin.host.environment")


class ApiEndpoint(Protocol):
    """A running PluginAPI server for one plugin."""

    @property
    def target(self) -> str:
        """``127.0.0.1:<port>``, handed to the plugin as MATTERMOST_PLUGIN_API_TARGET."""

    async def close(self) -> None: ...


class ApiProvider(Protocol):
    """Opens the PluginAPI server a plugin talks to (e.g. :class:`~mmplugin.host.apiserver.InMemoryApi`)."""

    async def open(self, manifest: Manifest, plugin_dir: Path) -> ApiEndpoint: ...


@dataclass
class _Registered:
    directory: Path
    manifest: Manifest
    supervisor: PluginSupervisor | None = None
    api: ApiEndpoint | None = None


class Environment:
    """The plugins a host has loaded, their processes and their API servers."""

    def __init__(self, api: ApiProvider, config: SupervisorConfig | None = None,
                 timings: HookTimings | None = None) -> None:
        self.api = api
        self.config = config or SupervisorConfig()
        self.timings = timings if timings is not None else HookTimings()
        self._plugins: dict[str, _Registered] = {}
        self._counters: dict[str, PluginCounters] = {}
        self._background: set[asyncio.Task[None]] = set()

    def load(self, plugin_dir: str | Path) -> Manifest:
        """Read and register the plugin in ``plugin_dir`` (not started yet); raises ManifestError."""
        directory = Path(plugin_dir).resolve()
        manifest = load_manifest(directory)
        known = self._plugins.get(manifest.id)
        if known is not None and known.directory != directory:
            raise PluginStartError(f"plugin {manifest.id!r} is already loaded from {known.directory}")
        self._plugins[manifest.id] = _Registered(directory, manifest)
        return manifest

    def _get(self, plugin_id: str) -> _Registered:
        registered = self._plugins.get(plugin_id)
        if registered is None:
            raise PluginNotFound(f"no plugin {plugin_id!r} is loaded")
        return registered

    @property
    def plugin_ids(self) -> list[str]:
        """Every loaded plugin id, sorted (the order hooks run in)."""
        return sorted(self._plugins)

    def manifest(self, plugin_id: str) -> Manifest:
        return self._get(plugin_id).manifest

    def supervisor(self, plugin_id: str) -> PluginSupervisor | None:
        return self._get(plugin_id).supervisor

    def state(self, plugin_id: str) -> PluginState:
        supervisor = self._get(plugin_id).supervisor
        return supervisor.state if supervisor else PluginState.STOPPED

    def counters(self, plugin_id: str) -> PluginCounters:
        """The live counters of a loaded plugin (restarts, health-check failures, ServeHTTP traffic)."""
        self._get(plugin_id)
        return self._counters.setdefault(plugin_id, PluginCounters())

    def metrics(self) -> HostMetrics:
        """A snapshot of every hook's timings and every loaded plugin's counters and state."""
        return HostMetrics(
            hooks=self.timings.snapshot(),
            plugins={pid: dataclasses.replace(self.counters(pid)) for pid in self.plugin_ids},
            states={pid: self.state(pid) for pid in self.plugin_ids})

    def is_active(self, plugin_id: str) -> bool:
        return self.state(plugin_id) is PluginState.RUNNING

    def hooks_for_plugin(self, plugin_id: str) -> HooksAdapter | None:
        """The hooks of an active plugin, or None (unknown, stopped, restarting or failed)."""
        registered = self._plugins.get(plugin_id)
        supervisor = registered.supervisor if registered else None
        return supervisor.hooks if supervisor and supervisor.state is PluginState.RUNNING else None

    async def activate(self, plugin_id: str) -> None:
        """Open the plugin's API server and start the plugin; raises PluginStartError/ActivationError."""
        registered = self._get(plugin_id)
        if registered.supervisor is not None and registered.supervisor.state is not PluginState.STOPPED:
            await self.deactivate(plugin_id)
        registered.api = await self.api.open(registered.manifest, registered.directory)
        supervisor = PluginSupervisor(registered.directory, registered.manifest, registered.api.target,
                                      self.config, self.timings, self.counters(plugin_id))
        registered.supervisor = supervisor
        try:
            await supervisor.start()
        except BaseException:
            await registered.api.close()
            registered.api = None
            raise

    async def deactivate(self, plugin_id: str) -> None:
        """Stop the plugin (OnDeactivate first) and its API server. Idempotent."""
        registered = self._get(plugin_id)
        if registered.supervisor is not None:
            await registered.supervisor.stop()
        if registered.api is not None:
            await registered.api.close()
            registered.api = None

    async def reload(self, plugin_id: str) -> None:
        """Deactivate, read the manifest again, activate."""
        registered = self._get(plugin_id)
        await self.deactivate(plugin_id)
        registered.manifest = load_manifest(registered.directory)
        await self.activate(plugin_id)

    async def shutdown(self) -> None:
        """Deactivate every plugin (concurrently) and drop background work."""
        for task in self._background:
            task.cancel()
        results = await asyncio.gather(*(self.deactivate(pid) for pid in self.plugin_ids), return_exceptions=True)
        for plugin_id, result in zip(self.plugin_ids, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("plugin %s: deactivation failed: %r", plugin_id, result)
        if self._background:
            await asyncio.wait(self._background)

    async def run_multi_plugin_hook(self, hook: str,
                                    run: Callable[[HooksAdapter, Manifest], Awaitable[bool]]) -> None:
        """Call ``run`` for each active plugin implementing ``hook``, by plugin id, until it returns False."""
        for plugin_id in self.plugin_ids:
            hooks = self.hooks_for_plugin(plugin_id)
            if hooks is None or not hooks.implements(hook):
                continue
            if not await run(hooks, self._plugins[plugin_id].manifest):
                return

    async def message_will_be_posted(self, post: pb.Post, plugin_context: pb.PluginContext | None = None
                                     ) -> tuple[pb.Post, str]:
        """Run the MessageWillBePosted chain: ``(post as modified, rejection reason or "")``."""
        return await self._post_chain("MessageWillBePosted", post, plugin_context)

    async def message_will_be_updated(self, new_post: pb.Post, old_post: pb.Post,
                                      plugin_context: pb.PluginContext | None = None) -> tuple[pb.Post, str]:
        """Run the MessageWillBeUpdated chain: ``(post as modified, rejection reason or "")``."""
        return await self._post_chain("MessageWillBeUpdated", new_post, plugin_context, old_post)

    async def _post_chain(self, hook: str, post: pb.Post, plugin_context: pb.PluginContext | None,
                          old_post: pb.Post | None = None) -> tuple[pb.Post, str]:
        current, rejection = post, ""

        async def step(hooks: HooksAdapter, manifest: Manifest) -> bool:
            nonlocal current, rejection
            if old_post is None:
                modified, reason = await hooks.message_will_be_posted(current, plugin_context)
            else:
                modified, reason = await hooks.message_will_be_updated(current, old_post, plugin_context)
            if reason:
                rejection = reason
                logger.info("plugin %s rejected a post in %s: %s", manifest.id, hook, reason)
                return False
            if modified is not None:
                current = modified
            return True

        await self.run_multi_plugin_hook(hook, step)
        return current, rejection

    async def broadcast(self, hook: str, **fields: Any) -> None:
        """Call a hook whose answer does not matter (MessageHasBeenPosted, ...) on every plugin, concurrently."""
        calls: list[Awaitable[Any]] = []

        async def collect(hooks: HooksAdapter, manifest: Manifest) -> bool:
            calls.append(hooks.invoke(hook, **fields))
            return True

        await self.run_multi_plugin_hook(hook, collect)
        await asyncio.gather(*calls)

    def configuration_changed(self, plugin_id: str) -> None:
        """Schedule OnConfigurationChange for the plugin (after its configuration was saved)."""
        hooks = self.hooks_for_plugin(plugin_id)
        if hooks is None or not hooks.implements("OnConfigurationChange"):
            return

        async def notify(adapter: HooksAdapter) -> None:
            try:
                await adapter.on_configuration_change()
            except HookAppError as exc:
                logger.error("%s", exc)

        task = asyncio.get_running_loop().create_task(notify(hooks))
        self._background.add(task)
        task.add_done_callback(self._background.discard)


__all__ = ["ApiEndpoint", "ApiProvider", "Environment"]
