"""The baseline plugin: grpcio's asyncio server with Google protobuf messages, as upstream plugins run.

Same behaviour as the mmplugin stack's plugin (``benchmarks/ours/plugin.py``), written the way a
grpcio servicer is: MessageWillBePosted inspects and allows, ExecuteCommand times PluginAPI calls
(grpcio client) inside the plugin, ServeHTTP echoes, streams a download or answers 1 KiB.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import workload

from baseline.protos import use_compiled

use_compiled()

import api_kv_config_pb2  # noqa: E402
import api_pb2_grpc  # noqa: E402
import api_remaining_pb2  # noqa: E402
import api_user_team_pb2  # noqa: E402
import grpc  # noqa: E402
import hooks_command_pb2  # noqa: E402
import hooks_http_pb2  # noqa: E402
import hooks_lifecycle_pb2  # noqa: E402
import hooks_message_pb2  # noqa: E402
import hooks_pb2_grpc  # noqa: E402
from goplugin import grpc_controller_pb2, grpc_controller_pb2_grpc, health_pb2, health_pb2_grpc  # noqa: E402

HEADERS = [hooks_http_pb2.HTTPHeader(key="Content-Type", values=["application/octet-stream"])]


class Hooks(hooks_pb2_grpc.PluginHooksServicer):
    def __init__(self) -> None:
        self._api: api_pb2_grpc.PluginAPIStub | None = None

    async def Implemented(self, request, context):
        return hooks_lifecycle_pb2.ImplementedResponse(hooks=workload.IMPLEMENTED)

    async def MessageWillBePosted(self, request, context):
        post = request.post
        prop = post.props.fields.get("from_webhook") if post.HasField("props") else None
        if not workload.allows(post.message, prop.string_value if prop else ""):
            raise AssertionError("the benchmark post is always allowed")
        return hooks_message_pb2.MessageWillBePostedResponse()

    async def ExecuteCommand(self, request, context):
        from measure import measure_calls

        run = workload.ApiRun.parse(request.args.command)
        if self._api is None:
            channel = grpc.aio.insecure_channel(os.environ[workload.API_TARGET_ENV])
            self._api = api_pb2_grpc.PluginAPIStub(channel)
        api = self._api
        get_user = api_user_team_pb2.GetUserRequest(user_id=run.user_id)
        kv_set = api_kv_config_pb2.KVSetRequest(key=workload.KV_KEY, value=workload.KV_VALUE)
        kv_get = api_kv_config_pb2.KVGetRequest(key=workload.KV_KEY)

        async def call_get_user():
            response = await api.GetUser(get_user, timeout=30)
            return response.user

        async def call_kv_set():
            response = await api.KVSet(kv_set, timeout=30)
            if response.HasField("error") and response.error.id:
                raise RuntimeError(response.error.id)

        async def call_kv_get():
            response = await api.KVGet(kv_get, timeout=30)
            return response.value

        calls = {"GetUser": call_get_user, "KVSet": call_kv_set, "KVGet": call_kv_get}
        timed = await measure_calls(calls[run.method], run.calls, run.warmup, 1)
        return hooks_command_pb2.ExecuteCommandResponse(
            response=api_remaining_pb2.CommandResponse(text=json.dumps(timed.as_json())))

    async def ServeHTTP(self, request_iterator, context):
        first = await anext(aiter(request_iterator))
        url = first.init.url
        path = url.partition("?")[0]
        Response = hooks_http_pb2.ServeHTTPResponse
        if path == workload.ECHO_PATH:
            yield Response(init=hooks_http_pb2.ServeHTTPResponseInit(status_code=200, headers=HEADERS))
            if first.body_chunk:
                yield Response(body_chunk=first.body_chunk)
            if not first.body_complete:
                async for message in request_iterator:
                    if message.body_chunk:
                        yield Response(body_chunk=message.body_chunk)
                    if message.body_complete:
                        break
            yield Response(body_complete=True)
        elif path == workload.DOWNLOAD_PATH:
            size = workload.download_size(url)
            yield Response(init=hooks_http_pb2.ServeHTTPResponseInit(status_code=200, headers=HEADERS))
            for piece in workload.pieces(size):
                yield Response(body_chunk=piece)
            yield Response(body_complete=True)
        elif path == workload.SMALL_PATH:
            # The messages every stack sends (SEMANTICS §3: the first carries init, then the body).
            yield Response(init=hooks_http_pb2.ServeHTTPResponseInit(status_code=200, headers=HEADERS))
            yield Response(body_chunk=workload.SMALL_BODY, body_complete=True)
        else:
            yield Response(init=hooks_http_pb2.ServeHTTPResponseInit(status_code=404), body_complete=True)


class Health(health_pb2_grpc.HealthServicer):
    async def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    async def Shutdown(self, request, context):
        self._stop.set()
        return grpc_controller_pb2.Empty()


async def serve() -> None:
    stop = asyncio.Event()
    server = grpc.aio.server()
    hooks_pb2_grpc.add_PluginHooksServicer_to_server(Hooks(), server)
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stop), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(workload.handshake_line(port))
    sys.stdout.flush()
    await stop.wait()
    await server.stop(1.0)


if __name__ == "__main__":
    workload.check_cookie()
    asyncio.run(serve())
