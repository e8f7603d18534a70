"""Starting a plugin process the way the Mattermost server does, and its stdio (SEMANTICS §1).

:func:`plugin_command` picks the interpreter and entry script, :func:`plugin_environment` builds the
environment, and :class:`PluginProcess` runs the child in its own process group, reads the
handshake line, relays stderr into :mod:`logging` and stops the child without leaving a zombie.

The child gets its own session (process group) so that a Ctrl-C in the host's terminal reaches the
host only: the host then deactivates each plugin in order instead of every plugin dying at once.
Stopping signals the whole group, so helpers the plugin spawned go too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import shutil
import signal
from collections import deque
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import NoReturn

from mmplugin.host.errors import HandshakeFailed, PluginStartError
from mmplugin.manifest import Manifest
from mmplugin.wire import handshake as hs
from mmplugin.wire.logline import parse_line, python_level

#: Interpreters inside the plugin directory, tried in this order before PATH (SEMANTICS §1.1).
VENV_INTERPRETERS = ("venv/bin/python", "venv/bin/python3", ".venv/bin/python", ".venv/bin/python3")
PATH_INTERPRETERS = ("python3", "python")
STDERR_TAIL_LINES = 20
_HANDSHAKE_LINE_LIMIT = 64 * 1024


def find_interpreter(plugin_dir: Path, override: str | None = None, fallback: str | None = None) -> str:
    """The Python interpreter for a plugin: ``override`` if given, else the plugin's venv, else
    ``fallback`` if given, else PATH (SEMANTICS §1: the server's search order has no fallback).

    A relative ``override`` path is taken from the host's working directory, not the plugin's.
    """
    if override:
        return os.path.abspath(override) if os.sep in override else shutil.which(override) or override
    for relative in VENV_INTERPRETERS:
        candidate = plugin_dir / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    if fallback:
        return fallback
    for name in PATH_INTERPRETERS:
        found = shutil.which(name)
        if found:
            return found
    raise PluginStartError(
        f"{plugin_dir}: no Python interpreter found (looked for {', '.join(VENV_INTERPRETERS)} "
        f"in the plugin directory, then {' and '.join(PATH_INTERPRETERS)} on PATH)")


def _platform_key() -> str:
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    machine = platform.machine().lower()
    return f"{platform.system().lower()}-{arch.get(machine, machine)}"


def plugin_command(plugin_dir: Path, manifest: Manifest, python: str | None = None,
                   fallback_python: str | None = None) -> list[str]:
    """The argv that starts the plugin: interpreter plus ``server.executable`` (or this platform's entry)."""
    if not manifest.is_python:
        raise PluginStartError(
            f"plugin {manifest.id!r}: not a Python plugin (set server.runtime to \"python\" "
            "or server.executable to a .py file in plugin.json)")
    executable = manifest.executable or manifest.executables.get(_platform_key(), "")
    if not executable:
        raise PluginStartError(f"plugin {manifest.id!r}: plugin.json has no server.executable")
    script = (plugin_dir / executable).resolve()
    if not script.is_file():
        raise PluginStartError(f"plugin {manifest.id!r}: server.executable {executable!r} not found at {script}")
    return [find_interpreter(plugin_dir, python, fallback_python), str(script)]


def plugin_environment(api_target: str, base: Mapping[str, str] | None = None,
                       port_range: tuple[int, int] = (10000, 25000)) -> dict[str, str]:
    """The host's environment plus go-plugin's variables and the PluginAPI address (SEMANTICS §1.2)."""
    env = dict(os.environ if base is None else base)
    env[hs.MAGIC_COOKIE_KEY] = hs.MAGIC_COOKIE_VALUE
    env[hs.MIN_PORT_ENV] = str(port_range[0])
    env[hs.MAX_PORT_ENV] = str(port_range[1])
    env[hs.PROTOCOL_VERSIONS_ENV] = str(hs.APP_PROTOCOL_VERSION)
    env[hs.API_TARGET_ENV] = api_target
    return env


def describe_exit(returncode: int | None) -> str:
    """``exit status 3`` or ``killed by SIGKILL``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class PluginProcess:
    """One running plugin child process. Create it with :meth:`start`; always finish with :meth:`stop`."""

    def __init__(self, proc: asyncio.subprocess.Process, plugin_id: str, logger: logging.Logger) -> None:
        self._proc = proc
        self.plugin_id = plugin_id
        self.logger = logger
        self._tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task = asyncio.create_task(self._relay_stderr(), name=f"plugin {plugin_id} stderr")
        self._stdout_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, argv: list[str], cwd: Path, env: Mapping[str, str], plugin_id: str,
                    logger: logging.Logger) -> PluginProcess:
        """Spawn the plugin in its own process group with piped stdout and stderr."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=str(cwd), env=dict(env), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True, limit=_HANDSHAKE_LINE_LIMIT)
        except OSError as exc:
            raise PluginStartError(f"plugin {plugin_id!r}: cannot run {argv[0]}: {exc.strerror or exc}") from None
        return cls(proc, plugin_id, logger)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def stderr_tail(self) -> tuple[str, ...]:
        """The last stderr lines the plugin wrote (at most ``STDERR_TAIL_LINES``)."""
        return tuple(self._tail)

    async def read_handshake(self, timeout: float) -> hs.Handshake:
        """Read and check the handshake line; on failure stop the process and raise :class:`HandshakeFailed`."""
        assert self._proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            await self._fail(f"plugin {self.plugin_id!r}: no handshake line on stdout within {timeout:g} s")
        except ValueError:
            await self._fail(f"plugin {self.plugin_id!r}: malformed handshake: first stdout line is longer "
                             f"than {_HANDSHAKE_LINE_LIMIT} bytes")
        if not raw.endswith(b"\n"):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 2.0)
            partial = raw.decode("utf-8", errors="replace")
            what = "before printing its handshake line" if not raw else f"after printing a partial line {partial!r}"
            await self._fail(f"plugin {self.plugin_id!r} exited {what} ({describe_exit(self._proc.returncode)})")
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        try:
            handshake = hs.Handshake.parse(text)
        except hs.HandshakeError as exc:
            await self._fail(f"plugin {self.plugin_id!r}: malformed handshake: {exc}")
        if handshake.host != "127.0.0.1":
            await self._fail(f"plugin {self.plugin_id!r}: handshake announces {handshake.address}; "
                             "only 127.0.0.1 is dialled")
        self._stdout_task = asyncio.create_task(self._relay_stdout(), name=f"plugin {self.plugin_id} stdout")
        return handshake

    async def _fail(self, message: str) -> NoReturn:
        await self.stop(term_timeout=1.0)
        raise HandshakeFailed(message, self.stderr_tail)

    async def wait(self) -> int:
        """Wait for the process to exit (reaping it) and return its exit code."""
        return await self._proc.wait()

    async def wait_exited(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to exit; True if it did."""
        try:
            await asyncio.wait_for(asyncio.shield(self._proc.wait()), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the plugin's process group (the plugin and anything it spawned)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def stop(self, term_timeout: float = 2.0) -> bool:
        """Make sure the process is gone and reaped: SIGTERM, then SIGKILL after ``term_timeout``.

        Returns True if the process had to be signalled (it had not exited by itself).
        """
        signalled = False
        if self._proc.returncode is None:
            signalled = True
            self.signal_group(signal.SIGTERM)
            if not await self.wait_exited(term_timeout):
                self.logger.warning("plugin %s ignored SIGTERM for %g s, killing it", self.plugin_id, term_timeout)
                self.signal_group(signal.SIGKILL)
                await self._proc.wait()
        # Anything the plugin left behind in its group is an orphan now.
        self.signal_group(signal.SIGKILL)
        await self._finish_relays()
        return signalled

    async def _finish_relays(self) -> None:
        tasks = [t for t in (self._stderr_task, self._stdout_task) if t is not None]
        _, pending = await asyncio.wait(tasks, timeout=1.0)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _relay_stderr(self) -> None:
        assert self._proc.stderr is not None
        async for raw in _lines(self._proc.stderr):
            line = parse_line(raw)
            self._tail.append(line.message)
            text = line.message
            if line.fields:
                text += " " + " ".join(f"{key}={value!r}" for key, value in line.fields.items())
            self.logger.log(python_level(line.level), "%s", text,
                            extra={"plugin_id": self.plugin_id, "plugin_fields": line.fields})

    async def _relay_stdout(self) -> None:
        # Not a log channel (SEMANTICS §1.8); drained so the plugin never blocks on a full pipe.
        assert self._proc.stdout is not None
        async for raw in _lines(self._proc.stdout):
            self.logger.debug("stdout: %s", raw, extra={"plugin_id": self.plugin_id})


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # an over-long line: take what is buffered as one line
            raw = await stream.read(_HANDSHAKE_LINE_LIMIT)
        if not raw:
            return
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


__all__ = [
    "PATH_INTERPRETERS", "VENV_INTERPRETERS", "PluginProcess", "describe_exit", "find_interpreter",
    "plugin_command", "plugin_environment",
]
