"""The host side of one stack, as a process the benchmark runner drives (one driver per stack).

A driver script (``benchmarks/<stack>/host.py``) builds a :class:`HostSide` and hands it to
:func:`main`. The driver starts the stack's plugin process, then answers the runner's commands
one at a time: one JSON object per line on stdin, one JSON answer per line on stdout
(``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": "..."}``). Anything else the
process prints goes to stderr. End of stdin stops the plugin and the driver.

Commands (``op`` and its arguments) and their raw results, timed by the same code for every stack:

========  ==================================  ====================================================
op        arguments                           result
========  ==================================  ====================================================
hook      hook, calls, warmup, concurrency    ``samples`` (s per call), ``elapsed`` (s)
get       calls, warmup, concurrency          ``samples``, ``elapsed`` (1 KiB GETs via ServeHTTP)
echo      size, warmup                        ``bytes``, ``elapsed``, ``first_byte``, ``peak_rss``
                                              (after an untimed echo of ``warmup`` bytes)
download  size, warmup                        ``bytes``, ``elapsed``, ``first_byte`` (likewise)
api       method, calls, warmup               ``samples``, ``elapsed`` (timed in the plugin)
launch    samples                             ``handshake`` (s), ``idle_rss`` (bytes): medians of
                                              ``samples`` fresh plugin processes
import    samples                             ``seconds`` to import the plugin side in a fresh
                                              process (median of ``samples`` processes)
codec     seconds                             ``encode_ops_per_s``, ``decode_ops_per_s``
========  ==================================  ====================================================
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from measure import (
    Call,
    Timed,
    measure_calls,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    time_ops,
)

from mmplugin.wire import handshake as hs

#: Seconds a freshly launched plugin sits idle before its RSS is read.
IDLE_SETTLE = 0.2
#: Seconds a driver waits for a plugin's handshake line.
HANDSHAKE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Transfer:
    """One streamed HTTP exchange: bytes received back, seconds to the first body byte and to the end."""

    received: int
    first_byte: float
    elapsed: float


@dataclass
class Launched:
    """A plugin process just started: its pid, seconds from spawn to handshake line, how to stop it."""

    pid: int
    handshake: float
    stop: Callable[[], Awaitable[object]]


class HostSide(Protocol):
    """What a stack's driver provides; the timing loops around it are shared."""

    @property
    def plugin_pid(self) -> int:
        """The long-lived plugin process the workloads run against (after :meth:`start`)."""

    import_statement: str
    """Python statement importing what the stack's plugin imports (timed by ``import``)."""

    def plugin_environment(self) -> Mapping[str, str]:
        """Environment of the stack's plugin processes."""

    async def start(self) -> None:
        """Start the API server and the plugin process; return once hooks can be called."""

    async def close(self) -> None:
        """Stop the plugin process and everything :meth:`start` opened."""

    def hook(self, name: str) -> Call:
        """A call of hook ``name`` (``MessageWillBePosted`` or ``Implemented``) as the host makes it."""

    def get(self) -> Call:
        """One ``GET /small`` through ServeHTTP, reading the whole 1 KiB answer."""

    async def echo(self, size: int) -> Transfer:
        """``POST /echo`` of ``size`` bytes sent in 64 KiB pieces while reading the echo."""

    async def download(self, size: int) -> Transfer:
        """``GET /download?size=N``, the plugin answering in 64 KiB pieces."""

    async def api(self, method: str, calls: int, warmup: int) -> Timed:
        """Have the plugin time ``calls`` PluginAPI calls of ``method`` against this host."""

    async def launch(self) -> Launched:
        """Start a fresh plugin process and wait for its handshake line (nothing else)."""

    def codec(self) -> tuple[Callable[[], object], Callable[[], object]] | None:
        """Encode, and decode plus :func:`workload.read_post`, of the MessageWillBePosted request, or None."""


async def launch_plugin(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[
        asyncio.subprocess.Process, hs.Handshake, float]:
    """Spawn a plugin like a host does and read its handshake line; returns it with the seconds taken.

    For stacks without a host library of their own; stderr is inherited (the driver's log).
    """
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, cwd=str(cwd), env=dict(env),
                                                stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), HANDSHAKE_TIMEOUT)
        elapsed = time.perf_counter() - started
        handshake = hs.Handshake.parse(line.decode())
    except BaseException:
        await stop_process(proc)
        raise
    return proc, handshake, elapsed


async def stop_process(proc: asyncio.subprocess.Process, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; always reaps."""
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
    await proc.wait()


def plugin_environment(api_target: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus what a host sets for a plugin (SEMANTICS §1.2)."""
    env = dict(os.environ)
    env.update({hs.MAGIC_COOKIE_KEY: hs.MAGIC_COOKIE_VALUE, hs.API_TARGET_ENV: api_target,
                hs.PROTOCOL_VERSIONS_ENV: str(hs.APP_PROTOCOL_VERSION)})
    env.update(extra or {})
    return env


class _Driver:
    def __init__(self, host: HostSide) -> None:
        self.host = host

    async def hook(self, hook: str, calls: int, warmup: int, concurrency: int) -> dict[str, Any]:
        return (await measure_calls(self.host.hook(hook), calls, warmup, concurrency)).as_json()

    async def get(self, calls: int, warmup: int, concurrency: int) -> dict[str, Any]:
        return (await measure_calls(self.host.get(), calls, warmup, concurrency)).as_json()

    async def echo(self, size: int, warmup: int = 0) -> dict[str, Any]:
        if warmup:
            _check_size("echo", await self.host.echo(warmup), warmup)
        pid = self.host.plugin_pid
        reset_peak_rss(pid)
        transfer = await self.host.echo(size)
        _check_size("echo", transfer, size)
        return {"bytes": size, "elapsed": transfer.elapsed, "first_byte": transfer.first_byte,
                "peak_rss": peak_rss_bytes(pid)}

    async def download(self, size: int, warmup: int = 0) -> dict[str, Any]:
        if warmup:
            _check_size("download", await self.host.download(warmup), warmup)
        transfer = await self.host.download(size)
        _check_size("download", transfer, size)
        return {"bytes": size, "elapsed": transfer.elapsed, "first_byte": transfer.first_byte}

    async def api(self, method: str, calls: int, warmup: int) -> dict[str, Any]:
        return (await self.host.api(method, calls, warmup)).as_json()

    async def launch(self, samples: int = 1) -> dict[str, Any]:
        handshakes, idle = [], []
        for _ in range(samples):
            launched = await self.host.launch()
            try:
                await asyncio.sleep(IDLE_SETTLE)
                idle.append(rss_bytes(launched.pid))
            finally:
                await launched.stop()
            handshakes.append(launched.handshake)
        return {"handshake": statistics.median(handshakes), "idle_rss": statistics.median(idle)}

    async def import_(self, samples: int = 1) -> dict[str, Any]:
        # sys.__stdout__: a plugin runtime may point sys.stdout elsewhere when imported under a host.
        script = ("import sys, time; _t = time.perf_counter(); " + self.host.import_statement +
                  "; sys.__stdout__.write(repr(time.perf_counter() - _t))")
        env = dict(self.host.plugin_environment())
        seconds = []
        for _ in range(samples):
            done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", script], env=env,
                                           capture_output=True, text=True, timeout=60, check=False)
            if done.returncode:
                raise RuntimeError(f"import of the plugin side failed: {done.stderr.strip()[-2000:]}")
            seconds.append(float(done.stdout.split()[-1]))
        return {"seconds": statistics.median(seconds)}

    async def codec(self, seconds: float) -> dict[str, Any]:
        functions = self.host.codec()
        if functions is None:
            raise RuntimeError("this stack has no codec")
        encode, decode = functions
        return {"encode_ops_per_s": time_ops(encode, seconds), "decode_ops_per_s": time_ops(decode, seconds)}

    async def run(self, command: Mapping[str, Any]) -> dict[str, Any]:
        op = command.get("op")
        handler = {"hook": self.hook, "get": self.get, "echo": self.echo, "download": self.download,
                   "api": self.api, "launch": self.launch, "import": self.import_,
                   "codec": self.codec}.get(str(op))
        if handler is None:
            raise ValueError(f"unknown driver command {op!r}")
        args = {key: value for key, value in command.items() if key != "op"}
        result: dict[str, Any] = await handler(**args)
        return result


def _check_size(what: str, transfer: Transfer, size: int) -> None:
    if transfer.received != size:
        raise RuntimeError(f"{what}: got {transfer.received} bytes back, expected {size}")


async def _serve(host: HostSide, out: IO[str]) -> None:
    loop = asyncio.get_running_loop()
    # SIGTERM (the runner gave up on us) cancels whatever runs; the plugin is still stopped below.
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(value: Mapping[str, Any]) -> None:
        out.write(json.dumps(value) + "\n")
        out.flush()

    try:
        await host.start()
    except Exception as exc:
        answer({"ok": False, "error": f"start failed: {exc!r}"})
        raise
    driver = _Driver(host)
    try:
        answer({"ok": True, "result": {"pid": host.plugin_pid}})
        while line := await reader.readline():
            try:
                result = await driver.run(json.loads(line))
            except Exception as exc:
                print(f"driver: command {line.decode().strip()[:200]} failed", file=sys.stderr)
                answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            else:
                answer({"ok": True, "result": result})
    finally:
        await host.close()


def main(make_host: Callable[[str], HostSide], loops: Sequence[str] = ("asyncio",)) -> None:
    """Run a driver: ``--loop NAME`` picks the event loop (``asyncio``, or ``uvloop`` where offered)."""
    parser = argparse.ArgumentParser(description="benchmark driver (started by mmplugin bench)")
    parser.add_argument("--loop", choices=loops, default="asyncio")
    loop_name = parser.parse_args().loop
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The runner reads answers from our stdout: keep a private copy and send stray prints to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    host = make_host(loop_name)
    try:
        if loop_name == "uvloop":
            importlib.import_module("uvloop").run(_serve(host, out))
        else:
            asyncio.run(_serve(host, out))
    except asyncio.CancelledError:
        print("driver: stopped by SIGTERM", file=sys.stderr)
        sys.exit(1)
