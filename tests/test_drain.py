"""Graceful drain on the host's GRPCController/Shutdown (SEMANTICS §1.6, §7): calls in flight, hooks
and HTTP streams alike, finish within the grace; new ones are refused; past the grace they are
cancelled and the process still exits 0 without waiting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from plugin_process import PluginProcess, call, write_plugin

from mmplugin.hooks import HOOKS_BY_NAME
from mmplugin.proto import goplugin, health, pb

SHUTDOWN = "/plugin.GRPCController/Shutdown"
NOT_SERVING = health.HealthCheckResponseServingStatus.NOT_SERVING

DRAIN = """
    import asyncio
    import logging
    from pathlib import Path

    import mmplugin
    from mmplugin.http import StreamingResponse
    from mmplugin.proto import pb


    async def released():
        while not Path("release").exists():
            await asyncio.sleep(0.01)


    class Drain(mmplugin.Plugin):
        shutdown_grace = {grace}

        async def execute_command(self, plugin_context, args):
            logging.info("started %s", args.command)
            if args.command == "/wait":
                await released()
            if args.command == "/forever":
                await asyncio.Event().wait()
            return pb.CommandResponse(text="done " + args.command)

        async def serve_http(self, plugin_context, request):
            async def chunks():
                yield b"first\\n"
                await released()
                yield b"second\\n"
            return StreamingResponse(chunks())


    mmplugin.run(Drain)
"""


def command(text: str) -> pb.ExecuteCommandRequest:
    return pb.ExecuteCommandRequest(args=pb.CommandArgs(command=text))


def wait_for_started(process: PluginProcess, text: str, count: int = 1, timeout: float = 20.0) -> None:
    """Until ``count`` handlers of command ``text`` run in the plugin (a loaded machine may be slow to send)."""
    deadline = time.monotonic() + timeout
    while sum(log.message == f"started {text}" for log in process.logs()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} hooks started; stderr: {process.stderr_lines}"
        time.sleep(0.01)


async def test_shutdown_lets_hooks_and_http_streams_in_flight_finish(tmp_path: Path) -> None:
    directory = write_plugin(tmp_path / "drain", DRAIN.format(grace=20.0))
    process = PluginProcess(directory)
    channel = process.channel()
    try:
        hooks = [asyncio.ensure_future(call(channel, "ExecuteCommand", command("/wait"))) for _ in range(5)]
        serve_http = HOOKS_BY_NAME["ServeHTTP"]
        async with channel.request(serve_http.path, Cardinality.STREAM_STREAM, pb.ServeHttpRequest,
                                   pb.ServeHttpResponse) as stream:
            await stream.send_message(pb.ServeHttpRequest(init=pb.ServeHttpRequestInit(method="GET", url="/events"),
                                                          body_complete=True), end=True)
            first = await stream.recv_message()
            assert first is not None
            assert first.init is not None
            while not first.body_chunk:
                first = await stream.recv_message()
                assert first is not None
            assert first.body_chunk == b"first\n"
            await asyncio.to_thread(wait_for_started, process, "/wait", len(hooks))
            assert await call(channel, SHUTDOWN, goplugin.Empty(), goplugin.Empty) == goplugin.Empty()
            status = await call(channel, "/grpc.health.v1.Health/Check", health.HealthCheckRequest(service="plugin"),
                                health.HealthCheckResponse)
            assert status.status is NOT_SERVING
            with pytest.raises(GRPCError) as refused:
                await call(channel, "ExecuteCommand", command("/late"))
            assert refused.value.status is Status.UNAVAILABLE
            assert not any(hook.done() for hook in hooks)
            (directory / "release").touch()
            rest = [message async for message in stream]
            assert b"".join(m.body_chunk for m in rest) == b"second\n"
            assert rest[-1].body_complete
        replies = await asyncio.gather(*hooks)
    finally:
        channel.close()
    assert [reply.response.text for reply in replies] == ["done /wait"] * 5
    assert await asyncio.to_thread(process.wait) == 0
    assert not [log for log in process.logs() if log.level == "error"]


async def test_calls_past_the_grace_are_cancelled_and_the_plugin_exits(tmp_path: Path) -> None:
    process = PluginProcess(write_plugin(tmp_path / "stuck", DRAIN.format(grace=0.5)))
    channel = process.channel()
    try:
        forever = asyncio.ensure_future(call(channel, "ExecuteCommand", command("/forever"), timeout=None))
        await asyncio.to_thread(wait_for_started, process, "/forever")
        await call(channel, SHUTDOWN, goplugin.Empty(), goplugin.Empty)
        with pytest.raises((GRPCError, StreamTerminatedError)):
            await asyncio.wait_for(forever, 10)
    finally:
        channel.close()
    assert await asyncio.to_thread(process.wait) == 0
    messages = [log.message for log in process.logs()]
    assert "1 call(s) still running after 0.5 s; cancelling them" in messages
