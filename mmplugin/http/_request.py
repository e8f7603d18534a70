"""The HTTP request a handler receives, its body read from the ServeHTTP stream only on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from mmplugin.proto import pb
from mmplugin.wire.servehttp import ServeHTTPError, header_pairs


class BodySource(Protocol):
    """Where a request's body comes from: chunks as they arrive, ``None`` once it is complete."""

    @property
    def complete(self) -> bool:
        """True once the host has sent the last body bytes (they may not have been read yet)."""

    async def read_chunk(self) -> bytes | None: ...


class Request:
    """An HTTP request forwarded by the host to this plugin (``/plugins/<plugin_id>/...``).

    The body is not read before the handler runs: iterate ``request.stream()`` to get chunks as the
    host sends them (memory stays bounded, and flow control slows a fast uploader down), or
    ``await request.body()`` to collect all of it. Reading it a second time returns the same bytes
    after ``body()``, and raises after ``stream()``.

    Attributes:
        method: ``"GET"``, ``"POST"``, ...
        url: path and query as the host forwards them, without ``/plugins/<plugin_id>`` and
            without an ``access_token`` parameter, e.g. ``"/hello?x=1"``.
        raw_path: the path part of ``url``, percent-encoded as received.
        path: ``raw_path`` percent-decoded.
        query_string: the query part of ``url`` (no ``?``), and ``query`` its parsed parameters.
        headers: case-insensitive multi-valued headers (Go keeps ``Host`` out of them: see ``host``).
            The Mattermost server sets ``Mattermost-User-Id`` when the caller is logged in.
        root_path: the prefix the host removed: ``/plugins/<plugin_id>``, after the site's subpath
            when the server has one, so ``root_path + path`` is the path the client asked for.
        host: the ``Host`` the client sent; ``remote_addr``: the client's ``ip:port``.
        proto, proto_major, proto_minor: ``"HTTP/1.1"``, 1, 1 (or ``"HTTP/2.0"``, 2, 0).
        request_uri: the request target exactly as the client sent it, before the host's changes.
        content_length: the body's announced length, ``None`` when unknown.
        plugin_context: the session and request ids the host attached.
        init: the ``ServeHTTPRequestInit`` message all of the above come from.
    """

    def __init__(self, init: pb.ServeHttpRequestInit, body: BodySource, *, plugin_id: str) -> None:
        self.init = init
        self.method = init.method
        self.url = init.url
        self.raw_path, self.query_string = _split_target(init.url)
        self.path = unquote(self.raw_path)
        self.query: MultiDictProxy[str] = MultiDictProxy(
            MultiDict(parse_qsl(self.query_string, keep_blank_values=True))
        )
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(header_pairs(init.headers)))
        self.host = init.host
        self.remote_addr = init.remote_addr
        self.proto = init.proto
        self.proto_major = init.proto_major
        self.proto_minor = init.proto_minor
        self.request_uri = init.request_uri
        self.content_length: int | None = init.content_length if init.content_length >= 0 else None
        self.plugin_context = init.plugin_context or pb.PluginContext()
        self.root_path = _root_path(init, self.raw_path, plugin_id)
        self._source = body
        self._body: bytes | None = None
        self._streamed = False

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"

    def stream(self) -> AsyncIterator[bytes]:
        """The body's chunks (never empty ones) as they arrive from the host."""
        if self._body is not None:
            return _Replay(self._body)
        if self._streamed:
            raise ServeHTTPError("the request body was already read with stream()")
        self._streamed = True
        return _Chunks(self._source)

    async def body(self) -> bytes:
        """The whole body, read once and kept."""
        if self._body is None:
            self._body = b"".join([chunk async for chunk in self.stream()])
        return self._body


class _Chunks(AsyncIterator[bytes]):
    # A class rather than an async generator: one abandoned half-way needs no finalizer task.
    def __init__(self, source: BodySource) -> None:
        self._source = source

    async def __anext__(self) -> bytes:
        chunk = await self._source.read_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk


class _Replay(AsyncIterator[bytes]):
    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body or None

    async def __anext__(self) -> bytes:
        if self._body is None:
            raise StopAsyncIteration
        body, self._body = self._body, None
        return body


def _split_target(url: str) -> tuple[str, str]:
    """Path and query of the forwarded URL (Go sends an absolute URL for absolute-form requests)."""
    if url.startswith("/"):
        path, _, query = url.partition("?")
        return path, query
    parts = urlsplit(url)
    return parts.path or "/", parts.query


def _root_path(init: pb.ServeHttpRequestInit, raw_path: str, plugin_id: str) -> str:
    mount = f"/plugins/{plugin_id}"
    original = _split_target(init.request_uri)[0] if init.request_uri else ""
    if original.endswith(raw_path):
        prefix = original[: len(original) - len(raw_path)]
        if prefix.endswith(mount):
            return unquote(prefix)
    return mount
