"""Driver of the mmplugin stack: mmplugin's own host (Environment, supervisor, HooksAdapter, in-memory API).

Started by ``mmplugin bench`` with ``--loop asyncio`` or ``--loop uvloop`` (the plugin then runs on
the same loop). Protocol and commands: :mod:`mmplugin.bench.driver`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import messages
import workload
from driver import HostSide, Launched, Transfer, main
from measure import Call, Timed

from mmplugin.host import Environment, HooksAdapter, InMemoryApi, Store, SupervisorConfig
from mmplugin.host.process import PluginProcess, plugin_command
from mmplugin.host.process import plugin_environment as host_environment
from mmplugin.proto import pb
from mmplugin.wire.codec import decode, encode

PLUGIN_SCRIPT = Path(__file__).resolve().with_name("plugin.py")


class Sink:
    """Where ServeHTTP answers land: counts bytes and notes when the first body byte came."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_byte = 0.0
        self.received = 0
        self.status = 0

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status

    async def write(self, data: bytes) -> None:
        if data and not self.received:
            self.first_byte = time.perf_counter() - self.started
        self.received += len(data)


def make_plugin_dir(parent: Path, script: Path) -> Path:
    """A plugin directory (plugin.json and the entry script, linked) for the benchmark plugin."""
    directory = parent / workload.PLUGIN_ID
    directory.mkdir()
    manifest = {"id": workload.PLUGIN_ID, "name": "Benchmark", "version": "0.1.0",
                "server": {"executable": "plugin.py", "runtime": "python"}}
    (directory / "plugin.json").write_text(json.dumps(manifest))
    (directory / "plugin.py").symlink_to(script)
    return directory


class OursHost(HostSide):
    import_statement = "import mmplugin, mmplugin.http"

    def __init__(self, loop: str, plugin_script: Path = PLUGIN_SCRIPT,
                 environment: Mapping[str, str] | None = None) -> None:
        """``plugin_script`` and ``environment`` (added to the plugin's) run another stack's plugin."""
        self.loop = loop
        self._tmp = tempfile.TemporaryDirectory(prefix="mmplugin-bench-")
        self._base_env = {**os.environ, "MMPLUGIN_BENCH_LOOP": loop, **(environment or {})}
        self._plugin_script = plugin_script
        self._store = Store()
        self._user_id = ""
        self._environment: Environment | None = None
        self._hooks: HooksAdapter | None = None
        self._plugin_dir = Path()
        self._request = messages.message_will_be_posted_request()

    @property
    def hooks(self) -> HooksAdapter:
        assert self._hooks is not None, "start() first"
        return self._hooks

    @property
    def plugin_pid(self) -> int:
        assert self._environment is not None
        supervisor = self._environment.supervisor(workload.PLUGIN_ID)
        pid = supervisor.pid if supervisor is not None else None
        assert pid is not None, "the plugin is not running"
        return pid

    def _api_target(self) -> str:
        assert self._environment is not None
        supervisor = self._environment.supervisor(workload.PLUGIN_ID)
        assert supervisor is not None
        return supervisor.api_target

    def plugin_environment(self) -> Mapping[str, str]:
        return host_environment(self._api_target(), self._base_env)

    async def start(self) -> None:
        self._user_id = self._store.directory.create_user(messages.get_user_response().user).id
        self._plugin_dir = make_plugin_dir(Path(self._tmp.name), self._plugin_script)
        config = SupervisorConfig(python=sys.executable, environment=self._base_env, hook_timeout=600.0,
                                  health_interval=3600.0)
        self._environment = Environment(InMemoryApi(self._store), config)
        manifest = self._environment.load(self._plugin_dir)
        await self._environment.activate(manifest.id)
        self._hooks = self._environment.hooks_for_plugin(manifest.id)

    async def close(self) -> None:
        if self._environment is not None:
            await self._environment.shutdown()
        self._tmp.cleanup()

    def hook(self, name: str) -> Call:
        hooks = self.hooks
        if name == "Implemented":
            return hooks.discover
        request = self._request
        return lambda: hooks.invoke(name, request)

    def get(self) -> Call:
        hooks = self.hooks
        init = messages.serve_http_init("GET", workload.SMALL_PATH)

        async def call() -> None:
            sink = Sink()
            await hooks.serve_http(init, None, sink)
            if sink.received != len(workload.SMALL_BODY):
                raise RuntimeError(f"GET {workload.SMALL_PATH}: status {sink.status}, {sink.received} bytes")

        return call

    async def _transfer(self, init: pb.ServeHttpRequestInit, body: AsyncIterator[bytes] | None) -> Transfer:
        sink = Sink()
        await self.hooks.serve_http(init, body, sink)
        return Transfer(sink.received, sink.first_byte, time.perf_counter() - sink.started)

    async def echo(self, size: int) -> Transfer:
        return await self._transfer(messages.serve_http_init("POST", workload.ECHO_PATH, size), _pieces(size))

    async def download(self, size: int) -> Transfer:
        url = f"{workload.DOWNLOAD_PATH}?size={size}"
        return await self._transfer(messages.serve_http_init("GET", url), None)

    async def api(self, method: str, calls: int, warmup: int) -> Timed:
        run = workload.ApiRun(method, calls, warmup, self._user_id)
        response = await self.hooks.invoke("ExecuteCommand", args=pb.CommandArgs(command=run.command()))
        if response.error is not None and response.error.id:
            raise RuntimeError(f"ExecuteCommand failed: {response.error.detailed_error}")
        result = json.loads(response.response.text)
        return Timed(result["samples"], result["elapsed"])

    async def launch(self) -> Launched:
        assert self._environment is not None
        manifest = self._environment.manifest(workload.PLUGIN_ID)
        argv = plugin_command(self._plugin_dir, manifest, sys.executable)
        started = time.perf_counter()
        process = await PluginProcess.start(argv, self._plugin_dir, self.plugin_environment(), manifest.id,
                                            logging.getLogger("bench.launch"))
        await process.read_handshake(60.0)
        return Launched(process.pid, time.perf_counter() - started, process.stop)

    def codec(self) -> tuple[Callable[[], object], Callable[[], object]]:
        request = self._request
        data = encode(request)
        return (lambda: encode(request)), (lambda: workload.read_post(decode(pb.MessageWillBePostedRequest, data).post))


async def _pieces(size: int) -> AsyncIterator[bytes]:
    for piece in workload.pieces(size):
        yield piece


if __name__ == "__main__":
    main(OursHost, loops=("asyncio", "uvloop"))
