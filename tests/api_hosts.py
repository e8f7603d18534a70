"""PluginAPI hosts for the API client tests: a grpclib one and a grpcio (foreign) one, on 127.0.0.1.

Both serve a handful of methods and answer errors the way the Go server does (SEMANTICS §4):
GetUser and GetTeam with a gRPC status ``"<id>: <message>"``, KV and posts with an AppError
embedded in an OK response.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from mmplugin.proto import pb
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.endpoints import WireServer
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "mattermost.pluginapi.v1.PluginAPI"


def listen_socket() -> socket.socket:
    """A listening TCP socket on 127.0.0.1 with a free port (IPPROTO_TCP: SEMANTICS §7)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


class GrpclibHost(pb.PluginApiBase):
    """Serves users, teams, KV, posts, logs and the plugin configuration; anything else is
    UNIMPLEMENTED (the generated base class)."""

    def __init__(self) -> None:
        self.kv: dict[str, bytes] = {}
        self.expiries: dict[str, int] = {}
        self.logs: list[tuple[str, Any]] = []
        self.config_json = b"{}"
        self.calls: list[str] = []
        # What GetTeam answers with (a gRPC status) and KVDelete with (an embedded AppError).
        self.team_error: GRPCError | None = None
        self.kv_delete_error: pb.AppError | None = None
        self.release = asyncio.Event()  # GetChannel waits for it

    async def get_channel(self, message: pb.GetChannelRequest) -> pb.GetChannelResponse:
        await self.release.wait()
        return pb.GetChannelResponse(channel=pb.Channel(id=message.channel_id))

    async def get_user(self, message: pb.GetUserRequest) -> pb.GetUserResponse:
        self.calls.append("GetUser")
        if message.user_id == "missing":
            raise GRPCError(Status.NOT_FOUND, "app.user.missing_account.const: We couldn't find the account.")
        return pb.GetUserResponse(user=pb.User(id=message.user_id, username=f"user-{message.user_id}"))

    async def get_team(self, message: pb.GetTeamRequest) -> pb.GetTeamResponse:
        if self.team_error is not None:
            raise self.team_error
        return pb.GetTeamResponse(team=pb.Team(id=message.team_id))

    async def kv_set(self, message: pb.KvSetRequest) -> pb.KvSetResponse:
        self.calls.append("KVSet")
        self.kv[message.key] = message.value
        return pb.KvSetResponse()

    async def kv_set_with_expiry(self, message: pb.KvSetWithExpiryRequest) -> pb.KvSetWithExpiryResponse:
        self.kv[message.key] = message.value
        self.expiries[message.key] = message.expire_in_seconds
        return pb.KvSetWithExpiryResponse()

    async def kv_get(self, message: pb.KvGetRequest) -> pb.KvGetResponse:
        self.calls.append("KVGet")
        return pb.KvGetResponse(value=self.kv.get(message.key, b""))

    async def kv_delete(self, message: pb.KvDeleteRequest) -> pb.KvDeleteResponse:
        if self.kv_delete_error is not None:
            return pb.KvDeleteResponse(error=self.kv_delete_error)
        self.kv.pop(message.key, None)
        return pb.KvDeleteResponse()

    async def create_post(self, message: pb.CreatePostRequest) -> pb.CreatePostResponse:
        post = message.post
        assert post is not None
        if post.message == "reject":
            error = pb.AppError(id="api.post.create_post.rejected", message="rejected", status_code=400,
                                where="CreatePost", detailed_error="the test host rejects it")
            return pb.CreatePostResponse(error=error)
        post.id = "p1"
        return pb.CreatePostResponse(post=post)

    async def load_plugin_configuration(
        self, message: pb.LoadPluginConfigurationRequest
    ) -> pb.LoadPluginConfigurationResponse:
        return pb.LoadPluginConfigurationResponse(config_json=self.config_json)

    async def log_debug(self, message: pb.LogDebugRequest) -> pb.LogDebugResponse:
        self.logs.append(("debug", message))
        return pb.LogDebugResponse()

    async def log_info(self, message: pb.LogInfoRequest) -> pb.LogInfoResponse:
        self.logs.append(("info", message))
        return pb.LogInfoResponse()

    async def log_warn(self, message: pb.LogWarnRequest) -> pb.LogWarnResponse:
        self.logs.append(("warn", message))
        return pb.LogWarnResponse()

    async def log_error(self, message: pb.LogErrorRequest) -> pb.LogErrorResponse:
        self.logs.append(("error", message))
        return pb.LogErrorResponse()


@asynccontextmanager
async def serve_grpclib(host: GrpclibHost) -> AsyncIterator[str]:
    """Serve ``host`` on 127.0.0.1 inside the running loop; yields the target ``"127.0.0.1:PORT"``."""
    sock = listen_socket()
    server = WireServer([host], codec=MessageCodec(), max_receive=FILE_RECEIVE_LIMIT)
    await server.start(sock=sock)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


# --- the foreign peer: grpcio with Google's protobuf -------------------------------------------------


class GoogleMessages:
    """Google protobuf classes for the project's protos, built from a descriptor set in a private
    pool (no generated modules, nothing on sys.path)."""

    def __init__(self, tmp: Path) -> None:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        protos = ROOT / "protos"
        out = tmp / "pluginapi.binpb"
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{protos}", "--include_imports",
             f"--descriptor_set_out={out}", *sorted(p.name for p in protos.glob("*.proto"))],
            check=True, cwd=protos, capture_output=True, text=True,
        )
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
        self._pool = descriptor_pool.DescriptorPool()
        for file in files.file:
            self._pool.Add(file)
        self._factory = message_factory

    def __getitem__(self, name: str) -> Any:
        """The class of ``mattermost.pluginapi.v1.<name>`` (or a full name with a dot)."""
        full = name if "." in name else f"mattermost.pluginapi.v1.{name}"
        return self._factory.GetMessageClass(self._pool.FindMessageTypeByName(full))


Handler = Callable[[Any, Any], Any]


@contextmanager
def serve_grpcio(messages: GoogleMessages, methods: dict[str, Handler]) -> Iterator[tuple[str, Any]]:
    """Serve ``methods`` (RPC name → ``handler(request, context)``) with grpcio on 127.0.0.1;
    yields the target and the server. Requests and responses are Google protobuf messages."""
    import grpc

    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            handler,
            request_deserializer=messages[f"{name}Request"].FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
        for name, handler in methods.items()
    }
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", server
    finally:
        server.stop(None).wait()


async def wait_in_thread(event: threading.Event) -> None:
    """Wait for a threading event without blocking the loop (bounded: 10 s)."""
    assert await asyncio.to_thread(event.wait, 10), "the event never came"
