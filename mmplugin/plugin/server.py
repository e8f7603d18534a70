"""``mmplugin.run``: a plugin process from the magic-cookie check to a clean exit (SEMANTICS §1)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from grpclib.server import Stream

from mmplugin.http import serve_http_stream
from mmplugin.manifest import ManifestError, load_manifest
from mmplugin.plugin.errors import StartupError
from mmplugin.plugin.grpcserver import PluginServer
from mmplugin.plugin.lifecycle import Lifecycle
from mmplugin.plugin.logs import StdoutLog, install_logging, take_stdout
from mmplugin.plugin.plugin import Plugin, implemented_hooks
from mmplugin.plugin.runner import HookRunner
from mmplugin.plugin.servicer import HookService, StreamHandler
from mmplugin.plugin.services import BrokerService, ControllerService, HealthService, StdioService
from mmplugin.plugin.startup import bind_listener, check_cookie, port_range
from mmplugin.plugin.warmup import warm_up
from mmplugin.plugin.watchdog import stop_when_orphaned
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.handshake import Handshake

if TYPE_CHECKING:
    from grpclib._typing import IServable

_log = logging.getLogger("mmplugin")

#: Seconds grpclib gets to close connections after the drain, before the process exits anyway.
CLOSE_TIMEOUT = 1.0


def run(plugin_class: type[Plugin]) -> NoReturn:
    """Run ``plugin_class`` as a Mattermost plugin process, and exit when the host stops it.

    Call it from the plugin's entry script (the manifest's ``server.executable``)::

        if __name__ == "__main__":
            mmplugin.run(MyPlugin)

    It refuses to start (exit status 1, message on stderr) unless launched by a Mattermost server
    or ``mmplugin run``; reads ``plugin.json`` from the working directory; logs hclog JSON lines to
    stderr through the root logger (at INFO; ``print()`` lands there too); serves the hooks until
    the host's Shutdown call, SIGTERM/SIGINT or the host's exit (the parent process changes, see
    :mod:`mmplugin.plugin.watchdog`), lets running hooks finish within
    ``plugin_class.shutdown_grace`` seconds, then exits with status 0.
    """
    if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
        raise TypeError(f"mmplugin.run() takes a Plugin subclass, got {plugin_class!r}")
    try:
        check_cookie(os.environ)
    except StartupError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    # Until the handshake line is out, anything printed would corrupt it; afterwards stdout is no
    # log channel for the host (SEMANTICS §1). Either way, print() goes to the log.
    handshake_out = take_stdout(StdoutLog(logging.getLogger("stdout")))
    install_logging(sys.stderr)
    try:
        manifest = load_manifest(Path.cwd())
        plugin = plugin_class()
        plugin.id, plugin.manifest = manifest.id, manifest
        sock = bind_listener(port_range(os.environ))
        busy_threads = asyncio.run(serve(plugin, sock, handshake_out))
    except (StartupError, ManifestError) as exc:
        _log.error("%s", exc)
        _exit(1)
    except Exception:
        _log.exception("plugin %s failed", plugin_class.__qualname__)
        _exit(1)
    if busy_threads:
        # concurrent.futures joins its worker threads at interpreter exit: a stuck handler would
        # keep the process alive until the host kills it.
        _log.warning("%d sync handler(s) still running at exit; not waiting for them", busy_threads)
        _exit(0, immediately=True)
    _exit(0)


def _exit(code: int, *, immediately: bool = False) -> NoReturn:
    with suppress(OSError):  # a host that died took the pipes with it
        sys.stdout.flush()
    for handler in logging.getLogger().handlers:
        handler.flush()
    if immediately:
        os._exit(code)
    sys.exit(code)


async def serve(plugin: Plugin, sock: socket.socket, handshake_out: TextIO,
                streams: Mapping[str, StreamHandler] | None = None) -> int:
    """Serve ``plugin`` on the bound ``sock`` until stopped; return the number of abandoned threads.

    Writes the handshake line to ``handshake_out`` once the server accepts connections.
    ``streams`` mounts handlers for streaming hooks by hook name; by default ServeHTTP is served by
    the plugin's :meth:`~mmplugin.Plugin.http_handler`.
    """
    plugin_class = type(plugin)
    plugin._loop = asyncio.get_running_loop()
    if streams is None:
        streams = http_streams(plugin)
    lifecycle = Lifecycle()
    executor = ThreadPoolExecutor(plugin_class.max_workers, thread_name_prefix="mmplugin-hook")
    runner = HookRunner(plugin, executor)
    hooks = HookService(runner, lifecycle, implemented_hooks(plugin_class), streams or {})
    services: list[IServable] = [hooks, HealthService(lifecycle), ControllerService(lifecycle),
                StdioService(lifecycle), BrokerService(lifecycle)]
    server = PluginServer(services, codec=MessageCodec(), max_receive=plugin_class.max_receive_size)
    host, port = sock.getsockname()
    await server.start(sock=sock)
    _stop_on_signals(lifecycle)
    watchdog = asyncio.ensure_future(stop_when_orphaned(lifecycle))
    handshake_out.write(Handshake(host, port).line() + "\n")
    handshake_out.flush()
    _log.debug("plugin %s serving on %s:%d", plugin.id, host, port)
    warming = asyncio.ensure_future(warm_up(hooks.implemented)) if plugin_class.warm_up else None

    await lifecycle.stopping.wait()
    if warming is not None:
        warming.cancel()
    await watchdog
    if not await lifecycle.drained(plugin_class.shutdown_grace):
        _log.warning("%d call(s) still running after %g s; cancelling them",
                     lifecycle.running, plugin_class.shutdown_grace)
    server.close()
    with suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT)
    executor.shutdown(wait=False, cancel_futures=True)
    if "api" in vars(plugin):
        await plugin.api.close()
    return runner.busy_threads


def http_streams(plugin: Plugin) -> dict[str, StreamHandler]:
    """The ServeHTTP mount for ``plugin``: empty when it serves no HTTP."""
    handler = plugin.http_handler()
    if handler is None:
        return {}

    async def serve_http(stream: Stream[Any, Any]) -> None:
        await serve_http_stream(stream, handler, plugin_id=plugin.id)

    return {"ServeHTTP": serve_http}


def _stop_on_signals(lifecycle: Lifecycle) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        reason = f"received {signum.name}"
        try:
            loop.add_signal_handler(signum, lifecycle.stop, reason)
        except NotImplementedError:  # Windows event loops
            signal.signal(signum, lambda *_, why=reason: loop.call_soon_threadsafe(lifecycle.stop, why))
