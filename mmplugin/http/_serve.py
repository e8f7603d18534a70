"""Serve one ServeHTTP stream: build the request, run the handler, map its failures (SEMANTICS §3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from grpclib.const import Status
from grpclib.exceptions import ProtocolError as GrpclibProtocolError

from mmplugin.http._io import _TRANSPORT_ERRORS, ResponseWriter, ServeHTTPStream, StreamBody
from mmplugin.http._request import Request
from mmplugin.wire.servehttp import ClientDisconnected, RequestDecoder, RequestProtocolError

log = logging.getLogger("mmplugin.http")

HTTPHandler: TypeAlias = Callable[[Request, ResponseWriter], Awaitable[None]]
"""What :func:`serve_http_stream` runs: reads a :class:`Request`, answers through a :class:`ResponseWriter`.

:class:`NativeHandler` and :class:`ASGIHandler` are both of this shape.
"""


async def serve_http_stream(stream: ServeHTTPStream, handler: HTTPHandler, *, plugin_id: str) -> None:
    """Answer one ``/mattermost.pluginapi.v1.PluginHooks/ServeHTTP`` call with ``handler``.

    ``stream`` is the grpclib server stream of that bidirectional call; ``plugin_id`` (from
    ``plugin.json``) gives the request its ``root_path``. The handler starts as soon as the init
    message is in, reads the body as it arrives and sends its response as it writes it, in either
    order. Never raises except :class:`asyncio.CancelledError` when the host cancels the stream,
    which cancels the handler.

    Failures: a malformed request stream is answered with 400; a handler that raises before its
    response started gets a 500 with a short text body; one that raises later ends the gRPC stream
    with status INTERNAL (the host can only log it), and a send cut short (a timeout around a
    write) resets the stream. Each failure is logged once on ``mmplugin.http``.
    """
    decoder = RequestDecoder()
    writer = ResponseWriter(stream)
    try:
        first_chunk = decoder.feed(await stream.recv_message())
    except RequestProtocolError as exc:
        log.warning("ServeHTTP: malformed request stream: %s; answering 400", exc)
        await _answer_plainly(writer, 400, f"Bad Request: {exc}\n")
        return
    assert decoder.init is not None  # feed() raised unless the first message had it
    body = StreamBody(stream, decoder, first_chunk)
    request = Request(decoder.init, body, plugin_id=plugin_id)
    try:
        await handler(request, writer)
        if not writer.started:
            log.error(
                "ServeHTTP %s %s: the handler returned without a response; answering 500",
                request.method,
                request.url,
            )
            await _answer_plainly(writer, 500, "Internal Server Error\n")
        elif not writer.ended:
            await writer.end()
    except asyncio.CancelledError:
        log.debug("ServeHTTP %s %s: cancelled, the host closed the stream", request.method, request.url)
        raise
    except ClientDisconnected as exc:
        log.debug("ServeHTTP %s %s: response cut short: %s", request.method, request.url, exc)
    except Exception as exc:
        await _fail(stream, writer, request, exc)
    finally:
        body.close()
    if writer.broken:
        # Part of a message may be on the wire: reset rather than let grpclib send an OK status.
        with contextlib.suppress(*_TRANSPORT_ERRORS, GrpclibProtocolError):
            await stream.cancel()


async def _fail(stream: ServeHTTPStream, writer: ResponseWriter, request: Request, exc: Exception) -> None:
    where = f"ServeHTTP {request.method} {request.url}"
    if writer.started:
        log.error("%s: handler failed after the response started; ending the stream", where, exc_info=exc)
        if not writer.broken:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await stream.send_trailing_metadata(
                    status=Status.INTERNAL,
                    status_message=f"handler failed after the response started: {type(exc).__name__}",
                )
    elif isinstance(exc, RequestProtocolError):
        log.warning("%s: malformed request stream: %s; answering 400", where, exc)
        await _answer_plainly(writer, 400, f"Bad Request: {exc}\n")
    else:
        log.error("%s: handler failed; answering 500", where, exc_info=exc)
        await _answer_plainly(writer, 500, "Internal Server Error\n")


async def _answer_plainly(writer: ResponseWriter, status: int, text: str) -> None:
    body = text.encode()
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
    try:
        await writer.start(status, headers)
        await writer.end(body)
    except ClientDisconnected:
        pass
