"""grpcio as the host: Google's gRPC stack and protobuf messages drive a real plugin process.

No code of ours sits on the host side of the wire: requests are Google protobuf messages sent by
grpcio, replies are parsed by Google's protobuf. The one session walks the go-plugin contract the
way the Go host does: handshake, health, Implemented, every unary hook once, a 10 MiB ServeHTTP
both ways, the stdio stream, and Controller Shutdown ending the process with status 0.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from all_hooks import EXPECTED, UNARY, all_hooks_source, sample_request
from google_protos import google_message_classes
from plugin_process import PluginProcess, write_plugin

from mmplugin.hooks import HOOKS
from mmplugin.proto import goplugin, health, pb, wkt
from mmplugin.wire.codec import encode
from mmplugin.wire.servehttp import CHUNK_SIZE as CHUNK

ECHO_HTTP = """
    async def serve_http(self, plugin_context, request):
        from mmplugin.http import StreamingResponse

        return StreamingResponse(request.stream(), status=201, headers=[("X-Echo", request.method)])
"""

BODY_SIZE = 10 * 1024 * 1024
SERVING = 1  # grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING


@pytest.fixture(scope="module")
def google() -> Any:
    """Betterproto class -> Google's class compiled from the same protos/."""
    return google_message_classes()


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[PluginProcess]:
    process = PluginProcess(write_plugin(tmp_path, all_hooks_source(ECHO_HTTP)))
    yield process
    process.stop()


def as_google(google: Any, message: Any) -> Any:
    """The same message as a Google protobuf object (built once from bytes; grpcio sends Google's)."""
    return google(type(message)).FromString(encode(message))


def unary(channel: grpc.Channel, google: Any, path: str, request: Any, reply_type: type) -> Any:
    method = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=google(reply_type).FromString)
    return method(as_google(google, request), timeout=20)


def http_requests(google: Any, body: bytes) -> Iterator[Any]:
    """The request as the Go host streams it: init with the first chunk, body_complete on the last."""
    request_type = google(pb.ServeHttpRequest)
    init = as_google(google, pb.ServeHttpRequestInit(
        method="PUT", url="/echo", proto="HTTP/1.1", proto_major=1, proto_minor=1,
        headers=[pb.HttpHeader(key="Content-Type", values=["application/octet-stream"])],
        host="127.0.0.1", remote_addr="127.0.0.1:5000", request_uri="/plugins/com.example.test/echo",
        content_length=len(body), plugin_context=pb.PluginContext(request_id="http-1")))
    for offset in range(0, len(body), CHUNK):
        message = request_type(body_chunk=body[offset:offset + CHUNK],
                               body_complete=offset + CHUNK >= len(body))
        if offset == 0:
            message.init.CopyFrom(init)
        yield message


def test_grpcio_host_drives_the_whole_go_plugin_contract(plugin: PluginProcess, google: Any) -> None:
    handshake = plugin.handshake()
    assert (handshake.core_version, handshake.app_version, handshake.network, handshake.protocol) == (
        1, 1, "tcp", "grpc")
    with grpc.insecure_channel(handshake.address) as channel:
        for service in ("plugin", ""):
            answer = unary(channel, google, "/grpc.health.v1.Health/Check",
                           health.HealthCheckRequest(service=service), health.HealthCheckResponse)
            assert answer.status == SERVING

        stdio = channel.unary_stream(
            "/plugin.GRPCStdio/StreamStdio", request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=google(goplugin.StdioData).FromString,
        )(google(wkt.Empty)(), timeout=60)

        implemented = unary(channel, google, "/mattermost.pluginapi.v1.PluginHooks/Implemented",
                            pb.ImplementedRequest(), pb.ImplementedResponse)
        assert list(implemented.hooks) == [hook.name for hook in HOOKS]

        for hook in UNARY:
            reply = unary(channel, google, hook.path, sample_request(hook), hook.response)
            assert reply == as_google(google, EXPECTED.get(hook.name, hook.response())), hook.name

        body = os.urandom(BODY_SIZE)
        serve_http = channel.stream_stream(
            "/mattermost.pluginapi.v1.PluginHooks/ServeHTTP", request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=google(pb.ServeHttpResponse).FromString,
        )
        first, *rest = list(serve_http(http_requests(google, body), timeout=60))
        assert first.init.status_code == 201
        assert [(h.key, list(h.values)) for h in first.init.headers if h.key == "X-Echo"] == [("X-Echo", ["PUT"])]
        assert all(len(m.body_chunk) <= CHUNK for m in rest)
        assert [m.body_complete for m in rest][-1] is True
        assert b"".join(m.body_chunk for m in rest) == body

        ended = threading.Event()

        def drain_stdio() -> None:
            for _ in stdio:  # the plugin prints nothing after its handshake; the stream only ends
                pass
            ended.set()

        reader = threading.Thread(target=drain_stdio, daemon=True)
        reader.start()
        unary(channel, google, "/plugin.GRPCController/Shutdown", goplugin.Empty(), goplugin.Empty)
        reader.join(20)
        assert ended.is_set(), "the stdio stream must end when the plugin shuts down"
        assert stdio.code() is grpc.StatusCode.OK
    assert plugin.wait() == 0
