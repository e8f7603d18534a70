"""An httpx transport that calls an ASGI app in-process and streams the response as the app sends it.

httpx's own ``ASGITransport`` returns only once the app has finished, so a server-sent event
stream that never ends never returns, and a test cannot watch events arrive. Here the response is
handed back at ``http.response.start``, its body is read chunk by chunk while the app runs, and
closing the response (leaving ``async with client.stream(...)``) tells the app that the client went
away (``http.disconnect``), as a real server does. The client's read timeout applies to the wait for
the status line and then to each chunk, as over a socket.

Example::

    transport = StreamingASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        async with client.stream("GET", "/events") as response:
            first = await anext(response.aiter_lines())
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx

from mmplugin.host.asgi import ASGIApp, Message

#: Seconds the app gets to finish after the client went away, before it is cancelled.
DISCONNECT_GRACE = 5.0
_END = object()
T = TypeVar("T")


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Serve httpx requests with ``app``; ``client`` is the caller's address as the app sees it."""

    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw_path, _, _ = request.url.raw_path.partition(b"?")
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
            "method": request.method, "scheme": request.url.scheme, "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path, "query_string": request.url.query, "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": self.client, "server": (request.url.host, request.url.port or 80),
        }
        read_timeout = request.extensions.get("timeout", {}).get("read")
        exchange = _Exchange(self.app, scope, request, read_timeout)
        status, headers = await exchange.started()
        return httpx.Response(status, headers=headers, stream=exchange, request=request)


class _Exchange(httpx.AsyncByteStream):
    """One request: the app's task, its request body, and its response body as it arrives."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], request: httpx.Request,
                 read_timeout: float | None) -> None:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        self._request = request
        self._read_timeout = read_timeout
        self._body = request.stream.__aiter__()
        self._body_done = False
        self._chunks: asyncio.Queue[object] = asyncio.Queue()
        self._start: Message | None = None
        self._started = asyncio.Event()
        self._complete = False
        self._disconnected = asyncio.Event()
        self._task = asyncio.create_task(self._run(app, scope))

    async def _run(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._receive, self._send)
        finally:
            self._chunks.put_nowait(_END)
            self._started.set()

    async def _receive(self) -> Message:
        if not self._body_done:
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        await self._disconnected.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._disconnected.is_set() or self._complete:
            return
        if message["type"] == "http.response.start":
            self._start = message
            self._started.set()
        elif message["type"] == "http.response.body":
            if message.get("body"):
                self._chunks.put_nowait(bytes(message["body"]))
            if not message.get("more_body", False):
                self._complete = True
                self._chunks.put_nowait(_END)

    async def started(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Wait for the status and headers; raises what the app raised if it failed before them."""
        await self._within_timeout(self._started.wait(), "the response to start")
        if self._start is None:
            await self.aclose()
            failure = self._task.exception() if not self._task.cancelled() else None
            if failure is not None:
                raise failure
            raise RuntimeError("the ASGI app returned without starting a response")
        return int(self._start["status"]), list(self._start.get("headers", []))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self._within_timeout(self._chunks.get(), "the next chunk")) is not _END:
            assert isinstance(chunk, bytes)
            yield chunk
        if not self._complete and self._task.done() and not self._task.cancelled():
            failure = self._task.exception()
            if failure is not None:
                raise failure

    async def _within_timeout(self, waiting: Awaitable[T], what: str) -> T:
        try:
            return await asyncio.wait_for(waiting, self._read_timeout)
        except asyncio.TimeoutError:
            await self.aclose(grace=0.0)
            raise httpx.ReadTimeout(f"waited {self._read_timeout:g} s for {what}", request=self._request) from None

    async def aclose(self, grace: float = DISCONNECT_GRACE) -> None:
        """The client is done (or gone): the app sees ``http.disconnect``, then gets ``grace`` seconds."""
        self._disconnected.set()
        if not self._task.done() and grace > 0:
            await asyncio.wait([self._task], timeout=grace)
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


__all__ = ["DISCONNECT_GRACE", "StreamingASGITransport"]
