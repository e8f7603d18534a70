"""One plugin's life on the host: start, health checks, restarts, shutdown (SEMANTICS §1, §5).

:meth:`PluginSupervisor.start` runs the plugin process, reads the handshake, dials it, checks
health, learns its hooks through ``Implemented`` and calls ``OnActivate``; any failure stops the
process and raises. While the plugin runs, a watcher restarts it (with backoff, see
:class:`~mmplugin.host.restart.RestartPolicy`) when the process exits or a periodic health check
fails, and gives up (state FAILED) past the restart limit. :meth:`PluginSupervisor.stop` calls
``OnDeactivate``, then ``plugin.GRPCController/Shutdown``, then SIGTERM, then SIGKILL, each bounded,
and always reaps the process.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mmplugin.host.adapter import DEFAULT_HOOK_TIMEOUT, HooksAdapter
from mmplugin.host.counters import PluginCounters
from mmplugin.host.errors import ActivationError, HookAppError, HostError, PluginStartError
from mmplugin.host.process import PluginProcess, describe_exit, plugin_command, plugin_environment
from mmplugin.host.restart import RestartPolicy
from mmplugin.host.rpc import RPC_ERRORS, describe
from mmplugin.host.timing import HookTimings
from mmplugin.manifest import Manifest
from mmplugin.proto import goplugin, health
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.endpoints import WireChannel
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT

SERVING = health.HealthCheckResponseServingStatus.SERVING


class PluginState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    FAILED = "failed"
    """Start failed, or the plugin crashed more often than the restart policy allows."""


_SECONDS = ("handshake_timeout", "hook_timeout", "health_interval", "health_timeout", "shutdown_timeout",
            "term_timeout")


@dataclass(frozen=True)
class SupervisorConfig:
    """Timeouts (seconds) and policies of a supervisor; the defaults follow the Mattermost server."""

    python: str | None = None
    """Interpreter to run the plugin with instead of searching the plugin's venv and PATH."""
    fallback_python: str | None = None
    """Interpreter for a plugin without a venv, tried before PATH. The Mattermost server has none;
    ``mmplugin run`` passes its own interpreter, which has mmplugin installed."""
    environment: Mapping[str, str] | None = None
    """Base environment of the plugin (default: the host's own)."""
    handshake_timeout: float = 10.0
    hook_timeout: float = DEFAULT_HOOK_TIMEOUT
    health_interval: float = 30.0
    health_timeout: float = 5.0
    shutdown_timeout: float = 2.0
    """For ``GRPCController/Shutdown`` and then for the process to exit by itself."""
    term_timeout: float = 2.0
    """Between SIGTERM and SIGKILL."""
    max_receive_size: int = FILE_RECEIVE_LIMIT
    """Largest message (bytes) taken from the plugin; a larger hook response fails the hook unread."""
    restart_limit: int = 3
    restart_window: float = 3600.0
    restart_delay: float = 0.5
    restart_max_delay: float = 30.0

    def __post_init__(self) -> None:
        for name in _SECONDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ValueError(f"SupervisorConfig.{name} must be a positive, finite number of seconds, "
                                 f"got {value!r}")
        size = self.max_receive_size
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"SupervisorConfig.max_receive_size must be a positive number of bytes, got {size!r}")
        self.restart_policy()  # checks the restart fields

    def restart_policy(self) -> RestartPolicy:
        return RestartPolicy(self.restart_limit, self.restart_window, self.restart_delay, self.restart_max_delay)


class PluginSupervisor:
    """Runs and watches one plugin process. Create inside the event loop; ``await start()``, ``await stop()``."""

    def __init__(self, plugin_dir: Path, manifest: Manifest, api_target: str,
                 config: SupervisorConfig | None = None, timings: HookTimings | None = None,
                 counters: PluginCounters | None = None) -> None:
        self.plugin_dir = Path(plugin_dir).resolve()
        self.manifest = manifest
        self.plugin_id = manifest.id
        self.api_target = api_target
        self.config = config or SupervisorConfig()
        self.timings = timings if timings is not None else HookTimings()
        self.counters = counters if counters is not None else PluginCounters()
        self.logger = logging.getLogger(f"mmplugin.host.plugin.{manifest.id}")
        self.state = PluginState.STOPPED
        self.hooks: HooksAdapter | None = None
        """The hooks of the running process; None while the plugin is not running."""
        self.restarts = 0
        """Successful restarts since :meth:`start`."""
        self.last_failure = ""
        self._process: PluginProcess | None = None
        self._channel: WireChannel | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def pid(self) -> int | None:
        """The plugin process id while one runs."""
        return self._process.pid if self._process and self._process.returncode is None else None

    async def start(self) -> None:
        """Start and activate the plugin; raises PluginStartError or ActivationError (state FAILED)."""
        if self.state not in (PluginState.STOPPED, PluginState.FAILED):
            raise RuntimeError(f"plugin {self.plugin_id!r} is {self.state.value}")
        self.restarts = 0
        self._set(PluginState.STARTING)
        try:
            await self._launch()
        except BaseException as exc:
            self.last_failure = str(exc)
            self._set(PluginState.FAILED)
            raise
        self._set(PluginState.RUNNING)
        self._watcher = asyncio.create_task(self._supervise(self.config.restart_policy()),
                                            name=f"plugin {self.plugin_id} supervisor")

    async def stop(self) -> None:
        """Deactivate and stop the plugin; never leaves a process behind. Idempotent."""
        if self.state in (PluginState.STOPPED, PluginState.STOPPING):
            return
        failed = self.state is PluginState.FAILED
        self._set(PluginState.STOPPING)
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait([self._watcher])
            self._watcher = None
        await self._teardown(deactivate=True)
        self._set(PluginState.FAILED if failed else PluginState.STOPPED)

    async def wait_for(self, *states: PluginState, timeout: float | None = None) -> PluginState:
        """Wait until the state is one of ``states``; raises TimeoutError after ``timeout`` seconds."""
        async def reached() -> PluginState:
            while self.state not in states:
                await self._changed.wait()
            return self.state
        return await asyncio.wait_for(reached(), timeout)

    def _set(self, state: PluginState) -> None:
        if state is not self.state:
            self.logger.debug("plugin %s: %s -> %s", self.plugin_id, self.state.value, state.value)
        self.state = state
        self._changed.set()
        self._changed = asyncio.Event()

    async def _launch(self) -> None:
        argv = plugin_command(self.plugin_dir, self.manifest, self.config.python, self.config.fallback_python)
        env = plugin_environment(self.api_target, self.config.environment)
        self._process = await PluginProcess.start(argv, self.plugin_dir, env, self.plugin_id, self.logger)
        try:
            handshake = await self._process.read_handshake(self.config.handshake_timeout)
            self._channel = WireChannel(handshake.host, handshake.port, codec=MessageCodec(),
                                           max_receive=self.config.max_receive_size)
            problem = await self._health_problem()
            if problem:
                raise PluginStartError(f"plugin {self.plugin_id!r}: health check failed after start: {problem}")
            adapter = HooksAdapter(self._channel, self.plugin_id, timeout=self.config.hook_timeout,
                                   timings=self.timings, counters=self.counters)
            await adapter.discover()
            try:
                await adapter.on_activate()
            except HookAppError as exc:
                raise ActivationError(str(exc)) from None
            self.hooks = adapter
            level = logging.INFO if self.state is PluginState.RESTARTING else logging.DEBUG
            self.logger.log(level, "plugin %s running (pid %d, %s, %d hooks)", self.plugin_id, self._process.pid,
                            handshake.address, len(adapter.implemented))
        except BaseException:
            await self._teardown(deactivate=False)
            raise

    async def _health_problem(self) -> str:
        """Why the plugin is not healthy, or "" if service "plugin" answers SERVING."""
        assert self._channel is not None
        try:
            response = await health.HealthStub(self._channel).check(
                health.HealthCheckRequest(service="plugin"), timeout=self.config.health_timeout)
        except RPC_ERRORS as exc:
            problem = describe(exc)
        else:
            problem = "" if response.status == SERVING else f"status {response.status.name}"
        if problem:
            self.counters.health_check_failures += 1
        return problem

    async def _supervise(self, policy: RestartPolicy) -> None:
        while True:
            reason = await self._wait_for_failure()
            self.last_failure = reason
            self.logger.error("plugin %s %s", self.plugin_id, reason)
            self.hooks = None
            await self._teardown(deactivate=False)
            while True:
                delay = policy.failure(asyncio.get_running_loop().time())
                if delay is None:
                    self.logger.error("plugin %s failed %d times within %g s; giving up", self.plugin_id,
                                      policy.recent_failures, policy.window)
                    self._set(PluginState.FAILED)
                    return
                self._set(PluginState.RESTARTING)
                await asyncio.sleep(delay)
                try:
                    await self._launch()
                except HostError as exc:
                    self.last_failure = str(exc)
                    self.logger.error("plugin %s: restart failed: %s", self.plugin_id, exc)
                    continue
                self.restarts += 1
                self.counters.restarts += 1
                self._set(PluginState.RUNNING)
                break

    async def _wait_for_failure(self) -> str:
        assert self._process is not None
        exited = asyncio.create_task(self._process.wait())
        try:
            while True:
                await asyncio.wait([exited], timeout=self.config.health_interval)
                if exited.done():
                    return f"exited unexpectedly ({describe_exit(exited.result())})"
                problem = await self._health_problem()
                if problem:
                    return f"failed its health check ({problem})"
        finally:
            exited.cancel()

    async def _teardown(self, deactivate: bool) -> None:
        hooks, self.hooks = self.hooks, None
        process, channel = self._process, self._channel
        if deactivate and hooks is not None:
            try:
                await hooks.on_deactivate()
            except HookAppError as exc:
                self.logger.error("%s", exc)
        if channel is not None and process is not None and process.returncode is None:
            try:
                await goplugin.GrpcControllerStub(channel).shutdown(goplugin.Empty(),
                                                                    timeout=self.config.shutdown_timeout)
            except RPC_ERRORS as exc:
                self.logger.debug("plugin %s: GRPCController/Shutdown: %s", self.plugin_id, describe(exc))
        if channel is not None:
            # Like go-plugin, hang up right after Shutdown: a server draining its connections
            # (asyncio's Server.wait_closed on Python 3.12+) waits for ours to go.
            channel.close()
        if process is not None and process.returncode is None:
            await process.wait_exited(self.config.shutdown_timeout)
        if process is not None and await process.stop(self.config.term_timeout):
            self.logger.warning("plugin %s failed to exit gracefully", self.plugin_id)
        self._process = self._channel = None


__all__ = ["PluginState", "PluginSupervisor", "SupervisorConfig"]
