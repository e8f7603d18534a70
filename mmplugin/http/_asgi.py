"""Serve any ASGI 3 application (Starlette, FastAPI, ...) through ServeHTTP, unchanged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, TypeAlias

from mmplugin.http._io import ResponseWriter
from mmplugin.http._request import Request
from mmplugin.wire.servehttp import RequestProtocolError, ResponseError

log = logging.getLogger("mmplugin.http")

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIHandler:
    """Runs an ASGI 3 app for each request (scope type ``"http"``, spec version 2.4).

    ``path`` and ``raw_path`` include ``root_path`` (``/plugins/<plugin_id>``) as the ASGI spec
    asks, so routes are declared without that prefix and ``url_for`` builds full URLs.
    ``receive()`` hands out the request body as the host sends it (``more_body`` until the last
    chunk), then waits and returns ``http.disconnect`` once the response is complete. A body event
    with ``more_body`` is flushed to the HTTP client at once, so server-sent events arrive as sent.
    When the host's client goes away the app is cancelled; a ``send()`` that finds the stream
    closed raises :class:`ClientDisconnected`, an ``OSError`` as spec 2.4 asks (2.4 also spares
    Starlette its disconnect-watching task, which under 2.3 swallows request body chunks when an
    endpoint pipes ``request.stream()`` into a ``StreamingResponse``). Lifespan events are not sent.

    >>> from starlette.applications import Starlette  # doctest: +SKIP
    >>> handler = ASGIHandler(Starlette(routes=[...]))  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, request: Request, writer: ResponseWriter) -> None:
        exchange = _Exchange(request, writer)
        await self.app(build_scope(request), exchange.receive, exchange.send)


def build_scope(request: Request) -> Scope:
    """The ASGI HTTP connection scope of ``request``."""
    headers = [(name.lower().encode(), value.encode()) for name, value in request.headers.items()]
    if request.host and "host" not in request.headers:
        headers.insert(0, (b"host", request.host.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": _http_version(request.proto_major, request.proto_minor),
        "method": request.method.upper(),
        "scheme": "http",
        "path": request.root_path + request.path,
        "raw_path": (request.root_path + request.raw_path).encode(),
        "query_string": request.query_string.encode(),
        "root_path": request.root_path,
        "headers": headers,
        "client": _address(request.remote_addr, default_port=None),
        "server": _address(request.host, default_port=80),
    }


class _Exchange:
    def __init__(self, request: Request, writer: ResponseWriter) -> None:
        self._where = f"ServeHTTP {request.method} {request.url}"
        self._body = request._source
        self._writer = writer
        self._request_done = False
        self._disconnected = False
        self._response_done = asyncio.Event()

    async def receive(self) -> Message:
        if not (self._request_done or self._disconnected or self._response_done.is_set()):
            try:
                chunk = await self._body.read_chunk()
            except RequestProtocolError as exc:
                # The host's client stopped sending half-way: to the app, the connection is gone.
                log.warning("%s: %s; the app receives http.disconnect", self._where, exc)
                self._disconnected = True
                return {"type": "http.disconnect"}
            self._request_done = chunk is None or self._body.complete
            return {"type": "http.request", "body": chunk or b"", "more_body": not self._request_done}
        if not self._disconnected:
            await self._response_done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._writer.start(message["status"], _header_pairs(message.get("headers", ())))
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if message.get("more_body", False):
                await self._writer.write(body, flush=True)
            else:
                await self._writer.end(body)
                self._response_done.set()
        else:
            raise ResponseError(f"unsupported ASGI message type {kind!r} for an http scope")


def _header_pairs(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(_header_text(name), _header_text(value)) for name, value in headers]


def _header_text(raw: bytes) -> str:
    # Header bytes cross the wire as proto strings (UTF-8): valid UTF-8 reaches the client unchanged.
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError:
        return bytes(raw).decode("latin-1")


def _http_version(major: int, minor: int) -> str:
    if major >= 2:
        return str(major)
    if major == 1 and minor in (0, 1):
        return f"1.{minor}"
    return "1.1"


def _address(text: str, *, default_port: int | None) -> tuple[str, int] | None:
    """``host:port`` (IPv6 in brackets) as an ASGI ``(host, port)`` pair, ``None`` when unparseable."""
    if not text:
        return None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or (rest and not rest.startswith(":")):
            return None
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if not port_text:
        return (host, default_port) if default_port is not None and host else None
    if not port_text.isdigit() or not host or int(port_text) > 65535:
        return None
    return host, int(port_text)
