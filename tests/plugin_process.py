"""Test helpers: run a plugin directory as a real process, the way a host does, and call it.

``PluginProcess`` starts ``plugin.py`` with the host's environment (magic cookie, cwd = plugin
directory), collects stdout and stderr on threads, and reads the handshake line. ``call`` is a
grpclib client call with the project codec; ``grpcio_call`` the same through grpcio, the foreign peer.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import grpc
from grpclib.client import Channel, UnaryUnaryMethod

from mmplugin.hooks import HOOKS_BY_NAME
from mmplugin.wire.codec import MessageCodec, decode, encode
from mmplugin.wire.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, Handshake
from mmplugin.wire.logline import LogLine, parse_line

MANIFEST = {"id": "com.example.test", "name": "Test",
            "server": {"executable": "plugin.py", "runtime": "python"}}


def write_plugin(directory: Path, source: str, manifest: dict[str, Any] | None = None) -> Path:
    """A plugin directory holding ``plugin.json`` and ``plugin.py`` (``source``, dedented)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.json").write_text(json.dumps(MANIFEST if manifest is None else manifest))
    (directory / "plugin.py").write_text(textwrap.dedent(source))
    return directory


class PluginProcess:
    """A plugin process started as a host starts it."""

    def __init__(self, directory: Path, env: dict[str, str] | None = None, *, cookie: bool = True) -> None:
        environ = {k: v for k, v in os.environ.items() if k != MAGIC_COOKIE_KEY}
        if cookie:
            environ[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "plugin.py"], cwd=directory, env=environ,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._stdout: queue.Queue[str | None] = queue.Queue()
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, self._stdout)),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, None)),
        ]
        for thread in self._threads:
            thread.start()
        self._handshake: Handshake | None = None

    @staticmethod
    def _pump(pipe: IO[bytes], lines: list[str], notify: queue.Queue[str | None] | None) -> None:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if notify is not None:
                notify.put(line)
        if notify is not None:
            notify.put(None)

    def handshake(self, timeout: float = 20.0) -> Handshake:
        """The first stdout line, parsed (the host waits 10 s; tests allow for a loaded machine)."""
        if self._handshake is None:
            try:
                line = self._stdout.get(timeout=timeout)
            except queue.Empty:
                message = f"no handshake within {timeout} s; stderr: {self.stderr_lines}"
                raise AssertionError(message) from None
            assert line is not None, f"plugin exited before its handshake; stderr: {self.stderr_lines}"
            self._handshake = Handshake.parse(line)
        return self._handshake

    @property
    def address(self) -> str:
        return self.handshake().address

    def channel(self) -> Channel:
        """A grpclib channel to the plugin (create it inside a running loop)."""
        handshake = self.handshake()
        return Channel(handshake.host, handshake.port, codec=MessageCodec())

    def logs(self) -> list[LogLine]:
        return [parse_line(line) for line in list(self.stderr_lines)]

    def wait_for_log(self, predicate: Callable[[LogLine], bool], timeout: float = 20.0) -> LogLine:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for log in self.logs():
                if predicate(log):
                    return log
            time.sleep(0.02)
        raise AssertionError(f"no matching log line within {timeout} s; stderr: {self.stderr_lines}")

    def wait(self, timeout: float = 20.0) -> int:
        """The exit status; also waits until all output has been read."""
        code = self.proc.wait(timeout)
        for thread in self._threads:
            thread.join(timeout)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.wait()


async def call(channel: Channel, path_or_hook: str, request: Any = None, reply_type: type | None = None,
               *, timeout: float | None = 20.0) -> Any:
    """One unary call; a bare hook name (``"OnActivate"``) means that hook's path and messages."""
    if path_or_hook in HOOKS_BY_NAME:
        hook = HOOKS_BY_NAME[path_or_hook]
        path, request, reply_type = hook.path, hook.request() if request is None else request, hook.response
    else:
        path = path_or_hook
    assert reply_type is not None
    method: UnaryUnaryMethod[Any, Any] = UnaryUnaryMethod(channel, path, type(request), reply_type)
    return await method(request, timeout=timeout)


def grpcio_call(address: str, path: str, request: Any, reply_type: type, timeout: float = 20.0) -> Any:
    """One unary call through grpcio (Google's C-core client), with the project codec's bytes."""
    with grpc.insecure_channel(address) as channel:
        method = channel.unary_unary(path, request_serializer=encode,
                                     response_deserializer=lambda data: decode(reply_type, data))
        return method(request, timeout=timeout)
