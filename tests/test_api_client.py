"""The PluginAPI client against a real grpclib host on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from api_hosts import GrpclibHost, listen_socket, serve_grpclib
from grpclib.exceptions import StreamTerminatedError

from mmplugin.api import (
    MAX_REQUEST_BYTES,
    TARGET_ENV,
    APIConnectionError,
    AsyncPluginAPI,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    PluginAPI,
    TooLargeError,
)
from mmplugin.proto import pb
from mmplugin.wire.codec import encode


@pytest.fixture
async def host() -> GrpclibHost:
    return GrpclibHost()


@pytest.fixture
async def target(host: GrpclibHost) -> AsyncIterator[str]:
    async with serve_grpclib(host) as address:
        yield address


@pytest.fixture
async def api(target: str) -> AsyncIterator[AsyncPluginAPI]:
    async with AsyncPluginAPI(target) as client:
        yield client


async def test_typed_calls_return_the_payload(api: AsyncPluginAPI) -> None:
    user = await api.get_user(user_id="u1")
    assert user is not None
    assert (user.id, user.username) == ("u1", "user-u1")
    post = await api.create_post(post=pb.Post(channel_id="c1", message="hi"))
    assert post is not None
    assert (post.id, post.message) == ("p1", "hi")
    assert await api.kv_set(key="k", value=b"v") is None
    assert await api.kv_get(key="k") == b"v"


async def test_both_error_conventions_raise_the_same_tree(api: AsyncPluginAPI) -> None:
    with pytest.raises(NotFoundError) as status_error:
        await api.get_user(user_id="missing")
    assert status_error.value.id == "app.user.missing_account.const"
    assert status_error.value.message == "We couldn't find the account."
    assert status_error.value.status_code == 404
    assert status_error.value.method == "GetUser"
    with pytest.raises(InvalidInputError) as embedded_error:
        await api.create_post(post=pb.Post(message="reject"))
    assert embedded_error.value.id == "api.post.create_post.rejected"
    assert embedded_error.value.where == "CreatePost"
    assert embedded_error.value.detailed_error == "the test host rejects it"
    assert str(embedded_error.value) == (
        "CreatePost: api.post.create_post.rejected [400 INVALID_ARGUMENT] rejected"
    )


async def test_log_fields_reach_the_host_as_key_value_pairs(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    await api.log_info("user joined", user="bob", count=3, ok=True, ratio=0.5, tags=["a", 1],
                       extra={"k": None}, path=Path("/tmp/x"))
    for level in ("debug", "warn", "error"):
        await getattr(api, f"log_{level}")(f"at {level}", key_value_pairs=[pb.KeyValuePair(key="raw")], n=1)
    (level, first), *rest = host.logs
    assert (level, first.msg) == ("info", "user joined")
    fields = {pair.key: pair.value.to_dict() for pair in first.key_value_pairs}
    assert fields == {"user": "bob", "count": 3, "ok": True, "ratio": 0.5, "tags": ["a", 1],
                      "extra": {"k": None}, "path": "/tmp/x"}
    assert [(lvl, m.msg, [p.key for p in m.key_value_pairs]) for lvl, m in rest] == [
        ("debug", "at debug", ["raw", "n"]),
        ("warn", "at warn", ["raw", "n"]),
        ("error", "at error", ["raw", "n"]),
    ]


async def test_kv_json_helpers(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    await api.kv_set_json("greeting", {"text": "héllo", "n": [1, 2]})
    assert host.kv["greeting"] == '{"text":"héllo","n":[1,2]}'.encode()
    assert await api.kv_get_json("greeting") == {"text": "héllo", "n": [1, 2]}
    assert await api.kv_get_json("absent") is None
    assert await api.kv_get_json("absent", default=[]) == []
    await api.kv_set_json("session", 7, expire_in_seconds=60)
    assert (host.kv["session"], host.expiries["session"]) == (b"7", 60)
    with pytest.raises(TypeError, match=r"kv_set_json\(key='bad'\).*not JSON-serialisable"):
        await api.kv_set_json("bad", {1, 2})
    host.kv["raw"] = b"\x00not json"
    with pytest.raises(ValueError, match=r"kv_get_json\(key='raw'\).*not JSON"):
        await api.kv_get_json("raw")


@dataclasses.dataclass
class Nested:
    url: str


@dataclasses.dataclass
class Config:
    enable_foo: bool
    greeting: str
    max_items: int
    ratio: float
    channels: list[str]
    mode: Literal["fast", "slow"]
    hook: Nested
    note: str | None = None
    unset: str = "default"


SAVED = {"enablefoo": True, "Greeting": "hi", "maxitems": 5, "ratio": 1, "channels": ["a", "b"],
         "mode": "fast", "hook": {"URL": "http://x"}, "note": None, "unknown": 1}


async def test_load_plugin_configuration(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    host.config_json = json.dumps(SAVED).encode()
    assert await api.load_plugin_configuration() == host.config_json
    config = await api.load_plugin_configuration(Config)
    assert config == Config(True, "hi", 5, 1.0, ["a", "b"], "fast", Nested("http://x"), None, "default")
    assert isinstance(config.ratio, float)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"maxitems": "5"}, r"setting 'maxitems' \(field Config.max_items\) is a string \(\"5\"\).*int"),
     ({"enablefoo": 1}, r"setting 'enablefoo' \(field Config.enable_foo\) is a number"),
     ({"channels": ["a", 2]}, r"setting 'channels' \(field Config.channels\)\[1\] is a number"),
     ({"mode": "medium"}, r"setting 'mode' .* does not fit"),
     ({"hook": {"url": 1}}, r"setting 'url' \(field Nested.url\) is a number"),
     ({"greeting": None}, r"setting 'greeting' \(field Config.greeting\) is null")],
)
async def test_configuration_type_mismatch_names_key_and_field(
    api: AsyncPluginAPI, host: GrpclibHost, change: dict[str, Any], message: str
) -> None:
    host.config_json = json.dumps({**SAVED, **change}).encode()
    with pytest.raises(ConfigurationError, match=message):
        await api.load_plugin_configuration(Config)


async def test_configuration_without_a_required_setting(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    host.config_json = json.dumps({k: v for k, v in SAVED.items() if k != "ratio"}).encode()
    with pytest.raises(ConfigurationError, match=r"no setting for Config.ratio"):
        await api.load_plugin_configuration(Config)


async def test_get_plugin_id_is_answered_locally(
    api: AsyncPluginAPI, host: GrpclibHost, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The grpclib host answers GetPluginID with UNIMPLEMENTED, like the Go server: no call may reach it.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=r"plugin\.json is unreadable"):
        await AsyncPluginAPI(target).get_plugin_id()
    (tmp_path / "plugin.json").write_text(json.dumps({"id": "Com.Example.Demo", "name": "Demo"}))
    async with AsyncPluginAPI(target) as from_manifest:
        assert await from_manifest.get_plugin_id() == "com.example.demo"
    async with AsyncPluginAPI(target, plugin_id="given") as given:
        assert await given.get_plugin_id() == "given"
    assert host.calls == []


async def test_request_over_4_mib_is_refused_before_anything_is_sent() -> None:
    sink = listen_socket()
    sink.setblocking(False)
    request = pb.KvSetRequest(key="k", value=b"x" * (MAX_REQUEST_BYTES - 7))
    assert len(encode(request)) == MAX_REQUEST_BYTES + 1
    async with AsyncPluginAPI(f"127.0.0.1:{sink.getsockname()[1]}") as api:
        with pytest.raises(TooLargeError) as refused:
            await api.kv_set(key=request.key, value=request.value)
    assert refused.value.method == "KVSet"
    assert f"{MAX_REQUEST_BYTES + 1} bytes" in str(refused.value)
    assert f"at most {MAX_REQUEST_BYTES}" in str(refused.value)
    with pytest.raises(BlockingIOError):
        sink.accept()  # the host never even saw a connection
    sink.close()


async def test_a_request_of_exactly_4_mib_is_sent(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    value = b"x" * (MAX_REQUEST_BYTES - 8)
    assert len(encode(pb.KvSetRequest(key="k", value=value))) == MAX_REQUEST_BYTES
    await api.kv_set(key="k", value=value)
    assert host.kv["k"] == value


async def test_host_gone_mid_call_raises_api_connection_error() -> None:
    loop = asyncio.get_running_loop()
    with listen_socket() as sink:
        sink.setblocking(False)
        async with AsyncPluginAPI(f"127.0.0.1:{sink.getsockname()[1]}") as api:
            call = asyncio.create_task(api.kv_get(key="k"))
            connection, _ = await loop.sock_accept(sink)
            assert await loop.sock_recv(connection, 65536)  # the request arrived; now the host dies
            connection.close()
            with pytest.raises(APIConnectionError, match=r"KVGet: host 127\.0\.0\.1:\d+ unreachable or gone"):
                await call
    assert isinstance(call.exception().__cause__, StreamTerminatedError)  # type: ignore[union-attr]


async def test_connection_refused_raises_api_connection_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with AsyncPluginAPI(f"127.0.0.1:{port}") as api:
        with pytest.raises(APIConnectionError, match="unreachable or gone"):
            await api.get_user(user_id="u1")


async def test_target_comes_from_the_environment(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TARGET_ENV, target)
    async with AsyncPluginAPI() as api:
        assert await api.kv_get(key="none") == b""
    monkeypatch.delenv(TARGET_ENV)
    with pytest.raises(ConfigurationError, match=TARGET_ENV):
        await AsyncPluginAPI().kv_get(key="none")
    with pytest.raises(ConfigurationError, match="'localhost' is not 'HOST:PORT'"):
        await AsyncPluginAPI("localhost").kv_get(key="none")


async def test_a_closed_client_refuses_calls(target: str) -> None:
    api = AsyncPluginAPI(target)
    await api.kv_get(key="k")
    await api.close()
    with pytest.raises(RuntimeError, match="KVGet: this PluginAPI client is closed"):
        await api.kv_get(key="k")


async def test_concurrent_calls_share_one_connection(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    users = await asyncio.gather(*(api.get_user(user_id=f"u{i}") for i in range(20)))
    assert [u.id for u in users if u] == [f"u{i}" for i in range(20)]
    connection = api._connection
    assert connection is not None
    assert connection._channel._protocol is not None
    assert connection._channel._config._keepalive_time is None  # no pings toward the Go server


async def test_sync_client_from_a_worker_thread_runs_on_the_loop(
    api: AsyncPluginAPI, host: GrpclibHost, target: str
) -> None:
    loop = asyncio.get_running_loop()
    shared = PluginAPI.from_async(api, loop)
    await asyncio.to_thread(shared.kv_set_json, "k", {"a": 1})
    assert await asyncio.to_thread(shared.kv_get_json, "k") == {"a": 1}
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(shared.get_user, user_id="missing")
    await asyncio.to_thread(shared.log_warn, "from a thread", n=1)
    assert host.logs[-1][1].msg == "from a thread"
    await asyncio.to_thread(lambda: shared.kv_set_json("s", "v", expire_in_seconds=5))
    assert (host.kv["s"], host.expiries["s"]) == (b'"v"', 5)
    host.config_json = json.dumps(SAVED).encode()
    config = await asyncio.to_thread(shared.load_plugin_configuration, Config)
    assert (config.max_items, config.hook) == (5, Nested("http://x"))
    await asyncio.to_thread(shared.close)
    assert await api.kv_get(key="k") == b'{"a":1}'  # closing the view left the async client open

    own = PluginAPI(target, loop=loop, plugin_id="demo")
    assert await asyncio.to_thread(own.kv_get_json, "k") == {"a": 1}
    assert await asyncio.to_thread(own.get_plugin_id) == "demo"
    await asyncio.to_thread(own.close)
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.to_thread(own.kv_get, key="k")


@pytest.mark.timeout(20)  # without the check this call would wait for itself forever
async def test_sync_call_on_the_loop_thread_fails_clearly(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    blocking = PluginAPI.from_async(api, asyncio.get_running_loop())
    with pytest.raises(RuntimeError, match=r"KVGet: .* called on its event loop's own thread"):
        blocking.kv_get(key="k")
    assert host.calls == []
