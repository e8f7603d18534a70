"""A plugin written directly on grpclib (no mmplugin runtime), for the host tests.

Its behaviour comes from ``props.test`` in its plugin.json; ``props.test.restart`` overrides it from
the second start on, and ``props.test.start["<n>"]`` for the n-th start only (the file ``starts`` in
the plugin directory counts starts).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from grpclib.client import Channel
from grpclib.const import Cardinality, Handler
from grpclib.server import Server, Stream

from mmplugin.proto import goplugin, health, pb
from mmplugin.wire.codec import MessageCodec

MANIFEST = json.loads(Path("plugin.json").read_text())
PLUGIN_ID = MANIFEST["id"]
with open("starts", "a") as starts_file:
    starts_file.write(f"{os.getpid()}\n")
START = len(Path("starts").read_text().split())
CONF: dict[str, Any] = dict(MANIFEST.get("props", {}).get("test", {}))
if START > 1:
    CONF.update(CONF.get("restart", {}))
CONF.update(CONF.get("start", {}).get(str(START), {}))
HOOKS = "/mattermost.pluginapi.v1.PluginHooks/"


def log(level: str, message: str, **fields: Any) -> None:
    sys.stderr.write(json.dumps({"@level": level, "@message": message, **fields}) + "\n")
    sys.stderr.flush()


_api: list[pb.PluginApiStub] = []


def marker(name: str, text: str) -> None:
    """A file in the plugin directory that tells the test what happened (tiny, so written inline).

    Written aside and renamed, so a test polling for it never reads it half-written."""
    with open(name + ".tmp", "w") as file:
        file.write(text)
    os.replace(name + ".tmp", name)


def api() -> pb.PluginApiStub:
    if not _api:
        host, port = os.environ["MATTERMOST_PLUGIN_API_TARGET"].rsplit(":", 1)
        _api.append(pb.PluginApiStub(Channel(host, int(port), codec=MessageCodec())))
    return _api[0]


class Hooks:
    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.releases: dict[str, asyncio.Event] = {}

    async def implemented(self, request: pb.ImplementedRequest) -> pb.ImplementedResponse:
        return pb.ImplementedResponse(hooks=CONF.get("hooks", []))

    async def on_activate(self, request: pb.OnActivateRequest) -> pb.OnActivateResponse:
        if CONF.get("activate_error"):
            return pb.OnActivateResponse(error=pb.AppError(id="test.activate", detailed_error=CONF["activate_error"],
                                                           status_code=500, where="OnActivate"))
        if CONF.get("command"):
            await api().register_command(pb.RegisterCommandRequest(
                command=pb.Command(trigger=CONF["command"], auto_complete=True)))
        log("info", "activated", start=START)
        return pb.OnActivateResponse()

    async def on_deactivate(self, request: pb.OnDeactivateRequest) -> pb.OnDeactivateResponse:
        marker("deactivated", str(os.getpid()))
        return pb.OnDeactivateResponse()

    async def message_will_be_posted(self, request: pb.MessageWillBePostedRequest) -> pb.MessageWillBePostedResponse:
        post = request.post or pb.Post()
        if CONF.get("hang"):
            await asyncio.sleep(3600)
        if CONF.get("bare_post"):  # a new post instead of a modified copy: no channel, no user
            return pb.MessageWillBePostedResponse(modified_post=pb.Post(message="bare"))
        if CONF.get("append"):
            post.message += CONF["append"]
            return pb.MessageWillBePostedResponse(modified_post=post)
        if CONF.get("reject_if") and CONF["reject_if"] in post.message:
            return pb.MessageWillBePostedResponse(rejection_reason=f"rejected by {PLUGIN_ID}: {post.message}")
        return pb.MessageWillBePostedResponse()

    async def message_has_been_posted(self, request: pb.MessageHasBeenPostedRequest
                                      ) -> pb.MessageHasBeenPostedResponse:
        message = request.post.message if request.post else ""
        if message == "crash":
            log("error", "crashing on purpose")
            os._exit(3)
        await api().kv_set(pb.KvSetRequest(key="last_post", value=message.encode()))
        return pb.MessageHasBeenPostedResponse()

    async def execute_command(self, request: pb.ExecuteCommandRequest) -> pb.ExecuteCommandResponse:
        if CONF.get("hang"):
            await asyncio.sleep(3600)
        command = request.args.command if request.args else ""
        if CONF.get("big_response"):
            return pb.ExecuteCommandResponse(response=pb.CommandResponse(text="x" * CONF["big_response"]))
        return pb.ExecuteCommandResponse(response=pb.CommandResponse(text=f"{PLUGIN_ID} ran {command}"))

    async def serve_http(self, stream: Stream[pb.ServeHttpRequest, pb.ServeHttpResponse]) -> None:
        first = await stream.recv_message()
        assert first is not None
        assert first.init is not None
        init = first.init
        path = init.url.split("?", 1)[0]
        if path == "/stream":
            await self._stream(stream, init)
            return
        if path.startswith("/release/"):
            self.releases.setdefault(path.rsplit("/", 1)[1], asyncio.Event()).set()
            await stream.send_message(pb.ServeHttpResponse(init=pb.ServeHttpResponseInit(status_code=204),
                                                           body_complete=True))
            return
        if path == "/early":  # answer before reading the (large) body
            await stream.send_message(pb.ServeHttpResponse(
                init=pb.ServeHttpResponseInit(status_code=202), body_chunk=b"early", body_complete=True))
            return
        if path == "/inject":  # header values a careless plugin might build from user input
            await stream.send_message(pb.ServeHttpResponse(init=pb.ServeHttpResponseInit(status_code=200, headers=[
                pb.HttpHeader(key="X-Injected", values=["a\r\nSet-Cookie: evil=1"]),
                pb.HttpHeader(key="Bad Name", values=["b"]), pb.HttpHeader(key="X-Fine", values=["c"])]),
                body_complete=True))
            return
        if path == "/status":
            await stream.send_message(pb.ServeHttpResponse(
                init=pb.ServeHttpResponseInit(status_code=int(init.url.split("=", 1)[1])), body_complete=True))
            return
        body = bytearray(first.body_chunk)
        message, chunks, largest = first, 0, len(first.body_chunk)
        try:
            while not message.body_complete:
                next_message = await stream.recv_message()
                if next_message is None:
                    break
                message = next_message
                body += message.body_chunk
                chunks += bool(message.body_chunk)
                largest = max(largest, len(message.body_chunk))
        except asyncio.CancelledError:
            marker("cancelled-upload", str(len(body)))
            raise
        info = {
            "method": init.method, "url": init.url, "request_uri": init.request_uri, "proto": init.proto,
            "proto_major": init.proto_major, "proto_minor": init.proto_minor, "host": init.host,
            "remote_addr": init.remote_addr, "content_length": init.content_length,
            "headers": {h.key: list(h.values) for h in init.headers},
            "body_length": len(body), "chunks": chunks, "largest_chunk": largest,
            "body_prefix": bytes(body[:32]).decode("latin-1"), "request_id": init.plugin_context.request_id
            if init.plugin_context else "",
        }
        await stream.send_message(pb.ServeHttpResponse(init=pb.ServeHttpResponseInit(
            status_code=200, headers=[pb.HttpHeader(key="Content-Type", values=["application/json"]),
                                      pb.HttpHeader(key="X-Plugin", values=[PLUGIN_ID, "second"])])))
        await stream.send_message(pb.ServeHttpResponse(body_chunk=json.dumps(info).encode(), body_complete=True))

    async def _stream(self, stream: Stream[pb.ServeHttpRequest, pb.ServeHttpResponse],
                      init: pb.ServeHttpRequestInit) -> None:
        key = init.url.split("key=", 1)[1]
        release = self.releases.setdefault(key, asyncio.Event())
        await stream.send_message(pb.ServeHttpResponse(
            init=pb.ServeHttpResponseInit(status_code=200, headers=[pb.HttpHeader(key="Content-Type",
                                                                                  values=["text/plain"])]),
            body_chunk=b"first\n", flush=True))
        try:
            await release.wait()
        except asyncio.CancelledError:
            marker(f"cancelled-{key}", "cancelled")
            raise
        await stream.send_message(pb.ServeHttpResponse(body_chunk=b"second\n", body_complete=True))

    def __mapping__(self) -> dict[str, Handler]:
        mapping = {}
        for name, method in [("Implemented", self.implemented), ("OnActivate", self.on_activate),
                             ("OnDeactivate", self.on_deactivate),
                             ("MessageWillBePosted", self.message_will_be_posted),
                             ("MessageHasBeenPosted", self.message_has_been_posted),
                             ("ExecuteCommand", self.execute_command)]:
            mapping[HOOKS + name] = Handler(_unary(method), Cardinality.UNARY_UNARY,
                                            getattr(pb, f"{name}Request"), getattr(pb, f"{name}Response"))
        mapping[HOOKS + "ServeHTTP"] = Handler(self.serve_http, Cardinality.STREAM_STREAM,
                                               pb.ServeHttpRequest, pb.ServeHttpResponse)
        return mapping


def _unary(method: Any) -> Any:
    async def handle(stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        await stream.send_message(await method(request))
    return handle


class Health(health.HealthBase):
    def __init__(self) -> None:
        self.checks = 0

    async def check(self, message: health.HealthCheckRequest) -> health.HealthCheckResponse:
        self.checks += 1
        limit = CONF.get("healthy_checks")
        serving = limit is None or self.checks <= limit
        status = health.HealthCheckResponseServingStatus
        return health.HealthCheckResponse(status=status.SERVING if serving else status.NOT_SERVING)


class Controller(goplugin.GrpcControllerBase):
    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    async def shutdown(self, message: goplugin.Empty) -> goplugin.Empty:
        if not CONF.get("ignore_shutdown"):
            asyncio.get_running_loop().call_later(0.01, self.stop.set)
        return goplugin.Empty()


async def main() -> None:
    mode = CONF.get("handshake", "normal")
    if mode == "exit":
        sys.stderr.write("Traceback (most recent call last):\nModuleNotFoundError: No module named 'missing'\n")
        sys.exit(3)
    if mode == "silent":
        await asyncio.sleep(3600)
    if mode in ("partial", "partial_hang"):  # half a handshake line, then exit or hang
        print("1|1|tcp|127.0.0.1:", end="", file=sys.__stdout__, flush=True)
        if mode == "partial":
            sys.exit(0)
        await asyncio.sleep(3600)
    if mode == "garbage":
        print("hello from a plugin that prints before its handshake", file=sys.__stdout__, flush=True)
        await asyncio.sleep(3600)
    stop = asyncio.Event()
    if CONF.get("ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = Server([Hooks(stop), Health(), Controller(stop)], codec=MessageCodec())
    await server.start(sock=sock)
    port = sock.getsockname()[1]
    version = "2" if mode == "wrong_protocol" else "1"
    # Importing mmplugin in a host-launched process points sys.stdout at stderr until mmplugin.run()
    # takes over; this stand-in has no run(), so it writes to the real stdout.
    print(f"1|{version}|tcp|127.0.0.1:{port}|grpc", file=sys.__stdout__, flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
