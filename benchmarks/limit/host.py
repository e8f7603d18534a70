"""Driver of the limit stack: the same payload bytes over plain length-prefixed frames (:mod:`limit.frames`).

What no gRPC stack can beat on this machine: same processes, same loopback TCP, same payloads and
chunking, no HTTP/2, no codec. Protocol and commands: the ``driver`` module.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import messages
import workload
from driver import HostSide, Launched, Transfer, launch_plugin, main, plugin_environment, stop_process
from measure import Call, Timed

from limit.frames import FrameClient, Kind, listener, serve_connection
from mmplugin.proto import pb
from mmplugin.wire.codec import encode

PLUGIN_SCRIPT = Path(__file__).resolve().with_name("plugin.py")
HOOK_REPLIES = ("MessageWillBePosted", "Implemented", "GET")
API_REPLIES = ("GetUser", "KVSet", "KVGet")


def _hook_replies() -> list[bytes]:
    """What the plugin answers, byte for byte what the mmplugin stack's plugin sends."""
    get_answer = (encode(pb.ServeHttpResponse(init=pb.ServeHttpResponseInit(
        status_code=200, headers=[pb.HttpHeader(key="Content-Type", values=["application/octet-stream"])])))
        + encode(pb.ServeHttpResponse(body_chunk=workload.SMALL_BODY, body_complete=True)))
    implemented = encode(pb.ImplementedResponse(hooks=list(workload.IMPLEMENTED)))
    return [encode(pb.MessageWillBePostedResponse()), implemented, get_answer]


def _api_requests(user_id: str) -> dict[str, bytes]:
    return {"GetUser": encode(pb.GetUserRequest(user_id=user_id)),
            "KVSet": encode(pb.KvSetRequest(key=workload.KV_KEY, value=workload.KV_VALUE)),
            "KVGet": encode(pb.KvGetRequest(key=workload.KV_KEY))}


def _api_replies() -> list[bytes]:
    return [encode(messages.get_user_response()), encode(pb.KvSetResponse()),
            encode(pb.KvGetResponse(value=workload.KV_VALUE))]


class LimitHost(HostSide):
    import_statement = "import asyncio, json, signal, socket, struct"

    def __init__(self, loop: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mmplugin-bench-limit-")
        self._api_target = ""
        self._server: asyncio.Server | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._client: FrameClient | None = None
        self._user_id = messages.get_user_response().user.id
        self._requests = {"MessageWillBePosted": encode(messages.message_will_be_posted_request()),
                          "Implemented": encode(pb.ImplementedRequest())}
        get_init = messages.serve_http_init("GET", workload.SMALL_PATH)
        self._get_request = encode(pb.ServeHttpRequest(init=get_init, body_complete=True))
        self._get_answer_size = len(_hook_replies()[HOOK_REPLIES.index("GET")])

    @property
    def client(self) -> FrameClient:
        assert self._client is not None, "start() first"
        return self._client

    @property
    def plugin_pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def plugin_environment(self) -> Mapping[str, str]:
        return plugin_environment(self._api_target)

    async def start(self) -> None:
        replies = _api_replies()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await serve_connection(reader, writer, replies)

        sock = listener()
        self._server = await asyncio.start_server(connection, sock=sock)
        self._api_target = f"127.0.0.1:{sock.getsockname()[1]}"
        self._process, handshake, _ = await launch_plugin(
            [sys.executable, str(PLUGIN_SCRIPT)], Path(self._tmp.name), self.plugin_environment())
        self._client = await FrameClient.connect(handshake.address)
        await self._client.call(Kind.SETUP, json.dumps([reply.hex() for reply in _hook_replies()]).encode())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._process is not None:
            await stop_process(self._process)
        if self._server is not None:
            self._server.close()
        self._tmp.cleanup()

    def hook(self, name: str) -> Call:
        client, request, index = self.client, self._requests[name], HOOK_REPLIES.index(name)
        return lambda: client.call(Kind.CALL, request, index)

    def get(self) -> Call:
        client, request, index = self.client, self._get_request, HOOK_REPLIES.index("GET")

        async def call() -> None:
            answer = await client.call(Kind.CALL, request, index)
            if len(answer) != self._get_answer_size:
                raise RuntimeError(f"GET answer of {len(answer)} bytes")

        return call

    async def _receive(self, queue: asyncio.Queue[tuple[int, bytes]], started: float) -> Transfer:
        first_byte = 0.0
        received = 0
        while True:
            kind, payload = await queue.get()
            if kind == Kind.END:
                return Transfer(received, first_byte, time.perf_counter() - started)
            if not received:
                first_byte = time.perf_counter() - started
            received += len(payload)

    async def echo(self, size: int) -> Transfer:
        client = self.client
        init = encode(pb.ServeHttpRequest(init=messages.serve_http_init("POST", workload.ECHO_PATH, size)))
        stream, queue = client.open_stream()

        async def send() -> None:
            await client.send(stream, Kind.ECHO, init)
            for piece in workload.pieces(size):
                await client.send(stream, Kind.CHUNK, piece)
            await client.send(stream, Kind.END)

        started = time.perf_counter()
        sender = asyncio.ensure_future(send())
        try:
            return await self._receive(queue, started)
        finally:
            await sender
            client.close_stream(stream)

    async def download(self, size: int) -> Transfer:
        client = self.client
        url = f"{workload.DOWNLOAD_PATH}?size={size}"
        init = encode(pb.ServeHttpRequest(init=messages.serve_http_init("GET", url), body_complete=True))
        stream, queue = client.open_stream()
        started = time.perf_counter()
        await client.send(stream, Kind.DOWNLOAD, init, arg=size)
        try:
            return await self._receive(queue, started)
        finally:
            client.close_stream(stream)

    async def api(self, method: str, calls: int, warmup: int) -> Timed:
        order = {"method": method, "calls": calls, "warmup": warmup, "index": API_REPLIES.index(method),
                 "request": _api_requests(self._user_id)[method].hex()}
        result = json.loads(await self.client.call(Kind.API_RUN, json.dumps(order).encode()))
        return Timed(result["samples"], result["elapsed"])

    async def launch(self) -> Launched:
        process, _, elapsed = await launch_plugin([sys.executable, str(PLUGIN_SCRIPT)], Path(self._tmp.name),
                                                  self.plugin_environment())
        return Launched(process.pid, elapsed, lambda: stop_process(process))

    def codec(self) -> None:
        return None


if __name__ == "__main__":
    main(LimitHost)
