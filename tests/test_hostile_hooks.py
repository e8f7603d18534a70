"""Hostile input to a real plugin process: random valid requests for every hook, then corrupted and
mis-framed bytes sent raw over HTTP/2. Each call gets a response or an error status (INTERNAL for
what does not decode or ends mid-message), nothing reaches grpclib's traceback logging, and the
plugin keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpclib.const import Status
from hypothesis import given, settings
from hypothesis import strategies as st
from plugin_process import PluginProcess, write_plugin
from raw_h2 import grpc_frame, raw_call
from strategies import PROPERTY_SETTINGS, messages

from mmplugin.hooks import HOOKS, HOOKS_BY_NAME, Hook
from mmplugin.proto import health, pb
from mmplugin.wire.codec import decode, encode

FUZZ = settings(PROPERTY_SETTINGS, max_examples=120)
UNARY = [hook for hook in HOOKS if not hook.streaming]
SERVE_HTTP = HOOKS_BY_NAME["ServeHTTP"]
SERVING = health.HealthCheckResponseServingStatus.SERVING

# Every hook has a handler (sync and async alternate) that sends back its first argument other
# than the plugin context: sometimes the result the hook expects, sometimes a type it refuses.
HANDLER = """
    {kind}def {method}(self, *args):
        return echo(args)
"""
PLUGIN = """
import mmplugin
from mmplugin.http import Response
from mmplugin.proto import pb


def echo(args):
    return next((arg for arg in args if arg is not None and not isinstance(arg, pb.PluginContext)), None)


class Fuzzed(mmplugin.Plugin):
    hook_timeout = 10.0

    async def serve_http(self, plugin_context, request):
        body = await request.body()
        return Response(b"%s %s %d" % (request.method.encode(), request.path.encode(), len(body)))
{handlers}

mmplugin.run(Fuzzed)
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginProcess]:
    handlers = "".join(HANDLER.format(kind="async " if n % 2 else "", method=hook.method)
                       for n, hook in enumerate(UNARY))
    process = PluginProcess(write_plugin(tmp_path_factory.mktemp("fuzzed"), PLUGIN.format(handlers=handlers)))
    process.handshake()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def channel(plugin: PluginProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(plugin.address) as foreign:
        yield foreign


def grpcio_raw(channel: grpc.Channel, hook: Hook, data: bytes) -> Any:
    """Send ``data`` as the request message bytes through grpcio (Google's client)."""
    method = channel.unary_unary(hook.path, request_serializer=None,
                                 response_deserializer=lambda reply: decode(hook.response, reply))
    return method(data, timeout=20)


def corrupt(data: st.DataObject, wire: bytes) -> bytes:
    damaged = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4), label="corruptions")):
        position = data.draw(st.integers(0, max(len(damaged) - 1, 0)))
        damaged[position:position + data.draw(st.integers(0, 2))] = data.draw(st.binary(max_size=3))
    return bytes(damaged)


def assert_still_serving(plugin: PluginProcess, channel: grpc.Channel) -> None:
    """Health SERVING, a normal call answered, and no traceback from grpclib in the log."""
    check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=encode,
                                response_deserializer=lambda reply: decode(health.HealthCheckResponse, reply))
    assert check(health.HealthCheckRequest(service="plugin"), timeout=20).status is SERVING
    hook = HOOKS_BY_NAME["ExecuteCommand"]
    reply = grpcio_raw(channel, hook, encode(pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/x"))))
    assert reply.error is not None  # echo sent back the CommandArgs: a wrong result is a negative answer
    assert plugin.proc.poll() is None
    assert not {"Application error", "Server error"} & {log.message for log in plugin.logs()}


# Each test runs its examples inside, then checks the plugin (pytest-xdist may split the module).

def test_random_valid_requests_get_responses(plugin: PluginProcess, channel: grpc.Channel) -> None:
    @FUZZ
    @given(data=st.data())
    def answered(data: st.DataObject) -> None:
        hook = data.draw(st.sampled_from(UNARY), label="hook")
        request = data.draw(messages(hook.request), label="request")
        assert isinstance(grpcio_raw(channel, hook, encode(request)), hook.response)

    answered()
    assert_still_serving(plugin, channel)


def test_random_valid_servehttp_streams_get_an_http_answer(plugin: PluginProcess, channel: grpc.Channel) -> None:
    @FUZZ
    @given(requests=st.lists(messages(pb.ServeHttpRequest), max_size=4))
    def answered(requests: list[pb.ServeHttpRequest]) -> None:
        reply = raw_call(plugin.address, SERVE_HTTP.path, [grpc_frame(encode(r)) for r in requests])
        assert reply.status == Status.OK.value, reply
        first = decode(pb.ServeHttpResponse, reply.data[5:5 + int.from_bytes(reply.data[1:5], "big")])
        assert first.init is not None
        assert first.init.status_code in (200, 400)

    answered()
    assert_still_serving(plugin, channel)


def test_corrupted_requests_get_a_response_or_internal(plugin: PluginProcess, channel: grpc.Channel) -> None:
    @FUZZ
    @given(data=st.data())
    def answered(data: st.DataObject) -> None:
        hook = data.draw(st.sampled_from(UNARY), label="hook")
        wire = corrupt(data, encode(data.draw(messages(hook.request), label="request")))
        try:
            response: Any = grpcio_raw(channel, hook, wire)
        except grpc.RpcError as exc:
            response = exc
        if isinstance(response, grpc.RpcError):
            assert response.code() is grpc.StatusCode.INTERNAL, response
            assert response.details().startswith(f"cannot decode {hook.request.__name__}")
        else:
            assert isinstance(response, hook.response)

    answered()
    assert_still_serving(plugin, channel)
    assert any(log.message.startswith("refused an undecodable gRPC message") for log in plugin.logs())


# What each way of mis-framing a message must be answered with (grpc-status values).
FRAMINGS: dict[str, set[int]] = {
    "exact": {Status.OK.value, Status.INTERNAL.value},
    "two messages": {Status.OK.value, Status.INTERNAL.value},  # a unary call reads the first one
    "announces more": {Status.INTERNAL.value},
    "half a prefix": {Status.INTERNAL.value},
    "compressed": {Status.UNIMPLEMENTED.value},
    "no message": {Status.INVALID_ARGUMENT.value},
}


def framed(framing: str, wire: bytes, extra: int) -> list[bytes]:
    if framing == "exact":
        return [grpc_frame(wire)]
    if framing == "two messages":
        return [grpc_frame(wire), grpc_frame(wire)]
    if framing == "announces more":
        return [grpc_frame(wire, length=len(wire) + extra)]
    if framing == "half a prefix":
        return [grpc_frame(wire)[:extra % 4 + 1]]
    if framing == "compressed":
        return [b"\x01" + grpc_frame(wire)[1:]]
    return []


def test_mis_framed_requests_sent_raw(plugin: PluginProcess, channel: grpc.Channel) -> None:
    @FUZZ
    @given(data=st.data())
    def answered(data: st.DataObject) -> None:
        hook = data.draw(st.sampled_from([*UNARY, SERVE_HTTP]), label="hook")
        framing = data.draw(st.sampled_from(sorted(FRAMINGS)), label="framing")
        wire = encode(data.draw(messages(hook.request), label="request"))
        if data.draw(st.booleans(), label="corrupted"):
            wire = corrupt(data, wire)
        reply = raw_call(plugin.address, hook.path, framed(framing, wire, data.draw(st.integers(1, 1000))))
        expected = FRAMINGS[framing]
        if hook is SERVE_HTTP and framing in ("no message", "two messages"):
            expected = {Status.OK.value, Status.INTERNAL.value}  # a stream: an HTTP 400, or a second part
        assert reply.status in expected, reply

    answered()
    assert_still_serving(plugin, channel)
