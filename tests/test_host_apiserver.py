"""The in-memory PluginAPI server through real gRPC clients (grpclib, and grpcio as the foreign peer)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpclib.client import Channel, UnaryUnaryMethod
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from mmplugin.host.apiserver import ApiServer, InMemoryApi, SqliteBackend, Store
from mmplugin.manifest import parse_manifest
from mmplugin.proto import pb, wkt
from mmplugin.wire.codec import MessageCodec

MANIFEST = parse_manifest({
    "id": "com.example.api", "name": "API test",
    "server": {"executable": "plugin.py"},
    "settings_schema": {"settings": [
        {"key": "Greeting", "type": "text", "default": "hello"},
        {"key": "Enabled", "type": "bool", "default": False},
        {"key": "NoDefault", "type": "text"},
    ]},
})


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[InMemoryApi, ApiServer, pb.PluginApiStub]]:
    provider = InMemoryApi(Store(clock=clock), {"com.example.api": {"ENABLED": True}})
    server = await provider.open(MANIFEST, tmp_path)
    host, port = server.target.rsplit(":", 1)
    channel = Channel(host, int(port), codec=MessageCodec())
    try:
        yield provider, server, pb.PluginApiStub(channel)
    finally:
        channel.close()
        await server.close()


async def test_every_method_answers_with_a_proper_status(api: tuple[InMemoryApi, ApiServer, Any]) -> None:
    _, _server, stub = api
    mapping = pb.PluginApiBase().__mapping__()
    assert len(mapping) == 236
    failures: dict[str, GRPCError] = {}
    for path, handler in mapping.items():
        method = UnaryUnaryMethod(stub.channel, path, handler.request_type, handler.reply_type)
        try:
            await method(handler.request_type(), timeout=5)
        except GRPCError as exc:
            failures[path.rsplit("/", 1)[1]] = exc
    assert not {name for name, exc in failures.items() if exc.status in (Status.UNKNOWN, Status.INTERNAL)}
    unimplemented = {name for name, exc in failures.items() if exc.status is Status.UNIMPLEMENTED}
    assert {name for name in unimplemented
            if failures[name].message != f"not implemented by the mmplugin in-memory host: {name}"} == {"GetPluginID"}
    assert 0 < len(unimplemented) < 236 - 60


async def test_error_styles(api: tuple[InMemoryApi, ApiServer, pb.PluginApiStub]) -> None:
    _, _, stub = api
    with pytest.raises(GRPCError) as info:
        await stub.get_user(pb.GetUserRequest(user_id="nobody"))
    assert info.value.status is Status.NOT_FOUND
    assert info.value.message is not None
    assert info.value.message.startswith("app.user.missing_account.const: ")
    with pytest.raises(GRPCError) as info:
        await stub.create_user(pb.CreateUserRequest())
    assert info.value.status is Status.INVALID_ARGUMENT
    await stub.create_user(pb.CreateUserRequest(user=pb.User(username="ann", email="ann@example.com")))
    with pytest.raises(GRPCError) as info:
        await stub.create_user(pb.CreateUserRequest(user=pb.User(username="Ann", email="other@example.com")))
    assert info.value.status is Status.INVALID_ARGUMENT
    assert info.value.message is not None
    assert "app.user.save.username_exists.app_error" in info.value.message
    # Posts embed their errors with an OK status.
    missing = await stub.get_post(pb.GetPostRequest(post_id="nope"))
    assert missing.error is not None
    assert missing.error.id == "app.post.get.app_error"
    assert missing.error.status_code == 404
    assert missing.post is None
    with pytest.raises(GRPCError) as info:
        await stub.get_plugin_id(pb.GetPluginIdRequest())
    assert info.value.status is Status.UNIMPLEMENTED


async def test_kv_semantics(api: tuple[InMemoryApi, ApiServer, pb.PluginApiStub], clock: Clock) -> None:
    _, _, stub = api

    async def options(key: str, value: bytes, **opts: Any) -> pb.KvSetWithOptionsResponse:
        return await stub.kv_set_with_options(pb.KvSetWithOptionsRequest(
            key=key, value=value, options=pb.PluginKvSetOptions(**opts)))

    async def get(key: str) -> bytes:
        return (await stub.kv_get(pb.KvGetRequest(key=key))).value

    assert (await options("lock", b"a", atomic=True)).success  # insert only if absent
    assert not (await options("lock", b"b", atomic=True)).success
    assert not (await options("lock", b"b", atomic=True, old_value=b"x")).success
    assert (await options("lock", b"b", atomic=True, old_value=b"a")).success
    assert await get("lock") == b"b"
    bad = await options("lock", b"c", old_value=b"b")  # old_value without atomic
    assert bad.error is not None
    assert bad.error.id == "model.plugin_kvset_options.is_valid.old_value.app_error"
    assert await get("lock") == b"b"

    cas = await stub.kv_compare_and_set(pb.KvCompareAndSetRequest(key="lock", old_value=b"zz", new_value=b"c"))
    assert not cas.success
    cas = await stub.kv_compare_and_set(pb.KvCompareAndSetRequest(key="lock", old_value=b"b", new_value=b"c"))
    assert cas.success
    assert await get("lock") == b"c"
    deleted = await stub.kv_compare_and_delete(pb.KvCompareAndDeleteRequest(key="lock", old_value=b"b"))
    assert not deleted.success
    deleted = await stub.kv_compare_and_delete(pb.KvCompareAndDeleteRequest(key="lock", old_value=b"c"))
    assert deleted.success
    assert await get("lock") == b""

    await stub.kv_set_with_expiry(pb.KvSetWithExpiryRequest(key="temp", value=b"t", expire_in_seconds=10))
    assert await get("temp") == b"t"
    clock.now += 11
    assert await get("temp") == b""
    assert (await options("temp", b"again", atomic=True)).success, "an expired key counts as absent"

    for key in ("k3", "k1", "k2"):
        await stub.kv_set(pb.KvSetRequest(key=key, value=b"v"))
    await stub.kv_set(pb.KvSetRequest(key="k2", value=b""))  # an empty value deletes
    pages = [(await stub.kv_list(pb.KvListRequest(page=p, per_page=2))).keys for p in range(3)]
    assert pages == [["k1", "k3"], ["temp"], []]
    too_long = await stub.kv_set(pb.KvSetRequest(key="x" * 151, value=b"v"))
    assert too_long.error is not None
    assert too_long.error.id == "model.plugin_key_value.is_valid.key.app_error"
    await stub.kv_delete_all(pb.KvDeleteAllRequest())
    assert (await stub.kv_list(pb.KvListRequest(page=0, per_page=10))).keys == []


async def test_plugin_configuration(api: tuple[InMemoryApi, ApiServer, pb.PluginApiStub]) -> None:
    provider, _, stub = api
    saved: list[str] = []
    provider.store.configs.listeners.append(saved.append)
    config = (await stub.get_plugin_config(pb.GetPluginConfigRequest())).config
    assert config is not None
    assert config.to_dict() == {"greeting": "hello", "enabled": True}
    loaded = await stub.load_plugin_configuration(pb.LoadPluginConfigurationRequest())
    assert json.loads(loaded.config_json) == {"greeting": "hello", "enabled": True}
    await stub.save_plugin_config(pb.SavePluginConfigRequest(config=wkt.Struct.from_dict({"Greeting": "hi"})))
    loaded = await stub.load_plugin_configuration(pb.LoadPluginConfigurationRequest())
    assert json.loads(loaded.config_json) == {"greeting": "hi", "enabled": False}
    assert saved == ["com.example.api"]


async def test_posts_channels_and_logs(api: tuple[InMemoryApi, ApiServer, pb.PluginApiStub],
                                       caplog: pytest.LogCaptureFixture) -> None:
    provider, _, stub = api
    seed = provider.store.seed()
    created = await stub.create_post(pb.CreatePostRequest(post=pb.Post(channel_id=seed.channel.id,
                                                                       user_id=seed.user.id, message="hi")))
    assert created.post is not None
    assert created.post.id
    assert created.post.create_at
    reaction = pb.Reaction(post_id=created.post.id, user_id=seed.user.id, emoji_name="+1")
    await stub.add_reaction(pb.AddReactionRequest(reaction=reaction))
    assert [r.emoji_name for r in (await stub.get_reactions(pb.GetReactionsRequest(post_id=created.post.id)))
            .reactions] == ["+1"]
    posts = await stub.get_posts_for_channel(pb.GetPostsForChannelRequest(channel_id=seed.channel.id, per_page=10))
    assert posts.post_list is not None
    assert posts.post_list.order == [created.post.id]
    orphan = await stub.create_post(pb.CreatePostRequest(post=pb.Post(channel_id="nowhere", message="x")))
    assert orphan.error is not None
    assert orphan.error.status_code == 400
    channel = await stub.get_channel_by_name_for_team_name(
        pb.GetChannelByNameForTeamNameRequest(team_name="local", channel_name="town-square"))
    assert channel.channel is not None
    assert channel.channel.id == seed.channel.id
    bot = await stub.ensure_bot_user(pb.EnsureBotUserRequest(bot=pb.Bot(username="helper")))
    again = await stub.ensure_bot_user(pb.EnsureBotUserRequest(bot=pb.Bot(username="helper")))
    assert bot.bot_user_id == again.bot_user_id
    fetched = await stub.get_bot(pb.GetBotRequest(bot_user_id=bot.bot_user_id))
    assert fetched.bot is not None
    assert fetched.bot.owner_id == "com.example.api"

    with caplog.at_level(logging.DEBUG, logger="mmplugin.host.plugin.com.example.api"):
        await stub.log_warn(pb.LogWarnRequest(msg="careful", key_value_pairs=[
            pb.KeyValuePair(key="n", value=wkt.Value(number_value=3))]))
    record = next(r for r in caplog.records if r.getMessage().startswith("careful"))
    assert record.levelno == logging.WARNING
    assert record.plugin_fields == {"n": 3}


async def test_sqlite_kv_survives_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "kv.sqlite"
    for round_trip in range(2):
        backend = SqliteBackend(database)
        provider = InMemoryApi(Store(kv_backend=backend))
        server = await provider.open(MANIFEST, tmp_path)
        host, port = server.target.rsplit(":", 1)
        channel = Channel(host, int(port), codec=MessageCodec())
        stub = pb.PluginApiStub(channel)
        try:
            if round_trip == 0:
                await stub.kv_set(pb.KvSetRequest(key="kept", value=b"yes"))
            else:
                assert (await stub.kv_get(pb.KvGetRequest(key="kept"))).value == b"yes"
        finally:
            channel.close()
            await server.close()
            backend.close()


async def test_grpcio_client_gets_answers_and_unimplemented(api: tuple[InMemoryApi, ApiServer, Any]) -> None:
    _, server, _ = api

    def call() -> tuple[bytes, grpc.StatusCode, str]:
        with grpc.insecure_channel(server.target) as channel:
            kv_set = channel.unary_unary("/mattermost.pluginapi.v1.PluginAPI/KVSet")
            kv_get = channel.unary_unary("/mattermost.pluginapi.v1.PluginAPI/KVGet")
            kv_set(bytes(pb.KvSetRequest(key="k", value=b"from grpcio")), timeout=5)
            value = pb.KvGetResponse.parse(kv_get(bytes(pb.KvGetRequest(key="k")), timeout=5)).value
            upload = channel.unary_unary("/mattermost.pluginapi.v1.PluginAPI/UploadFile")
            try:
                upload(b"", timeout=5)
            except grpc.RpcError as exc:
                return value, exc.code(), exc.details()
            raise AssertionError("UploadFile answered OK")

    value, code, details = await asyncio.to_thread(call)
    assert value == b"from grpcio"
    assert code is grpc.StatusCode.UNIMPLEMENTED
    assert details == "not implemented by the mmplugin in-memory host: UploadFile"


async def test_our_api_client_reads_both_error_styles(api: tuple[InMemoryApi, ApiServer, Any]) -> None:
    from mmplugin.api import AsyncPluginAPI, InvalidInputError, NotFoundError, UnimplementedError

    _, server, _ = api
    async with AsyncPluginAPI(server.target, plugin_id="com.example.api") as client:
        with pytest.raises(NotFoundError) as status_style:
            await client.get_user(user_id="nobody")
        assert status_style.value.id == "app.user.missing_account.const"
        with pytest.raises(NotFoundError) as embedded:
            await client.get_post(post_id="nobody")
        assert embedded.value.id == "app.post.get.app_error"
        with pytest.raises(InvalidInputError):
            await client.kv_set_with_options(key="k", value=b"v", options=pb.PluginKvSetOptions(old_value=b"x"))
        assert await client.kv_set_with_options(key="k", value=b"v", options=pb.PluginKvSetOptions(atomic=True))
        assert await client.kv_get(key="k") == b"v"
        with pytest.raises(UnimplementedError):
            await client.upload_file(data=b"x", channel_id="c", filename="f")
