"""Driver of the baseline stack: a grpcio asyncio host with Google protobuf messages.

Compiles protos/ (:mod:`baseline.protos`), serves ``PluginAPI`` (GetUser, KVSet, KVGet over a dict)
with a grpcio server, launches ``baseline/plugin.py`` like a host and calls it through grpcio
stubs. Protocol and commands: the ``driver`` module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import messages
import workload
from driver import HostSide, Launched, Transfer, launch_plugin, main, plugin_environment, stop_process
from measure import Call, Timed

from baseline.protos import PB2_ENV, compile_protos
from mmplugin.wire.codec import encode

PLUGIN_SCRIPT = Path(__file__).resolve().with_name("plugin.py")


def api_servicer(api_pb2_grpc, api_user_team_pb2, api_kv_config_pb2, users: dict[str, object]) -> object:
    """The PluginAPI methods the workload calls, with the in-memory host's logic: dict lookups."""
    kv: dict[str, bytes] = {}

    class Api(api_pb2_grpc.PluginAPIServicer):
        async def GetUser(self, request, context):
            return api_user_team_pb2.GetUserResponse(user=users[request.user_id])

        async def KVSet(self, request, context):
            kv[request.key] = request.value
            return api_kv_config_pb2.KVSetResponse()

        async def KVGet(self, request, context):
            return api_kv_config_pb2.KVGetResponse(value=kv.get(request.key, b""))

    return Api()


class GrpcioHost(HostSide):
    import_statement = ("import sys, os; sys.path.insert(0, os.environ['MMPLUGIN_BENCH_PB2']); "
                        "import grpc, hooks_pb2_grpc, api_pb2_grpc, goplugin.health_pb2_grpc, "
                        "goplugin.grpc_controller_pb2_grpc")

    def __init__(self, loop: str, plugin_dir: Path | None = None) -> None:
        """``plugin_dir``: run the ``plugin.py`` in it, from it, instead of grpcio's benchmark plugin."""
        self._tmp = tempfile.TemporaryDirectory(prefix="mmplugin-bench-grpcio-")
        self._pb2 = Path(self._tmp.name) / "pb2"
        script = PLUGIN_SCRIPT if plugin_dir is None else plugin_dir / "plugin.py"
        self._argv = [sys.executable, str(script)]
        self._cwd = Path(self._tmp.name) if plugin_dir is None else plugin_dir
        self._api_target = ""
        self._process: asyncio.subprocess.Process | None = None
        self._server = None
        self._channel = None

    @property
    def plugin_pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def plugin_environment(self) -> Mapping[str, str]:
        return plugin_environment(self._api_target, {PB2_ENV: str(self._pb2)})

    async def start(self) -> None:
        self._pb2.mkdir()
        compile_protos(self._pb2)
        sys.path.insert(0, str(self._pb2))
        import api_kv_config_pb2
        import api_pb2_grpc
        import api_remaining_pb2
        import api_user_team_pb2
        import grpc
        import hooks_command_pb2
        import hooks_http_pb2
        import hooks_lifecycle_pb2
        import hooks_message_pb2
        import hooks_pb2_grpc
        from goplugin import grpc_controller_pb2, grpc_controller_pb2_grpc

        self.grpc = grpc
        self.http = hooks_http_pb2
        self.lifecycle = hooks_lifecycle_pb2
        self.command = hooks_command_pb2
        self.remaining = api_remaining_pb2
        self.controller = (grpc_controller_pb2, grpc_controller_pb2_grpc)
        user = messages.get_user_response().user
        self._user_id = user.id
        self.request_class = hooks_message_pb2.MessageWillBePostedRequest
        self.request = self.request_class.FromString(encode(messages.message_will_be_posted_request()))
        google_user = api_user_team_pb2.GetUserResponse.FromString(encode(messages.get_user_response())).user
        users = {user.id: google_user}
        self._server = grpc.aio.server()
        api_pb2_grpc.add_PluginAPIServicer_to_server(
            api_servicer(api_pb2_grpc, api_user_team_pb2, api_kv_config_pb2, users), self._server)
        self._api_target = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        await self._server.start()
        self._process, handshake, _ = await launch_plugin(self._argv, self._cwd, self.plugin_environment())
        self._channel = grpc.aio.insecure_channel(handshake.address)
        self.stub = hooks_pb2_grpc.PluginHooksStub(self._channel)
        await self.stub.Implemented(hooks_lifecycle_pb2.ImplementedRequest(), timeout=30)

    async def close(self) -> None:
        if self._channel is not None:
            pb2, stubs = self.controller
            with contextlib.suppress(self.grpc.aio.AioRpcError):
                await stubs.GRPCControllerStub(self._channel).Shutdown(pb2.Empty(), timeout=2)
            await self._channel.close()
        if self._process is not None:
            await stop_process(self._process)
        if self._server is not None:
            await self._server.stop(None)
        self._tmp.cleanup()

    def hook(self, name: str) -> Call:
        stub = self.stub
        if name == "Implemented":
            implemented = self.lifecycle.ImplementedRequest()
            return lambda: stub.Implemented(implemented, timeout=30)
        request = self.request
        return lambda: stub.MessageWillBePosted(request, timeout=30)

    def _init(self, method: str, url: str, content_length: int = -1):
        ours = messages.serve_http_init(method, url, content_length)
        return self.http.ServeHTTPRequestInit.FromString(encode(ours))

    async def _exchange(self, requests: AsyncIterator[object]) -> Transfer:
        started = time.perf_counter()
        first_byte = 0.0
        received = 0
        async for response in self.stub.ServeHTTP(requests):
            if response.body_chunk:
                if not received:
                    first_byte = time.perf_counter() - started
                received += len(response.body_chunk)
            if response.body_complete:
                break
        return Transfer(received, first_byte, time.perf_counter() - started)

    def get(self) -> Call:
        Request = self.http.ServeHTTPRequest
        message = Request(init=self._init("GET", workload.SMALL_PATH), body_complete=True)

        async def requests() -> AsyncIterator[object]:
            yield message

        async def call() -> None:
            transfer = await self._exchange(requests())
            if transfer.received != len(workload.SMALL_BODY):
                raise RuntimeError(f"GET {workload.SMALL_PATH}: {transfer.received} bytes")

        return call

    async def echo(self, size: int) -> Transfer:
        Request = self.http.ServeHTTPRequest
        init = self._init("POST", workload.ECHO_PATH, size)

        async def requests() -> AsyncIterator[object]:
            yield Request(init=init)
            for piece in workload.pieces(size):
                yield Request(body_chunk=piece)
            yield Request(body_complete=True)

        return await self._exchange(requests())

    async def download(self, size: int) -> Transfer:
        Request = self.http.ServeHTTPRequest
        message = Request(init=self._init("GET", f"{workload.DOWNLOAD_PATH}?size={size}"), body_complete=True)

        async def requests() -> AsyncIterator[object]:
            yield message

        return await self._exchange(requests())

    async def api(self, method: str, calls: int, warmup: int) -> Timed:
        run = workload.ApiRun(method, calls, warmup, self._user_id)
        request = self.command.ExecuteCommandRequest(args=self.remaining.CommandArgs(command=run.command()))
        response = await self.stub.ExecuteCommand(request, timeout=600)
        result = json.loads(response.response.text)
        return Timed(result["samples"], result["elapsed"])

    async def launch(self) -> Launched:
        process, _, elapsed = await launch_plugin(self._argv, self._cwd, self.plugin_environment())
        return Launched(process.pid, elapsed, lambda: stop_process(process))

    def codec(self) -> tuple[Callable[[], object], Callable[[], object]]:
        request, cls = self.request, self.request_class
        data = request.SerializeToString()
        return request.SerializeToString, (lambda: workload.read_post(cls.FromString(data).post))


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main(GrpcioHost)
