"""Responses for plugins that use no web framework, and the handler that sends them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, TypeAlias

from multidict import CIMultiDict

from mmplugin.http._io import ResponseWriter
from mmplugin.http._request import Request
from mmplugin.proto import pb
from mmplugin.wire.servehttp import HeadersLike, ResponseError

_NO_BODY_STATUSES = frozenset({204, 304})


class Response:
    """A response whose body is known in full: ``Response(b"hello", status=200, headers={...})``.

    ``Content-Length`` is added unless given (or the status forbids a body).
    """

    def __init__(self, body: bytes = b"", status: int = 200, headers: HeadersLike = ()) -> None:
        self.body = body
        self.status = status
        self.headers: CIMultiDict[str] = CIMultiDict(headers)
        if not (status < 200 or status in _NO_BODY_STATUSES) and "Content-Length" not in self.headers:
            self.headers["Content-Length"] = str(len(body))

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeadersLike = ()) -> Response:
        """A ``text/plain; charset=utf-8`` response."""
        merged = CIMultiDict(headers)
        merged.setdefault("Content-Type", "text/plain; charset=utf-8")
        return cls(text.encode(), status, merged)

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: HeadersLike = ()) -> Response:
        """An ``application/json`` response holding ``json.dumps(value)``."""
        merged = CIMultiDict(headers)
        merged.setdefault("Content-Type", "application/json")
        return cls(json.dumps(value).encode(), status, merged)

    async def write_to(self, writer: ResponseWriter) -> None:
        await writer.start(self.status, self.headers)
        await writer.end(self.body)


class StreamingResponse:
    """A response whose body comes from an async iterable, sent chunk by chunk as it is produced.

    With ``flush=True`` (the default) every chunk is flushed to the HTTP client when it is sent,
    which is what server-sent events and long polling need; yield ``b""`` to flush the headers
    before the first real chunk. Pass ``flush=False`` for bulk data to let the host batch writes.
    The iterable is closed (``aclose``) when the response ends, fails or is cancelled.
    """

    def __init__(
        self,
        content: AsyncIterable[bytes],
        status: int = 200,
        headers: HeadersLike = (),
        *,
        flush: bool = True,
    ) -> None:
        self.content = content
        self.status = status
        self.headers: CIMultiDict[str] = CIMultiDict(headers)
        self.flush = flush

    async def write_to(self, writer: ResponseWriter) -> None:
        await writer.start(self.status, self.headers)
        chunks = aiter(self.content)
        try:
            async for chunk in chunks:
                await writer.write(chunk, flush=self.flush)
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        await writer.end()


# A string, so that importing mmplugin.http creates no message class.
ServeHTTPFunction: TypeAlias = "Callable[[pb.PluginContext, Request], Awaitable[Response | StreamingResponse]]"
"""A plugin's ``async def serve_http(ctx, request) -> Response | StreamingResponse``."""


class NativeHandler:
    """Runs a :data:`ServeHTTPFunction` and sends the response it returns.

    >>> async def serve_http(ctx: pb.PluginContext, request: Request) -> Response:
    ...     return Response.text(f"hello {request.headers.get('Mattermost-User-Id', 'stranger')}")
    >>> handler = NativeHandler(serve_http)
    """

    def __init__(self, function: ServeHTTPFunction) -> None:
        self.function = function

    async def __call__(self, request: Request, writer: ResponseWriter) -> None:
        response = await self.function(request.plugin_context, request)
        if not isinstance(response, Response | StreamingResponse):
            raise ResponseError(
                f"serve_http returned {type(response).__name__}, expected a Response or StreamingResponse"
            )
        await response.write_to(writer)
