"""Failures on either side of a ServeHTTP stream: what the host sees, what is logged, what is left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import h2.exceptions
import pytest
from grpclib.const import Status
from grpclib.exceptions import StreamTerminatedError
from http_harness import Reply, Served, call, exchange_failing_after_start, make_init, serving

from mmplugin.http import NativeHandler, Request, Response, ResponseWriter, StreamingResponse
from mmplugin.http._io import StreamBody
from mmplugin.proto import pb
from mmplugin.wire.servehttp import ClientDisconnected, RequestDecoder

pytestmark = pytest.mark.usefixtures("_capture_all_logs")


@pytest.fixture
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_logged_once(caplog: pytest.LogCaptureFixture, level: int, text: str, *, traceback: bool) -> None:
    [record] = errors(caplog)
    assert (record.name, record.levelno) == ("mmplugin.http", level)
    assert text in record.getMessage()
    assert (record.exc_info is not None) == traceback
    assert "\n" not in record.getMessage()


async def test_a_handler_raising_before_its_response_gets_a_500_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(ctx: pb.PluginContext, request: Request) -> Response:
        raise KeyError("no such thing")

    async with serving(NativeHandler(broken)) as served:
        reply = await call(served, make_init("GET", "/boom"))
    assert (reply.status, reply.body) == (500, b"Internal Server Error\n")
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert_logged_once(
        caplog, logging.ERROR, "ServeHTTP GET /boom: handler failed; answering 500", traceback=True
    )
    [record] = errors(caplog)
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError


async def test_a_handler_raising_mid_response_ends_the_stream_with_an_error_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def half(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"partial"
            raise RuntimeError("disk on fire")

        return StreamingResponse(chunks())

    received, failure = await exchange_failing_after_start(NativeHandler(half))
    assert failure.status is Status.INTERNAL
    assert failure.message == "handler failed after the response started: RuntimeError"
    assert received[1] is not None
    assert received[1].body_chunk == b"partial"
    assert not any(m is not None and m.body_complete for m in received)
    assert_logged_once(caplog, logging.ERROR, "handler failed after the response started", traceback=True)


@pytest.mark.parametrize("status", [0, 42, 1000])
async def test_an_out_of_range_status_is_an_app_error_answered_with_500(
    caplog: pytest.LogCaptureFixture, status: int
) -> None:
    async def odd(ctx: pb.PluginContext, request: Request) -> Response:
        return Response(b"", status=status)

    async with serving(NativeHandler(odd)) as served:
        reply = await call(served, make_init())
    assert reply.status == 500
    assert_logged_once(caplog, logging.ERROR, "answering 500", traceback=True)
    [record] = errors(caplog)
    assert record.exc_info is not None
    assert f"status {status} is not an integer in 100..999" in str(record.exc_info[1])


async def test_a_native_handler_returning_something_else_gets_a_500(caplog: pytest.LogCaptureFixture) -> None:
    async def wrong(ctx: pb.PluginContext, request: Request) -> Response:
        return "hello"  # type: ignore[return-value]

    async with serving(NativeHandler(wrong)) as served:
        reply = await call(served, make_init())
    assert reply.status == 500
    [record] = errors(caplog)
    assert "serve_http returned str, expected a Response or StreamingResponse" in str(record.exc_info[1])  # type: ignore[index]


async def test_a_handler_returning_without_a_response_gets_a_500(caplog: pytest.LogCaptureFixture) -> None:
    async def silent(request: Request, writer: ResponseWriter) -> None:
        pass

    async with serving(silent) as served:
        reply = await call(served, make_init("GET", "/quiet"))
    assert reply.status == 500
    assert_logged_once(
        caplog, logging.ERROR, "GET /quiet: the handler returned without a response", traceback=False
    )


async def test_returning_from_the_handler_ends_a_started_response() -> None:
    async def unfinished(request: Request, writer: ResponseWriter) -> None:
        await writer.start(202)
        await writer.write(b"accepted")

    async with serving(unfinished) as served:
        reply = await call(served, make_init())
    assert (reply.status, reply.body) == (202, b"accepted")


async def test_a_write_cut_short_resets_the_stream_instead_of_ending_it_cleanly() -> None:
    gave_up = asyncio.Event()

    async def impatient(request: Request, writer: ResponseWriter) -> None:
        await writer.start(200)
        try:  # the host reads nothing until the handler gives up: the write cannot finish
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(writer.write(b"w" * (32 * 1024 * 1024)), 0.2)
        finally:
            gave_up.set()

    async def read_everything(served: Served) -> None:
        async with served.open() as stream:
            await stream.send_message(pb.ServeHttpRequest(init=make_init(), body_complete=True), end=True)
            await asyncio.wait_for(gave_up.wait(), 20)
            async for _ in stream:
                pass

    async with serving(impatient) as served:
        with pytest.raises(StreamTerminatedError, match="reset"):
            await read_everything(served)


async def raw_exchange(served: Served, messages: list[pb.ServeHttpRequest]) -> Reply:
    async with served.open() as stream:
        if not messages:
            await stream.send_request(end=True)
        for index, message in enumerate(messages):
            await stream.send_message(message, end=index == len(messages) - 1)
        return Reply.parse([message async for message in stream])


async def read_body(ctx: pb.PluginContext, request: Request) -> Response:
    return Response(await request.body())


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([], "the request stream ended before its init message"),
        (
            [pb.ServeHttpRequest(body_chunk=b"x", body_complete=True)],
            "the first ServeHTTPRequest message carries no init",
        ),
        (
            [pb.ServeHttpRequest(init=make_init("POST")), pb.ServeHttpRequest(init=make_init("POST"))],
            "a ServeHTTPRequest message after the first carries init again",
        ),
        (
            [pb.ServeHttpRequest(init=make_init("POST"), body_chunk=b"half")],
            "the request stream ended before body_complete: body truncated",
        ),
    ],
)
async def test_malformed_request_streams_get_a_400_and_a_log_line(
    caplog: pytest.LogCaptureFixture, messages: list[pb.ServeHttpRequest], reason: str
) -> None:
    async with serving(NativeHandler(read_body)) as served:
        reply = await raw_exchange(served, messages)
    assert reply.status == 400
    assert reply.body == f"Bad Request: {reason}\n".encode()
    assert_logged_once(caplog, logging.WARNING, reason, traceback=False)


async def settle(served: Served, baseline: set[asyncio.Task[object]]) -> None:
    """Wait (bounded) until the server runs no handler and no task beyond ``baseline`` exists."""
    for _ in range(500):
        if not served.running_handlers() and asyncio.all_tasks() <= baseline:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"left behind: {asyncio.all_tasks() - baseline}, handlers {served.running_handlers()}"
    )


async def test_a_host_cancel_during_the_response_cancels_the_handler_and_leaves_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    baseline = asyncio.all_tasks()
    ticks_sent = asyncio.Event()
    closed: list[str] = []

    async def forever() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick\n"
                ticks_sent.set()
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            closed.append("cancelled")
            raise
        finally:
            closed.append("closed")

    async def ticker(ctx: pb.PluginContext, request: Request) -> StreamingResponse:
        return StreamingResponse(forever())

    async with serving(NativeHandler(ticker)) as served:
        async with served.open() as stream:
            await stream.send_message(pb.ServeHttpRequest(init=make_init(), body_complete=True), end=True)
            await stream.recv_message()
            await stream.recv_message()
            await stream.cancel()
        await settle(served, baseline)
    assert closed == ["cancelled", "closed"]
    assert errors(caplog) == []


async def test_a_host_cancel_while_the_handler_waits_for_the_body_leaves_no_read_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    baseline = asyncio.all_tasks()
    reading = asyncio.Event()
    outcome: list[str] = []

    async def patient(ctx: pb.PluginContext, request: Request) -> Response:
        reading.set()
        try:
            await request.body()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return Response(b"unreachable")

    async with serving(NativeHandler(patient)) as served:
        async with served.open() as stream:
            await stream.send_message(pb.ServeHttpRequest(init=make_init("POST"), body_chunk=b"some"))
            await asyncio.wait_for(reading.wait(), 10)
            await stream.cancel()
        await settle(served, baseline)
    assert outcome == ["cancelled"]
    assert errors(caplog) == []
    assert not [r for r in caplog.records if r.name.startswith("grpclib") and r.levelno >= logging.WARNING]


class _SlowStream:
    """Just enough of a grpclib server stream: each ``recv_message`` waits for ``release``."""

    def __init__(self, messages: list[pb.ServeHttpRequest]) -> None:
        self.messages = messages
        self.release = asyncio.Event()

    async def recv_message(self) -> pb.ServeHttpRequest | None:
        await self.release.wait()
        return self.messages.pop(0) if self.messages else None


async def test_a_body_read_cancelled_half_way_keeps_its_message_for_the_next_read() -> None:
    stream = _SlowStream([pb.ServeHttpRequest(body_chunk=b"kept", body_complete=True)])
    decoder = RequestDecoder()
    decoder.feed(pb.ServeHttpRequest(init=make_init("POST")))
    body = StreamBody(stream, decoder, b"")  # type: ignore[arg-type]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(body.read_chunk(), 0.01)
    stream.release.set()
    assert await body.read_chunk() == b"kept"
    assert await body.read_chunk() is None
    body.close()


class _CountingStream:
    """Just enough of a grpclib server stream: counts the messages taken from it."""

    def __init__(self, messages: list[pb.ServeHttpRequest]) -> None:
        self.messages = messages
        self.taken = 0

    async def recv_message(self) -> pb.ServeHttpRequest | None:
        self.taken += 1
        return self.messages.pop(0) if self.messages else None


async def test_the_body_fetches_one_message_ahead_of_the_handler_and_no_more() -> None:
    chunks = [b"c%d" % n for n in range(4)]
    stream = _CountingStream([*(pb.ServeHttpRequest(body_chunk=c) for c in chunks),
                              pb.ServeHttpRequest(body_complete=True)])
    decoder = RequestDecoder()
    decoder.feed(pb.ServeHttpRequest(init=make_init("POST")))
    body = StreamBody(stream, decoder, b"")  # type: ignore[arg-type]
    for n, chunk in enumerate(chunks):
        assert await body.read_chunk() == chunk
        for _ in range(5):
            await asyncio.sleep(0)  # turns enough for any further read-ahead to happen
        assert stream.taken == n + 2, "the chunk handed out and the next one, nothing beyond"
    assert await body.read_chunk() is None
    await asyncio.sleep(0)
    assert stream.taken == 5, "nothing is fetched after the message that completes the body"
    body.close()


async def test_a_waiting_read_resumes_the_loop_turn_after_its_message_is_read() -> None:
    stream = _SlowStream([pb.ServeHttpRequest(body_chunk=b"late", body_complete=True)])
    decoder = RequestDecoder()
    decoder.feed(pb.ServeHttpRequest(init=make_init("POST")))
    body = StreamBody(stream, decoder, b"")  # type: ignore[arg-type]
    reader = asyncio.ensure_future(body.read_chunk())
    for _ in range(3):
        await asyncio.sleep(0)
    assert not reader.done()
    stream.release.set()
    turns = 0
    while not reader.done():
        await asyncio.sleep(0)
        turns += 1
    # One turn for the read to take the message and wake the reader, one for the reader; waking
    # it through a done callback of the read (asyncio.shield, asyncio.wait) takes three.
    assert turns == 2
    assert reader.result() == b"late"
    body.close()


async def test_closing_the_body_cancels_a_read_in_flight() -> None:
    stream = _SlowStream([])
    decoder = RequestDecoder()
    decoder.feed(pb.ServeHttpRequest(init=make_init("POST")))
    body = StreamBody(stream, decoder, b"")  # type: ignore[arg-type]
    reader = asyncio.ensure_future(body.read_chunk())
    await asyncio.sleep(0)
    reader.cancel()
    reads = asyncio.all_tasks() - {asyncio.current_task(), reader}
    assert len(reads) == 1, "the read in flight outlives the cancelled reader"
    body.close()
    await asyncio.sleep(0)
    assert all(read.cancelled() for read in reads)


class _ClosedStream:
    """A stream whose peer is gone: every send fails as h2 fails it."""

    async def send_message(self, message: pb.ServeHttpResponse) -> None:
        raise h2.exceptions.StreamClosedError(1)


async def test_writing_to_a_closed_stream_raises_client_disconnected_an_oserror() -> None:
    writer = ResponseWriter(_ClosedStream())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="the host closed the ServeHTTP stream") as raised:
        await writer.start(200)
    assert isinstance(raised.value, ClientDisconnected)
    assert writer.broken
    with pytest.raises(ClientDisconnected, match="can no longer carry a response"):
        await writer.write(b"more")
