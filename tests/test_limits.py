"""Receive-size limits on both sides (SEMANTICS §7): a message announced over the limit fails its
call with RESOURCE_EXHAUSTED before its body is read, and the peer keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import h2.connection
import pytest
from api_hosts import GrpclibHost, serve_grpclib
from grpclib.const import Status
from host_support import FAST, make_plugin
from plugin_process import PluginProcess, call, grpcio_call, write_plugin
from raw_h2 import RawServer, grpc_frame, raw_call, respond

from mmplugin.api import AsyncPluginAPI, TooLargeError
from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.errors import HookAppError
from mmplugin.host.supervisor import PluginSupervisor
from mmplugin.manifest import load_manifest
from mmplugin.plugin import Plugin
from mmplugin.proto import health, pb
from mmplugin.wire.codec import MessageCodec, encode
from mmplugin.wire.endpoints import WireChannel
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT, GO_RECEIVE_LIMIT, MessageTooLarge

GIB = 1 << 30
MIB = 1 << 20
HOOKS = "/mattermost.pluginapi.v1.PluginHooks/"
HEALTH = "/grpc.health.v1.Health/Check"
SERVING = health.HealthCheckResponseServingStatus.SERVING

PLUGIN = """
    import mmplugin
    from mmplugin.http import Response


    class Limited(mmplugin.Plugin):
        max_receive_size = 1024 * 1024

        async def message_will_be_posted(self, plugin_context, post):
            return None

        async def serve_http(self, plugin_context, request):
            return Response(b"%d bytes" % len(await request.body()))


    mmplugin.run(Limited)
"""


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginProcess]:
    process = PluginProcess(write_plugin(tmp_path_factory.mktemp("limited"), PLUGIN))
    process.handshake()
    yield process
    process.stop()


def serving(process: PluginProcess) -> bool:
    reply = grpcio_call(process.address, HEALTH, health.HealthCheckRequest(service="plugin"),
                        health.HealthCheckResponse)
    return bool(reply.status is SERVING)


def lying_prefix(then: int) -> Iterator[bytes]:
    """A message announcing 1 GiB, followed by ``then`` bytes in 1 MiB pieces."""
    yield grpc_frame(b"\x0a\x03abc", length=GIB)
    block = b"\x00" * MIB
    for _ in range(then // MIB):
        yield block


def test_defaults() -> None:
    assert Plugin.max_receive_size == FILE_RECEIVE_LIMIT == 128 * MIB
    assert GO_RECEIVE_LIMIT == 4 * MIB
    with pytest.raises(TypeError, match=r"max_receive_size must be a number of bytes \(at least 1024\), got 10"):
        type("Tiny", (Plugin,), {"max_receive_size": 10})


@pytest.mark.parametrize("path", [HOOKS + "MessageWillBePosted", HOOKS + "ServeHTTP"])
def test_a_1_gib_length_prefix_is_refused_before_the_body_is_read(plugin: PluginProcess, path: str) -> None:
    pid = plugin.proc.pid
    reset_peak(pid)
    before = memory_kib(pid, "VmRSS")
    reply = raw_call(plugin.address, path, lying_prefix(then=48 * MIB))
    assert reply.status == Status.RESOURCE_EXHAUSTED.value
    assert reply.message == f"received message larger than max ({GIB} vs. {MIB})"
    # The answer came without waiting for the body: most of the 48 MiB was never sent, and the
    # plugin's peak memory did not grow by what was.
    assert reply.sent < 48 * MIB
    assert memory_kib(pid, "VmHWM") - before < 16 * 1024
    plugin.wait_for_log(lambda log: log.message == f"refused a {GIB}-byte gRPC message (the limit is {MIB} bytes)")
    assert serving(plugin)


def test_the_limit_is_inclusive_for_a_foreign_client(plugin: PluginProcess) -> None:
    path = HOOKS + "MessageWillBePosted"
    overhead = len(encode(pb.MessageWillBePostedRequest(post=pb.Post(message="x"))))
    fits = pb.MessageWillBePostedRequest(post=pb.Post(message="x" * (MIB - overhead + 1 - 4)))
    while len(encode(fits)) < MIB:  # the varint length of the message field grows with it
        fits.post.message += "x"
    assert len(encode(fits)) == MIB
    assert grpcio_call(plugin.address, path, fits, pb.MessageWillBePostedResponse) == \
        pb.MessageWillBePostedResponse()
    fits.post.message += "x"
    with pytest.raises(grpc.RpcError) as refused:
        grpcio_call(plugin.address, path, fits, pb.MessageWillBePostedResponse)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.value.details() == f"received message larger than max ({MIB + 1} vs. {MIB})"
    assert serving(plugin)


# --- the host's PluginAPI server ------------------------------------------------------------------

@pytest.fixture
async def api_server(tmp_path: Path) -> AsyncIterator[str]:
    directory = make_plugin(tmp_path, "com.example.api")
    server = await InMemoryApi(Store()).open(load_manifest(directory), directory)
    try:
        yield server.target
    finally:
        await server.close()


async def test_the_api_server_refuses_over_4_mib_like_the_go_server(api_server: str) -> None:
    path = "/mattermost.pluginapi.v1.PluginAPI/KVSet"
    reply = await asyncio.to_thread(raw_call, api_server, path, lying_prefix(then=8 * MIB))
    assert reply.status == Status.RESOURCE_EXHAUSTED.value
    assert reply.message == f"received message larger than max ({GIB} vs. {4 * MIB})"
    at_limit = pb.KvSetRequest(key="k", value=b"v" * (4 * MIB - 8))  # 8 bytes of tags and lengths
    assert len(encode(at_limit)) == 4 * MIB
    assert await asyncio.to_thread(grpcio_call, api_server, path, at_limit, pb.KvSetResponse) == pb.KvSetResponse()
    over = pb.KvSetRequest(key="k", value=b"v" * (4 * MIB - 7))
    with pytest.raises(grpc.RpcError) as refused:
        await asyncio.to_thread(grpcio_call, api_server, path, over, pb.KvSetResponse)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    async with AsyncPluginAPI(api_server) as api:
        assert await api.kv_get(key="k") == at_limit.value


# --- clients: the API client and the host ---------------------------------------------------------

def answer_1_gib(conn: h2.connection.H2Connection, stream_id: int, path: str) -> None:
    respond(conn, stream_id, grpc_frame(b"\x0a\x01v", length=GIB), end=False)


async def test_the_api_client_refuses_a_1_gib_response_unread() -> None:
    async with RawServer(answer_1_gib) as server, AsyncPluginAPI(server.target) as api:
        with pytest.raises(TooLargeError) as refused:
            await asyncio.wait_for(api.kv_get(key="k"), 10)
        for _ in range(100):  # the client resets the call it gave up on
            if server.resets:
                break
            await asyncio.sleep(0.01)
    error = refused.value
    assert (error.id, error.status_code, error.grpc_status) == ("mmplugin.api.response_too_large", 413,
                                                                Status.RESOURCE_EXHAUSTED)
    assert str(error) == (f"KVGet: mmplugin.api.response_too_large [413 RESOURCE_EXHAUSTED] the host's response "
                          f"is {GIB} bytes encoded; this client accepts at most {FILE_RECEIVE_LIMIT} "
                          "(max_response_size), so it was not read")
    assert server.resets


async def test_the_api_client_limit_is_configurable() -> None:
    host = GrpclibHost()
    host.kv["big"] = b"x" * (2 * MIB)
    async with serve_grpclib(host) as target, AsyncPluginAPI(target, max_response_size=MIB) as api:
        with pytest.raises(TooLargeError, match=r"this client accepts at most 1048576"):
            await api.kv_get(key="big")
        host.kv["small"] = b"x"
        assert await api.kv_get(key="small") == b"x"  # the connection survives


async def test_a_limited_channel_refuses_a_1_gib_response() -> None:
    async with RawServer(answer_1_gib) as server:
        channel = WireChannel("127.0.0.1", int(server.target.rsplit(":", 1)[1]), max_receive=MIB,
                                 codec=MessageCodec())
        try:
            with pytest.raises(MessageTooLarge) as refused:
                await asyncio.wait_for(call(channel, "ExecuteCommand"), 10)
        finally:
            channel.close()
    assert (refused.value.status, refused.value.size, refused.value.limit) == (Status.RESOURCE_EXHAUSTED, GIB, MIB)


async def test_the_host_fails_a_hook_whose_response_is_too_large(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.big", {"big_response": 2 * MIB})
    config = dataclasses.replace(FAST, max_receive_size=MIB)
    sup = PluginSupervisor(directory, load_manifest(directory), "127.0.0.1:9", config)
    await sup.start()
    try:
        assert sup.hooks is not None
        with pytest.raises(HookAppError) as failed:
            await sup.hooks.execute_command(pb.CommandArgs(command="/big"))
        assert failed.value.id == "plugin.grpc.execute_command.error"
        assert "RESOURCE_EXHAUSTED: received message larger than max" in failed.value.app_error.detailed_error
        post, rejection = await sup.hooks.message_will_be_posted(pb.Post(message="still here"))
        assert (post, rejection) == (None, "")
    finally:
        await sup.stop()
