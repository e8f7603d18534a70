"""A minimal plugin on grpclib alone, to meet go-plugin's real client until the mmplugin runtime lands.

It serves what a go-plugin host calls (health, broker stream, controller shutdown) and three hooks:
``Implemented``, ``MessageWillBePosted`` (appends " (seen by <id>)" to the message, rejects a message
containing "reject") and ``ServeHTTP`` (echoes the request body as it arrives). Every call is logged
to stderr as an ``[INFO]`` line; one hclog JSON line at start-up reports the go-plugin environment.
With ``STANDIN_NO_CONTROLLER=1`` in the environment it leaves out ``plugin.GRPCController``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from grpclib.const import Cardinality, Handler
from grpclib.server import Server, Stream

from mmplugin.proto import goplugin, health, pb
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.handshake import Handshake
from mmplugin.wire.logline import format_line

PLUGIN_ID = json.loads(Path("plugin.json").read_text())["id"]
HOOKS = "/mattermost.pluginapi.v1.PluginHooks/"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class StandIn:
    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    def __mapping__(self) -> dict[str, Handler]:
        handlers: dict[str, tuple[Callable[[Stream[Any, Any]], Awaitable[None]], Cardinality, type, type]] = {
            "/grpc.health.v1.Health/Check": (
                self.check, Cardinality.UNARY_UNARY, health.HealthCheckRequest, health.HealthCheckResponse),
            "/plugin.GRPCBroker/StartStream": (
                self.broker, Cardinality.STREAM_STREAM, goplugin.ConnInfo, goplugin.ConnInfo),
            "/plugin.GRPCController/Shutdown": (
                self.shutdown, Cardinality.UNARY_UNARY, goplugin.Empty, goplugin.Empty),
            HOOKS + "Implemented": (
                self.implemented, Cardinality.UNARY_UNARY, pb.ImplementedRequest, pb.ImplementedResponse),
            HOOKS + "MessageWillBePosted": (
                self.message_will_be_posted, Cardinality.UNARY_UNARY,
                pb.MessageWillBePostedRequest, pb.MessageWillBePostedResponse),
            HOOKS + "ServeHTTP": (
                self.serve_http, Cardinality.STREAM_STREAM, pb.ServeHttpRequest, pb.ServeHttpResponse),
        }
        if os.environ.get("STANDIN_NO_CONTROLLER") == "1":
            del handlers["/plugin.GRPCController/Shutdown"]
        return {path: Handler(self.logged(path, func), *rest) for path, (func, *rest) in handlers.items()}

    @staticmethod
    def logged(
        path: str, func: Callable[[Stream[Any, Any]], Awaitable[None]]
    ) -> Callable[[Stream[Any, Any]], Awaitable[None]]:
        async def handler(stream: Stream[Any, Any]) -> None:
            log(f"[INFO] called {path}")
            await func(stream)

        return handler

    async def check(self, stream: Stream[health.HealthCheckRequest, health.HealthCheckResponse]) -> None:
        request = await stream.recv_message()
        assert request is not None
        status = health.HealthCheckResponseServingStatus.SERVING
        if request.service not in ("", "plugin"):
            status = health.HealthCheckResponseServingStatus.SERVICE_UNKNOWN
        await stream.send_message(health.HealthCheckResponse(status=status))

    async def broker(self, stream: Stream[goplugin.ConnInfo, goplugin.ConnInfo]) -> None:
        async for _ in stream:
            pass

    async def shutdown(self, stream: Stream[goplugin.Empty, goplugin.Empty]) -> None:
        await stream.recv_message()
        await stream.send_message(goplugin.Empty())
        await stream.send_trailing_metadata()
        self.stop.set()

    async def implemented(self, stream: Stream[pb.ImplementedRequest, pb.ImplementedResponse]) -> None:
        await stream.recv_message()
        await stream.send_message(pb.ImplementedResponse(hooks=["MessageWillBePosted", "ServeHTTP"]))

    async def message_will_be_posted(
        self, stream: Stream[pb.MessageWillBePostedRequest, pb.MessageWillBePostedResponse]
    ) -> None:
        request = await stream.recv_message()
        assert request is not None
        assert request.post is not None
        post = request.post
        if "reject" in post.message:
            response = pb.MessageWillBePostedResponse(rejection_reason=f"rejected by {PLUGIN_ID}")
        else:
            message = f"{post.message} (seen by {PLUGIN_ID})"
            modified = pb.Post(id=post.id, channel_id=post.channel_id, message=message)
            response = pb.MessageWillBePostedResponse(modified_post=modified)
        await stream.send_message(response)

    async def serve_http(self, stream: Stream[pb.ServeHttpRequest, pb.ServeHttpResponse]) -> None:
        first = await stream.recv_message()
        assert first is not None
        assert first.init is not None
        given = [h.values for h in first.init.headers if h.key.lower() == "content-type"]
        content_type = given[0] if given else ["text/plain"]
        headers = [pb.HttpHeader(key="Content-Type", values=content_type)]
        await stream.send_message(pb.ServeHttpResponse(
            init=pb.ServeHttpResponseInit(status_code=200, headers=headers), body_chunk=first.body_chunk))
        complete = first.body_complete
        while not complete:
            message = await stream.recv_message()
            if message is None:
                break
            complete = message.body_complete
            if message.body_chunk:
                await stream.send_message(pb.ServeHttpResponse(body_chunk=message.body_chunk))
        await stream.send_message(pb.ServeHttpResponse(body_complete=True))


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = Server([StandIn(stop)], codec=MessageCodec())
    await server.start(sock=sock)
    port = sock.getsockname()[1]
    go_plugin_env = ("PLUGIN_MIN_PORT", "PLUGIN_MAX_PORT", "PLUGIN_PROTOCOL_VERSIONS")
    environment = {key: os.environ.get(key) for key in go_plugin_env}
    log(format_line("warn", "stand-in started", {"plugin_id": PLUGIN_ID, **environment}))
    # Importing mmplugin in a host-launched process points sys.stdout at stderr until run() takes
    # over; this stand-in has no run(), so it writes the handshake to the real stdout itself.
    print(Handshake("127.0.0.1", port).line(), file=sys.__stdout__, flush=True)
    await stop.wait()
    log("[INFO] stand-in stopping")
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
