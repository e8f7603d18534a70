"""The host's HTTP front: an ASGI app routing ``/plugins/<id>/...`` to that plugin's ServeHTTP.

Request bodies stream from ASGI ``receive`` to the plugin, responses stream back chunk by chunk as
they arrive. When the HTTP client disconnects, the plugin's stream is cancelled. Unknown plugins,
stopped plugins and plugins without ServeHTTP get a 404 from the host itself. Paths under
``/_mmplugin/`` go to the optional ``admin`` app; ``/metrics`` answers a Prometheus scrape of the
host's metrics (:mod:`mmplugin.host.exporter`), from a registry of this front's own.

Serve it with any ASGI server, e.g. ``uvicorn.run(HostFront(env, TokenAuth({...})), port=8065)``.
"""

from __future__ import annotations

import asyncio
import logging
import re

from mmplugin.host.adapter import HooksAdapter
from mmplugin.host.asgi import ASGIApp, Receive, Scope, Send, respond
from mmplugin.host.environment import Environment
from mmplugin.host.exporter import metrics_app, metrics_registry
from mmplugin.host.routing import IncomingRequest, TokenAuth, build_request_init, split_plugin_path
from mmplugin.proto import pb

ADMIN_PREFIX = "/_mmplugin/"
METRICS_PATH = "/metrics"
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

logger = logging.getLogger("mmplugin.host.front")


class HostFront:
    """ASGI application: plugin HTTP routes, ``admin`` under ``/_mmplugin/``, and ``/metrics``."""

    def __init__(self, env: Environment, auth: TokenAuth | None = None, admin: ASGIApp | None = None) -> None:
        self.env = env
        self.auth = auth or TokenAuth()
        self.admin = admin
        self.registry = metrics_registry(env.metrics)
        """The ``prometheus_client`` registry ``/metrics`` serves."""
        self._metrics = metrics_app(self.registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if self.admin is not None and raw_path.startswith(ADMIN_PREFIX):
            await self.admin(scope, receive, send)
            return
        if raw_path == METRICS_PATH:
            await self._metrics(scope, receive, send)
            return
        routed = split_plugin_path(raw_path)
        hooks = self.env.hooks_for_plugin(routed[0]) if routed else None
        if routed is None or hooks is None:
            await respond(send, 404, b"404 page not found\n")
            return
        request = _incoming(scope, raw_path)
        user_id = self.auth.user_for(request.header_map(), request.query)
        init = build_request_init(request, routed[1], user_id)
        await _serve(hooks, init, request.has_body, receive, send)


def _incoming(scope: Scope, raw_path: str) -> IncomingRequest:
    client = scope.get("client")
    server = scope.get("server")
    return IncomingRequest(
        method=scope["method"], raw_path=raw_path, query=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])],
        http_version=scope.get("http_version", "1.1"),
        client=f"{client[0]}:{client[1]}" if client else "",
        server_host=f"{server[0]}:{server[1]}" if server else "")


async def _serve(hooks: HooksAdapter, init: pb.ServeHttpRequestInit, has_body: bool, receive: Receive,
                 send: Send) -> None:
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
    sink = _AsgiSink(send)
    serve = asyncio.create_task(hooks.serve_http(init, _QueueBody(chunks) if has_body else None, sink))
    pump = asyncio.create_task(_pump(receive, chunks, serve, has_body))
    try:
        await asyncio.wait([serve])
    finally:
        serve.cancel()
        pump.cancel()
        await asyncio.gather(serve, pump, return_exceptions=True)
    if serve.cancelled():
        logger.debug("plugin %s: HTTP client went away; ServeHTTP cancelled", hooks.plugin_id)
        return
    failure = serve.exception()
    if failure is not None:
        logger.error("plugin %s: ServeHTTP failed: %r", hooks.plugin_id, failure)
        if not sink.started:
            await respond(send, 500, b"500 internal server error\n")
        return
    await sink.finish()


async def _pump(receive: Receive, chunks: asyncio.Queue[bytes | None], serve: asyncio.Task[int],
                has_body: bool) -> None:
    """Feed the request body to the plugin, then watch for the client going away."""
    more = has_body
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            serve.cancel()
            return
        if more:
            if message.get("body"):
                await chunks.put(message["body"])
            if not message.get("more_body", False):
                await chunks.put(None)
                more = False


class _QueueBody:
    """The request body as an async iterator over the chunks the pump receives."""

    def __init__(self, chunks: asyncio.Queue[bytes | None]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> _QueueBody:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.get()
        if chunk is None:
            raise StopAsyncIteration
        return chunk


class _AsgiSink:
    """Writes the plugin's response to ASGI ``send`` as it arrives."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.started = True
        if status > 599:  # valid for Mattermost (SEMANTICS §3), but HTTP servers such as uvicorn stop at 599
            logger.error("plugin answered status %d, which this HTTP server cannot send; answering 500", status)
            status = 500
        encoded = []
        for name, value in headers:
            if not _HEADER_NAME.match(name) or _BAD_VALUE.search(value):
                logger.warning("dropping invalid response header %r from the plugin", name)
                continue
            encoded.append((name.lower().encode("latin-1"), value.encode("utf-8")))
        await self._send({"type": "http.response.start", "status": status, "headers": encoded})

    async def write(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self) -> None:
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


__all__ = ["ADMIN_PREFIX", "METRICS_PATH", "HostFront"]
