"""HTTP for plugins: the ServeHTTP hook, streamed both ways with bounded memory (SEMANTICS §3).

The host forwards every request to ``/plugins/<plugin_id>/...`` over one bidirectional gRPC
stream. :func:`serve_http_stream` turns that stream into a :class:`Request`, whose body is read
only as the handler asks for it, and a :class:`ResponseWriter`, whose bytes go to the host as they
are written. Two kinds of handler plug into it.

A plugin without a web framework writes ``serve_http`` and wraps it in :class:`NativeHandler`::

    from mmplugin.http import NativeHandler, Request, Response, StreamingResponse

    async def serve_http(ctx, request: Request) -> Response | StreamingResponse:
        if request.path == "/echo":
            return StreamingResponse(request.stream(), flush=False)
        if request.path == "/events":
            return StreamingResponse(ticks())  # every chunk flushed to the client at once
        return Response.text("hello", headers={"Cache-Control": "no-store"})

    handler = NativeHandler(serve_http)

Any ASGI 3 app (Starlette, FastAPI, ...) runs unchanged under :class:`ASGIHandler`, with
``root_path`` set to ``/plugins/<plugin_id>``::

    handler = ASGIHandler(app)

The plugin runtime answers the ServeHTTP call with
``await serve_http_stream(stream, handler, plugin_id=manifest_id)``.
"""

from mmplugin.http._asgi import ASGIApp, ASGIHandler, build_scope
from mmplugin.http._io import ResponseWriter, ServeHTTPStream
from mmplugin.http._request import BodySource, Request
from mmplugin.http._response import NativeHandler, Response, ServeHTTPFunction, StreamingResponse
from mmplugin.http._serve import HTTPHandler, serve_http_stream
from mmplugin.wire.servehttp import (
    ClientDisconnected,
    HeadersLike,
    RequestProtocolError,
    ResponseError,
    ServeHTTPError,
)

__all__ = [
    "ASGIApp",
    "ASGIHandler",
    "BodySource",
    "ClientDisconnected",
    "HTTPHandler",
    "HeadersLike",
    "NativeHandler",
    "Request",
    "RequestProtocolError",
    "Response",
    "ResponseError",
    "ResponseWriter",
    "ServeHTTPError",
    "ServeHTTPFunction",
    "ServeHTTPStream",
    "StreamingResponse",
    "build_scope",
    "serve_http_stream",
]
