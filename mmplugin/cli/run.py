"""``mmplugin run``: host plugins on this machine for development.

Starts an in-memory PluginAPI (seeded with team ``local``, channel ``town-square`` and user
``admin``), loads and activates each plugin, and serves the HTTP front on 127.0.0.1 with the admin
endpoints of :mod:`mmplugin.host.admin`. Ctrl-C (or SIGTERM) deactivates every plugin and exits 0.
Errors are reported by :func:`mmplugin.cli.output.report`, exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

from mmplugin.cli.output import EXIT_FAILURE, EXIT_INTERRUPTED, CliError, report, say
from mmplugin.host.admin import AdminApp
from mmplugin.host.apiserver import InMemoryApi, SqliteBackend, Store
from mmplugin.host.environment import Environment
from mmplugin.host.errors import HostError
from mmplugin.host.front import HostFront
from mmplugin.host.ids import new_id
from mmplugin.host.routing import TokenAuth
from mmplugin.host.supervisor import SupervisorConfig
from mmplugin.manifest import ManifestError


def run_command(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise CliError("'mmplugin run' needs uvicorn", hint="pip install 'mmplugin[host]'") from None
    _refuse_repeated_paths(args.paths)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mmplugin").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return asyncio.run(_run(args))
    except (CliError, HostError, ManifestError) as exc:
        report(exc)
        return EXIT_FAILURE
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("mmplugin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _run(args: argparse.Namespace) -> int:
    import uvicorn

    phase = ["starting"]
    main = asyncio.current_task()
    assert main is not None

    def on_signal() -> None:
        # While serving, uvicorn handles the signal itself (and raises it again once it has stopped).
        if phase[0] == "starting":
            main.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    local_config = _read_config(args.config)
    backend = _open_kv(args.kv_db)
    sock = _listen(args.port)
    port = sock.getsockname()[1]
    store = Store(kv_backend=backend, site_url=f"http://127.0.0.1:{port}")
    seed = store.seed()
    token = args.token or new_id()
    config = SupervisorConfig(python=args.python, fallback_python=sys.executable, hook_timeout=args.hook_timeout,
                              handshake_timeout=args.handshake_timeout)
    env = Environment(InMemoryApi(store, local_config), config)
    store.configs.listeners.append(env.configuration_changed)
    try:
        manifests = [env.load(path) for path in args.paths]
        for manifest in manifests:
            say(f"starting plugin {manifest.id} ...")
            await env.activate(manifest.id)
            supervisor = env.supervisor(manifest.id)
            hooks = env.hooks_for_plugin(manifest.id)
            say(f"  {manifest.id} is running (pid {supervisor.pid if supervisor else '?'}, "
                f"{len(hooks.implemented) if hooks else 0} hooks)")
        front = HostFront(env, TokenAuth({token: seed.user.id}), AdminApp(env, store, seed))
        server = uvicorn.Server(uvicorn.Config(front, lifespan="off", access_log=args.verbose,
                                               log_level="info" if args.verbose else "warning",
                                               timeout_graceful_shutdown=5))
        say(f"serving on http://127.0.0.1:{port} (user {seed.user.username}, token {token}); Ctrl-C to stop")
        phase[0] = "serving"
        await server.serve(sockets=[sock])
        phase[0] = "stopping"
        say("stopping plugins ...")
    finally:
        phase[0] = "stopping"
        await env.shutdown()
        sock.close()
        if backend is not None:
            backend.close()
    say("stopped")
    return 0


def _listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port``: connections made once "serving on" is printed wait
    in its backlog until uvicorn, still starting, accepts them (instead of being refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    return sock


def _refuse_repeated_paths(paths: list[str]) -> None:
    seen: dict[Path, str] = {}
    for path in paths:
        resolved = Path(path).resolve()
        first = seen.get(resolved)
        if first is not None:
            same = "twice" if first == path else f"twice ({first} and {path})"
            raise CliError(f"plugin directory {first} is given {same}", hint="give each plugin once")
        seen[resolved] = path


def _open_kv(path: str | None) -> SqliteBackend | None:
    if not path:
        return None
    try:
        return SqliteBackend(path)
    except sqlite3.Error as exc:
        raise CliError(f"cannot use {path} as the KV database: {exc}") from None


def _read_config(path: str | None) -> dict[str, dict[str, Any]]:
    if not path:
        return {}
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the config file {path}: {exc}") from None
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise CliError(f'{path}: expected {{"<plugin id>": {{"<setting key>": value}}}}')
    return {str(k).lower(): v for k, v in document.items()}


__all__ = ["run_command"]
