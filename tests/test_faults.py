"""Faults on either side: processes killed mid-call, handlers that never return, half-written
handshakes, clients that vanish mid-upload, GOAWAY from the API host, a broken manifest."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path

import h2.connection
import httpx
import pytest
from h2.errors import ErrorCodes
from host_support import FAST, alive, eventually, make_plugin, serve_asgi, starts
from plugin_process import PluginProcess, call, write_plugin
from raw_h2 import RawServer, grpc_frame, respond

from mmplugin.api import APIConnectionError, AsyncPluginAPI
from mmplugin.host.admin import AdminApp
from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.errors import HandshakeFailed, HookAppError
from mmplugin.host.front import HostFront
from mmplugin.host.supervisor import PluginState, PluginSupervisor
from mmplugin.manifest import load_manifest
from mmplugin.proto import health, pb
from mmplugin.wire.codec import encode

NO_API = "127.0.0.1:9"
SERVING = health.HealthCheckResponseServingStatus.SERVING


# --- the host dies: the plugin exits by itself ------------------------------------------------------

ORPHAN = """
    import os
    from pathlib import Path

    import mmplugin


    class Orphan(mmplugin.Plugin):
        def on_activate(self):
            Path("pid.tmp").write_text(str(os.getpid()))
            Path("pid.tmp").replace("pid")  # whole or absent: the test polls for it


    mmplugin.run(Orphan)
"""


async def test_a_plugin_exits_when_its_host_is_killed(tmp_path: Path) -> None:
    directory = write_plugin(tmp_path / "orphan", ORPHAN)
    host = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(directory), "--port", "0", "--python", sys.executable,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    pid = 0
    try:
        await eventually(lambda: (directory / "pid").exists(), timeout=30)
        pid = int((directory / "pid").read_text())
        assert alive(pid)
        host.kill()  # no OnDeactivate, no Shutdown, no SIGTERM: the plugin's pipes just break
        await host.wait()
        await eventually(lambda: not alive(pid), timeout=15)
    finally:
        if host.returncode is None:
            host.kill()
            await host.wait()
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)


# --- a plugin killed mid-hook ---------------------------------------------------------------------

async def test_a_plugin_killed_mid_hook_is_reported_and_restarted(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.killed", {"hang": True, "restart": {"hang": False}})
    sup = PluginSupervisor(directory, load_manifest(directory), NO_API, FAST)
    await sup.start()
    try:
        assert sup.hooks is not None
        first = sup.pid
        assert first is not None
        hanging = asyncio.ensure_future(sup.hooks.execute_command(pb.CommandArgs(command="/hang")))
        posted = asyncio.ensure_future(sup.hooks.message_will_be_posted(pb.Post(message="hi")))
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)
        # The calls in flight end at once (not at the 10 s deadline), with the negative answers.
        with pytest.raises(HookAppError) as failed:
            await asyncio.wait_for(hanging, 5)
        assert failed.value.id == "plugin.grpc.execute_command.error"
        assert await asyncio.wait_for(posted, 5) == (None, "")  # fail-open
        await sup.wait_for(PluginState.RUNNING, timeout=30)
        await eventually(lambda: sup.restarts == 1 and sup.hooks is not None)
        assert sup.last_failure == "exited unexpectedly (killed by SIGKILL)"
        assert sup.pid != first
        assert not alive(first)
        assert await sup.hooks.execute_command(pb.CommandArgs(command="/after")) == pb.CommandResponse(
            text="com.example.killed ran /after")
    finally:
        await sup.stop()
    assert all(not alive(pid) for pid in starts(directory))


# --- handlers that never return --------------------------------------------------------------------

BLOCKED = """
    import asyncio
    import threading
    import time

    import mmplugin


    class Blocked(mmplugin.Plugin):
        max_workers = 2
        timeouts = {"on_install": 1.0, "message_will_be_updated": 0.5}

        def on_install(self, plugin_context, event):
            time.sleep(3600)  # blocks its worker thread for good

        async def message_will_be_updated(self, plugin_context, new_post, old_post):
            await asyncio.Event().wait()  # never returns

        async def message_will_be_posted(self, plugin_context, post):
            return None

        def execute_command(self, plugin_context, args):
            return f"ran {args.command}"


    mmplugin.run(Blocked)
"""


async def test_handlers_that_never_return_do_not_stop_the_others(tmp_path: Path) -> None:
    process = PluginProcess(write_plugin(tmp_path / "blocked", BLOCKED))
    channel = process.channel()
    try:
        # Both worker threads end up blocked for good, a third call waits for one in vain.
        stuck = await asyncio.gather(*(call(channel, "OnInstall") for _ in range(3)))
        assert [reply.error.detailed_error for reply in stuck] == ["on_install did not answer within 1 s"] * 3
        never = asyncio.gather(*(call(channel, "MessageWillBeUpdated") for _ in range(20)))
        fast = await asyncio.gather(*(call(channel, "MessageWillBePosted") for _ in range(50)))
        assert fast == [pb.MessageWillBePostedResponse()] * 50
        health_reply = await call(channel, "/grpc.health.v1.Health/Check",
                                  health.HealthCheckRequest(service="plugin"), health.HealthCheckResponse)
        assert health_reply.status is SERVING
        assert {reply.rejection_reason for reply in await never} == {
            "message_will_be_updated did not answer within 0.5 s"}
        # A sync hook now queues behind the blocked threads: it too gets its negative answer in time.
        queued = await call(channel, "ExecuteCommand", pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/x")),
                            timeout=3.0)
        assert queued.error.detailed_error.startswith("execute_command did not answer within ")
    finally:
        channel.close()
        process.stop()
    messages = [log.message for log in process.logs()]
    assert messages.count("on_install did not answer within 1 s; its thread cannot be stopped and is abandoned") == 3
    assert messages.count("message_will_be_updated did not answer within 0.5 s; cancelled") == 20


# --- half-written handshake ------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "expected"), [
    ("partial", "exited after printing a partial line '1|1|tcp|127.0.0.1:' (exit status 0)"),
    ("partial_hang", "no handshake line on stdout within 3 s"),
])
async def test_a_half_written_handshake_is_a_clear_failure(tmp_path: Path, mode: str, expected: str) -> None:
    directory = make_plugin(tmp_path, "com.example.half", {"handshake": mode})
    config = dataclasses.replace(FAST, handshake_timeout=3.0) if mode == "partial_hang" else FAST
    sup = PluginSupervisor(directory, load_manifest(directory), NO_API, config)
    with pytest.raises(HandshakeFailed) as failed:
        await sup.start()
    assert expected in str(failed.value)
    assert sup.state is PluginState.FAILED
    assert all(not alive(pid) for pid in starts(directory))


# --- an HTTP client that vanishes mid-upload -------------------------------------------------------

async def test_an_upload_cut_off_mid_body_cancels_the_plugin_and_leaves_no_task(tmp_path: Path) -> None:
    env = Environment(InMemoryApi(Store()), FAST)
    web = make_plugin(tmp_path, "com.example.web")
    await env.activate(env.load(web).id)
    try:
        async with serve_asgi(HostFront(env)) as url:
            host, port = url.removeprefix("http://").split(":")
            baseline = len(asyncio.all_tasks())
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"POST /plugins/com.example.web/upload HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 10000000\r\n\r\n" + b"z" * 300_000)
            await writer.drain()
            await asyncio.sleep(0.5)
            writer.transport.abort()  # the client is gone, 3 % into its body
            await eventually(lambda: (web / "cancelled-upload").exists())
            assert 0 < int((web / "cancelled-upload").read_text()) < 10_000_000
            await eventually(lambda: len(asyncio.all_tasks()) <= baseline)
            del reader
    finally:
        await env.shutdown()


async def test_a_modified_post_the_store_refuses_is_a_400_not_a_crash(tmp_path: Path) -> None:
    store = Store()
    env = Environment(InMemoryApi(store), FAST)
    await env.activate(env.load(make_plugin(tmp_path, "com.example.bare", {"bare_post": True})).id)
    try:
        async with serve_asgi(HostFront(env, admin=AdminApp(env, store, store.seed()))) as url, \
                httpx.AsyncClient(base_url=url, timeout=20) as client:
            response = await client.post("/_mmplugin/posts", json={"message": "hi"})
    finally:
        await env.shutdown()
    assert response.status_code == 400
    assert response.json() == {"id": "api.post.create_post.channel.app_error",
                               "message": "The post's channel does not exist."}


# --- GOAWAY from the API host ----------------------------------------------------------------------

def kv_answer(value: bytes) -> bytes:
    return grpc_frame(encode(pb.KvGetResponse(value=value)))


async def test_the_api_client_reconnects_after_a_graceful_goaway() -> None:
    def answer(conn: h2.connection.H2Connection, stream_id: int, path: str) -> None:
        respond(conn, stream_id, kv_answer(b"v"))

    async with RawServer(answer) as server, AsyncPluginAPI(server.target) as api:
        assert await api.kv_get(key="a") == b"v"
        server.goaway()  # between two calls, as a server shutting down
        await asyncio.sleep(0.5)
        assert await asyncio.wait_for(api.kv_get(key="b"), 10) == b"v"
        assert server.connections == 2


async def test_a_goaway_mid_call_raises_api_connection_error_and_the_next_call_reconnects() -> None:
    calls: list[str] = []

    def answer(conn: h2.connection.H2Connection, stream_id: int, path: str) -> None:
        calls.append(path)
        if len(calls) == 1:  # refuse the call it is in the middle of, as grpc-go's too_many_pings does
            conn.close_connection(error_code=ErrorCodes.ENHANCE_YOUR_CALM, additional_data=b"too_many_pings",
                                  last_stream_id=0)
        else:
            respond(conn, stream_id, kv_answer(b"again"))

    async with RawServer(answer) as server, AsyncPluginAPI(server.target) as api:
        with pytest.raises(APIConnectionError) as failed:
            await asyncio.wait_for(api.kv_get(key="a"), 10)
        # grpclib reports the GOAWAY, or the connection it closes because of it, whichever comes first.
        assert str(failed.value).startswith(f"KVGet: host {server.target} unreachable or gone: ")
        assert await asyncio.wait_for(api.kv_get(key="a"), 10) == b"again"
        assert server.connections == 2


# --- a manifest the runtime cannot use -------------------------------------------------------------

def test_the_runtime_names_the_broken_manifest_field(tmp_path: Path) -> None:
    manifest = {"id": "com.example.broken", "server": {"executable": "plugin.py"},
                "settings_schema": {"settings": [{"key": "colour", "type": "colour"}]}}
    process = PluginProcess(write_plugin(tmp_path / "broken", ORPHAN, manifest))
    assert process.wait() == 1
    assert process.stdout_lines == []
    error = next(log for log in process.logs() if log.level == "error")
    assert error.message == (f"{tmp_path / 'broken' / 'plugin.json'}: settings_schema.settings[0].type: 'colour' "
                             "is not one of bool, dropdown, generated, radio, text, longtext, number, username, custom")

