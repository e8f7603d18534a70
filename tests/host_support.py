"""Helpers for the host tests: plugin directories holding the test plugins, and a fast config."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mmplugin.host.supervisor import SupervisorConfig

HERE = Path(__file__).resolve().parent
GRPCLIB_PLUGIN = HERE / "hostplugin_grpclib.py"
GRPCIO_PLUGIN = HERE / "hostplugin_grpcio.py"

#: Test timeouts: short where a test waits for a failure, generous where the plugin must answer.
FAST = SupervisorConfig(python=sys.executable, handshake_timeout=15.0, hook_timeout=10.0,
                        health_interval=30.0, health_timeout=5.0, shutdown_timeout=2.0, term_timeout=2.0,
                        restart_limit=3, restart_delay=0.05, restart_max_delay=0.2)

ALL_TEST_HOOKS = ["OnActivate", "OnDeactivate", "MessageWillBePosted", "MessageHasBeenPosted",
                  "ExecuteCommand", "ServeHTTP"]


def make_plugin(root: Path, plugin_id: str, test: dict[str, Any] | None = None, *,
                script: Path = GRPCLIB_PLUGIN, settings: list[dict[str, Any]] | None = None) -> Path:
    """A plugin directory ``root/plugin_id`` running ``script`` with ``props.test = test``."""
    directory = root / plugin_id
    directory.mkdir(parents=True)
    shutil.copy(script, directory / "plugin.py")
    test = {"hooks": ALL_TEST_HOOKS, **(test or {})}
    manifest: dict[str, Any] = {
        "id": plugin_id, "name": plugin_id, "version": "0.1.0",
        "server": {"executable": "plugin.py", "runtime": "python"}, "props": {"test": test},
    }
    if settings is not None:
        manifest["settings_schema"] = {"settings": settings}
    (directory / "plugin.json").write_text(json.dumps(manifest))
    return directory


def alive(pid: int) -> bool:
    """True if a process (not a zombie) with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    return True


def starts(directory: Path) -> list[int]:
    """Pids of every start of the plugin in ``directory``, in order."""
    path = directory / "starts"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1:<free port>; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def eventually(condition: Any, timeout: float = 10.0) -> None:
    """Wait (bounded) until ``condition()`` is true."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")
