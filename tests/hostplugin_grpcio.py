"""A plugin served by grpcio generic handlers (no grpclib, no mmplugin runtime), for the host tests."""

from __future__ import annotations

import json
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from mmplugin.proto import goplugin, health, pb

PLUGIN_ID = json.loads(Path("plugin.json").read_text())["id"]
HOOKS = "mattermost.pluginapi.v1.PluginHooks"
stopping = threading.Event()


def unary(request_type: Any, handle: Any) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(lambda data, context: bytes(handle(request_type.parse(data))))


def message_will_be_posted(request: pb.MessageWillBePostedRequest) -> pb.MessageWillBePostedResponse:
    post = request.post or pb.Post()
    post.message += " [grpcio]"
    return pb.MessageWillBePostedResponse(modified_post=post)


def execute_command(request: pb.ExecuteCommandRequest) -> pb.ExecuteCommandResponse:
    command = request.args.command if request.args else ""
    return pb.ExecuteCommandResponse(response=pb.CommandResponse(text=f"grpcio ran {command}"))


def serve_http(requests: Any, context: grpc.ServicerContext) -> Any:
    body = bytearray()
    init = None
    for data in requests:
        message = pb.ServeHttpRequest.parse(data)
        init = init or message.init
        body += message.body_chunk
        if message.body_complete:
            break
    yield bytes(pb.ServeHttpResponse(init=pb.ServeHttpResponseInit(
        status_code=201, headers=[pb.HttpHeader(key="Content-Type", values=["text/plain"])])))
    url = init.url if init else ""
    yield bytes(pb.ServeHttpResponse(body_chunk=f"grpcio {url} ".encode() + bytes(body), body_complete=True))


def shutdown(request: goplugin.Empty) -> goplugin.Empty:
    stopping.set()
    return goplugin.Empty()


def main() -> None:
    hooks = {
        "Implemented": unary(pb.ImplementedRequest, lambda r: pb.ImplementedResponse(
            hooks=["OnActivate", "MessageWillBePosted", "ExecuteCommand", "ServeHTTP"])),
        "OnActivate": unary(pb.OnActivateRequest, lambda r: pb.OnActivateResponse()),
        "MessageWillBePosted": unary(pb.MessageWillBePostedRequest, message_will_be_posted),
        "ExecuteCommand": unary(pb.ExecuteCommandRequest, execute_command),
        "ServeHTTP": grpc.stream_stream_rpc_method_handler(serve_http),
    }
    serving = health.HealthCheckResponse(status=health.HealthCheckResponseServingStatus.SERVING)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler(HOOKS, hooks),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": unary(health.HealthCheckRequest, lambda r: serving)}),
        grpc.method_handlers_generic_handler("plugin.GRPCController", {"Shutdown": unary(goplugin.Empty, shutdown)}),
    ])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    # Importing mmplugin in a host-launched process points sys.stdout at stderr until mmplugin.run()
    # takes over; this stand-in has no run(), so it writes to the real stdout.
    print(f"1|1|tcp|127.0.0.1:{port}|grpc", file=sys.__stdout__, flush=True)
    stopping.wait()
    server.stop(grace=0.5).wait()


if __name__ == "__main__":
    main()
