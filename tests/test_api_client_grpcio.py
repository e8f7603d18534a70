"""The PluginAPI client against a foreign host: grpcio with Google's protobuf, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from api_hosts import GoogleMessages, serve_grpcio, wait_in_thread
from google.protobuf import json_format

from mmplugin.api import (
    MAX_REQUEST_BYTES,
    APIConnectionError,
    AsyncPluginAPI,
    GetEmojiImageResult,
    NotFoundError,
    PermissionDeniedError,
    PluginAPI,
    PluginHttpResult,
    TooLargeError,
)
from mmplugin.proto import pb


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> GoogleMessages:
    return GoogleMessages(tmp_path_factory.mktemp("descriptors"))


class ForeignHost:
    """A handful of PluginAPI methods written against grpcio and Google's protobuf."""

    def __init__(self, messages: GoogleMessages) -> None:
        self.m = messages
        self.kv: dict[str, bytes] = {}
        self.requests: dict[str, list[Any]] = {}
        self.peers: set[str] = set()
        self.started, self.release = threading.Event(), threading.Event()

    def _record(self, name: str, request: Any) -> None:
        self.requests.setdefault(name, []).append(request)

    def methods(self) -> dict[str, Any]:
        names = ["GetUser", "GetUsers", "CreatePost", "KVSet", "KVGet", "LogInfo", "GetEmojiImage",
                 "PluginHTTP", "GetChannel"]
        return {name: getattr(self, name) for name in names}

    def GetUser(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.peers.add(context.peer())
        if request.user_id == "missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "app.user.missing_account.const: No such account.")
        user = self.m["User"](id=request.user_id, username="bob", email="bob@example.com")
        user.create_at = 1700000000001
        return self.m["GetUserResponse"](user=user)

    def GetUsers(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("GetUsers", request)
        return self.m["GetUsersResponse"](users=[self.m["User"](id="u1"), self.m["User"](id="u2")])

    def CreatePost(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.post.message == "reject":
            error = self.m["AppError"](id="api.post.create_post.can_not_post", message="no", status_code=403,
                                       where="CreatePost")
            return self.m["CreatePostResponse"](error=error)
        post = self.m["Post"]()
        post.CopyFrom(request.post)
        post.id = "p1"
        return self.m["CreatePostResponse"](post=post)

    def KVSet(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.kv[request.key] = request.value
        return self.m["KVSetResponse"]()

    def KVGet(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.m["KVGetResponse"](value=self.kv.get(request.key, b""))

    def LogInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("LogInfo", request)
        return self.m["LogInfoResponse"]()

    def GetEmojiImage(self, request: Any, context: grpc.ServicerContext) -> Any:
        image = b"\x89PNG" + request.emoji_id.encode()
        return self.m["GetEmojiImageResponse"](image=image, content_type="image/png")

    def PluginHTTP(self, request: Any, context: grpc.ServicerContext) -> Any:
        headers = {**request.headers, "X-Method": request.method}
        return self.m["PluginHTTPResponse"](status_code=201, headers=headers, body=request.body[::-1])

    def GetChannel(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.started.set()
        self.release.wait(10)
        return self.m["GetChannelResponse"]()


@pytest.fixture
def foreign(messages: GoogleMessages) -> Iterator[tuple[ForeignHost, str, Any]]:
    host = ForeignHost(messages)
    with serve_grpcio(messages, host.methods()) as (target, server):
        yield host, target, server
        host.release.set()


async def test_typed_round_trips(foreign: tuple[ForeignHost, str, Any]) -> None:
    host, target, _ = foreign
    async with AsyncPluginAPI(target) as api:
        user = await api.get_user(user_id="u9")
        assert user is not None
        assert (user.id, user.username, user.email) == ("u9", "bob", "bob@example.com")
        assert user.create_at == 1700000000001
        post = await api.create_post(post=pb.Post(channel_id="c1", message="hello", root_id="r1"))
        assert post is not None
        assert (post.id, post.channel_id, post.message, post.root_id) == ("p1", "c1", "hello", "r1")
        image = await api.get_emoji_image(emoji_id="e1")
        assert image == GetEmojiImageResult(image=b"\x89PNGe1", content_type="image/png")
        answer = await api.plugin_http(method="POST", url="/plugins/other/x", headers={"A": "1"}, body=b"abc")
        assert answer == PluginHttpResult(201, {"A": "1", "X-Method": "POST"}, b"cba")
        users = await api.get_users(per_page=5, roles=["system_admin"])
        assert [u.id for u in users] == ["u1", "u2"]
    (sent,) = host.requests["GetUsers"]
    assert (sent.per_page, list(sent.roles), sent.page, sent.in_team_id) == (5, ["system_admin"], 0, "")
    assert not sent.HasField("view_restrictions")


async def test_status_and_embedded_errors_from_grpcio(foreign: tuple[ForeignHost, str, Any]) -> None:
    _, target, _ = foreign
    async with AsyncPluginAPI(target) as api:
        with pytest.raises(NotFoundError) as not_found:
            await api.get_user(user_id="missing")
        assert (not_found.value.id, not_found.value.message) == (
            "app.user.missing_account.const", "No such account.")
        with pytest.raises(PermissionDeniedError) as forbidden:
            await api.create_post(post=pb.Post(message="reject"))
    assert (forbidden.value.id, forbidden.value.where, forbidden.value.status_code) == (
        "api.post.create_post.can_not_post", "CreatePost", 403)


async def test_log_fields_as_google_protobuf_reads_them(foreign: tuple[ForeignHost, str, Any]) -> None:
    host, target, _ = foreign
    async with AsyncPluginAPI(target) as api:
        await api.log_info("user joined", user="bob", count=3, ok=True, tags=["a", None], extra={"k": 1.5},
                           path=Path("/tmp/x"))
    (request,) = host.requests["LogInfo"]
    assert request.msg == "user joined"
    fields = {pair.key: json_format.MessageToDict(pair.value) for pair in request.key_value_pairs}
    assert fields == {"user": "bob", "count": 3, "ok": True, "tags": ["a", None], "extra": {"k": 1.5},
                      "path": "/tmp/x"}


async def test_the_4_mib_boundary_is_grpcs_receive_limit(foreign: tuple[ForeignHost, str, Any]) -> None:
    host, target, _ = foreign
    async with AsyncPluginAPI(target) as api:
        # grpcio's default receive limit is grpc-go's: 4 MiB of encoded message is accepted...
        await api.kv_set(key="k", value=b"x" * (MAX_REQUEST_BYTES - 8))
        assert len(host.kv["k"]) == MAX_REQUEST_BYTES - 8
        # ...one more byte is refused by the client before sending.
        with pytest.raises(TooLargeError, match=r"KVSet: .*4194305 bytes encoded"):
            await api.kv_set(key="j", value=b"x" * (MAX_REQUEST_BYTES - 7))
    assert "j" not in host.kv


async def test_concurrent_calls_share_one_connection(foreign: tuple[ForeignHost, str, Any]) -> None:
    host, target, _ = foreign
    async with AsyncPluginAPI(target) as api:
        users = await asyncio.gather(*(api.get_user(user_id=f"u{i}") for i in range(20)))
    assert [u.id for u in users if u] == [f"u{i}" for i in range(20)]
    assert len(host.peers) == 1


async def test_host_gone_mid_call(foreign: tuple[ForeignHost, str, Any]) -> None:
    host, target, server = foreign
    async with AsyncPluginAPI(target) as api:
        call = asyncio.create_task(api.get_channel(channel_id="c1"))
        await wait_in_thread(host.started)
        await asyncio.to_thread(lambda: server.stop(None).wait())
        with pytest.raises(APIConnectionError, match=r"GetChannel: host 127\.0\.0\.1:\d+ unreachable"):
            await call


def test_sync_client_standalone_on_its_private_loop(foreign: tuple[ForeignHost, str, Any]) -> None:
    _, target, _ = foreign
    with PluginAPI(target) as api:
        api.kv_set_json("k", [1, "two"])
        assert api.kv_get_json("k") == [1, "two"]
        with pytest.raises(NotFoundError):
            api.get_user(user_id="missing")
        with ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(lambda i: api.get_user(user_id=f"t{i}"), range(12)))
        assert [u.id for u in ids if u] == [f"t{i}" for i in range(12)]
        assert any(t.name == "mmplugin-api" for t in threading.enumerate())
    assert not any(t.name == "mmplugin-api" for t in threading.enumerate())
    with pytest.raises(RuntimeError, match="closed"):
        api.kv_get(key="k")
