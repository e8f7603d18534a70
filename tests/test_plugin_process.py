"""The process contract of a plugin (SEMANTICS §1), through real plugin processes."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError
from plugin_process import PluginProcess, call, grpcio_call, write_plugin

from mmplugin.proto import goplugin, health, pb, wkt
from mmplugin.wire.codec import decode, encode
from mmplugin.wire.logline import LEVELS

SERVING = health.HealthCheckResponseServingStatus.SERVING
NOT_SERVING = health.HealthCheckResponseServingStatus.NOT_SERVING
HEALTH_CHECK = "/grpc.health.v1.Health/Check"

BASIC = """
    import asyncio
    import logging
    from pathlib import Path

    import mmplugin
    from mmplugin.proto import pb

    print("output before run()")


    class Basic(mmplugin.Plugin):
        def on_activate(self):
            logging.warning("careful", extra={"user_id": "u1", "count": 3})
            print("printed after the handshake")
            try:
                1 / 0
            except ZeroDivisionError:
                logging.exception("caught it")

        async def execute_command(self, plugin_context, args):
            if args.command == "/wait-for-stop":
                logging.info("waiting for the stop")
                while not Path("stop-seen").exists():
                    await asyncio.sleep(0.01)
            return pb.CommandResponse(text=f"{self.id} {args.command}")


    mmplugin.run(Basic)
"""


def _basic(directory: Path) -> Path:
    return write_plugin(directory, BASIC, {"id": "Com.Example.Basic", "server": {"executable": "plugin.py"}})


@pytest.fixture
def basic_dir(tmp_path: Path) -> Path:
    return _basic(tmp_path / "basic")


@pytest.fixture
def plugin(basic_dir: Path) -> Iterator[PluginProcess]:
    """A plugin process of its own, for tests that stop it."""
    process = PluginProcess(basic_dir)
    process.handshake()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginProcess]:
    """One plugin process for the tests that leave it running."""
    process = PluginProcess(_basic(tmp_path_factory.mktemp("shared")))
    process.handshake()
    yield process
    process.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- start-up -------------------------------------------------------------------------------------

def test_refuses_to_run_without_the_magic_cookie(basic_dir: Path) -> None:
    process = PluginProcess(basic_dir, {"MATTERMOST_PLUGIN": "wrong"}, cookie=False)
    assert process.wait() == 1
    stderr = "\n".join(process.stderr_lines)
    assert "must be launched by a Mattermost server" in stderr
    assert "mmplugin run" in stderr
    assert process.stdout_lines == ["output before run()"]  # the script's own print, before run()


def test_port_within_the_hosts_range(basic_dir: Path) -> None:
    low = free_port()
    high = min(low + 20, 65535)
    process = PluginProcess(basic_dir, {"PLUGIN_MIN_PORT": str(low), "PLUGIN_MAX_PORT": str(high)})
    try:
        assert low <= process.handshake().port <= high
    finally:
        process.stop()


def test_no_free_port_in_range_is_a_clear_error(basic_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = PluginProcess(basic_dir, {"PLUGIN_MIN_PORT": str(port), "PLUGIN_MAX_PORT": str(port)})
        assert process.wait() == 1
    assert process.stdout_lines == []
    error = next(log for log in process.logs() if log.level == "error")
    assert error.message == f"no free port on 127.0.0.1 in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT = {port}..{port}"


def test_missing_manifest_is_named(basic_dir: Path) -> None:
    (basic_dir / "plugin.json").unlink()
    process = PluginProcess(basic_dir)
    assert process.wait() == 1
    assert process.stdout_lines == []
    error = next(log for log in process.logs() if log.level == "error")
    assert error.message.startswith(f"{basic_dir / 'plugin.json'}: no manifest")


# --- services -------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["plugin", ""])
async def test_health_serving(shared: PluginProcess, service: str) -> None:
    channel = shared.channel()
    try:
        reply = await call(channel, HEALTH_CHECK, health.HealthCheckRequest(service=service),
                           health.HealthCheckResponse)
    finally:
        channel.close()
    assert reply.status is SERVING
    foreign = grpcio_call(shared.address, HEALTH_CHECK, health.HealthCheckRequest(service=service),
                          health.HealthCheckResponse)
    assert foreign.status is SERVING


async def test_health_unknown_service_is_not_found(shared: PluginProcess) -> None:
    channel = shared.channel()
    try:
        with pytest.raises(GRPCError) as caught:
            await call(channel, HEALTH_CHECK, health.HealthCheckRequest(service="other"),
                       health.HealthCheckResponse)
    finally:
        channel.close()
    assert caught.value.status is Status.NOT_FOUND


@pytest.mark.parametrize("path", [
    "/no.such.Service/Method",
    "/mattermost.pluginapi.v1.PluginHooks/NoSuchHook",
    "/mattermost.pluginapi.v1.PluginHooks/ServeHTTP",  # not mounted on this branch
])
def test_unknown_paths_are_unimplemented_for_grpcio(shared: PluginProcess, path: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        grpcio_call(shared.address, path, wkt.Empty(), wkt.Empty)
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert path in caught.value.details()


def test_implemented_and_a_hook_through_grpcio(shared: PluginProcess) -> None:
    hooks = grpcio_call(shared.address, "/mattermost.pluginapi.v1.PluginHooks/Implemented",
                        pb.ImplementedRequest(), pb.ImplementedResponse).hooks
    assert hooks == ["OnActivate", "ExecuteCommand"]
    reply = grpcio_call(shared.address, "/mattermost.pluginapi.v1.PluginHooks/ExecuteCommand",
                        pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/hi")),
                        pb.ExecuteCommandResponse)
    assert reply.response.text == "com.example.basic /hi"  # the manifest's id, lower-cased


async def test_broker_stream_ends_when_the_host_closes_it(shared: PluginProcess) -> None:
    channel = shared.channel()
    try:
        async with channel.request("/plugin.GRPCBroker/StartStream", Cardinality.STREAM_STREAM,
                                   goplugin.ConnInfo, goplugin.ConnInfo) as stream:
            await stream.send_message(goplugin.ConnInfo(service_id=1, network="tcp"), end=True)
            assert await stream.recv_message() is None
    finally:
        channel.close()


# --- logs -----------------------------------------------------------------------------------------

async def test_stdout_holds_only_the_handshake_and_logs_are_hclog_json(plugin: PluginProcess) -> None:
    handshake_line = f"1|1|tcp|127.0.0.1:{plugin.handshake().port}|grpc"
    channel = plugin.channel()
    try:
        assert await call(channel, "OnActivate") == pb.OnActivateResponse()
    finally:
        channel.close()
    warning = plugin.wait_for_log(lambda log: log.message == "careful")
    assert warning.level == "warn"
    assert warning.fields["user_id"] == "u1"
    assert warning.fields["count"] == 3
    printed = plugin.wait_for_log(lambda log: log.message == "printed after the handshake")
    assert printed.level == "info"
    caught = plugin.wait_for_log(lambda log: log.message == "caught it")
    assert caught.level == "error"
    assert "ZeroDivisionError: division by zero" in caught.fields["exception"]
    plugin.proc.send_signal(signal.SIGTERM)
    assert plugin.wait() == 0
    assert plugin.stdout_lines == [handshake_line]
    # Printed after `import mmplugin` but before run(): sent to stderr, the handshake stays first.
    assert plugin.stderr_lines[0] == "output before run()"
    for line in plugin.stderr_lines[1:]:
        assert json.loads(line)["@level"] in LEVELS, line


# --- shutdown -------------------------------------------------------------------------------------

class GrpcioBrokerStream:
    """go-plugin's broker stream as grpc-go opens it: the host's side stays open."""

    def __init__(self, address: str) -> None:
        self._release = threading.Event()
        self._channel = grpc.insecure_channel(address)
        method = self._channel.stream_stream(
            "/plugin.GRPCBroker/StartStream", request_serializer=encode,
            response_deserializer=lambda data: decode(goplugin.ConnInfo, data))
        self.responses = method(self._requests(), timeout=30)

    def _requests(self) -> Iterator[goplugin.ConnInfo]:
        yield goplugin.ConnInfo(service_id=1, network="tcp")
        self._release.wait(30)

    def run_to_end(self) -> tuple[list[goplugin.ConnInfo], grpc.StatusCode]:
        try:
            received = list(self.responses)
            return received, self.responses.code()
        finally:
            self._release.set()
            self._channel.close()


async def test_controller_shutdown_ends_streams_and_exits_0(plugin: PluginProcess) -> None:
    broker = GrpcioBrokerStream(plugin.address)
    await asyncio.to_thread(broker.responses.initial_metadata)
    broker_end = asyncio.ensure_future(asyncio.to_thread(broker.run_to_end))
    channel = plugin.channel()
    try:
        async with channel.request("/grpc.health.v1.Health/Watch", Cardinality.UNARY_STREAM,
                                   health.HealthCheckRequest, health.HealthCheckResponse) as watch, \
                channel.request("/plugin.GRPCStdio/StreamStdio", Cardinality.UNARY_STREAM,
                                wkt.Empty, goplugin.StdioData) as stdio:
            await watch.send_message(health.HealthCheckRequest(service="plugin"), end=True)
            await stdio.send_message(wkt.Empty(), end=True)
            assert (await watch.recv_message()).status is SERVING
            await stdio.recv_initial_metadata()
            assert not broker_end.done()
            assert await call(channel, "/plugin.GRPCController/Shutdown", goplugin.Empty(), goplugin.Empty) \
                == goplugin.Empty()
            assert (await watch.recv_message()).status is NOT_SERVING
            assert await watch.recv_message() is None
            assert await stdio.recv_message() is None
    finally:
        channel.close()
    assert await broker_end == ([], grpc.StatusCode.OK)
    assert await asyncio.to_thread(plugin.wait, 2.0) == 0, plugin.stderr_lines


async def test_sigterm_lets_a_running_hook_finish(plugin: PluginProcess, basic_dir: Path) -> None:
    channel = plugin.channel()
    try:
        request = pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/wait-for-stop"))
        pending = asyncio.ensure_future(call(channel, "ExecuteCommand", request))
        await asyncio.to_thread(plugin.wait_for_log, lambda log: log.message == "waiting for the stop")
        plugin.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(plugin.wait_for_log, lambda log: log.message == "stopping: received SIGTERM")
        status = await call(channel, HEALTH_CHECK, health.HealthCheckRequest(service="plugin"),
                            health.HealthCheckResponse)
        assert status.status is NOT_SERVING
        late = pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/late"))
        with pytest.raises(GRPCError) as refused:
            await call(channel, "ExecuteCommand", late)
        assert refused.value.status is Status.UNAVAILABLE
        (basic_dir / "stop-seen").touch()
        reply = await pending
    finally:
        channel.close()
    assert reply.response.text == "com.example.basic /wait-for-stop"
    assert await asyncio.to_thread(plugin.wait) == 0
