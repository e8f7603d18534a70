"""The limit stack's wire: length-prefixed frames over one asyncio TCP connection, nothing else.

A frame is a 13-byte header (stream id, kind, argument, payload length; big-endian) and the
payload. Requests on one connection are told apart by stream id, as HTTP/2 streams are, so
concurrent calls share a connection the way gRPC calls do. There is no codec, no header
compression, no flow control beyond TCP's and asyncio's write buffer: whatever any gRPC stack adds
on top of this exchange of the same payload bytes is its cost. Standard library only.
"""

from __future__ import annotations

import asyncio
import enum
import json
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from workload import pieces

HEADER = struct.Struct(">IBII")
QUEUE_FRAMES = 16


class Kind(enum.IntEnum):
    SETUP = 0      # payload: JSON list of hex replies for CALL; answered by REPLY
    CALL = 1       # unary: answered by REPLY carrying replies[arg]
    REPLY = 2
    ECHO = 3       # opens an echo stream (payload: the request init)
    CHUNK = 4      # body bytes of a stream, either way
    END = 5        # end of a stream's body, either way
    DOWNLOAD = 6   # opens a download of ``arg`` bytes (payload: the request init)
    API_RUN = 7    # payload: JSON {method, calls, warmup, index, request}; answered by REPLY with timings


def frame(stream: int, kind: Kind, payload: bytes = b"", arg: int = 0) -> bytes:
    return HEADER.pack(stream, kind, arg, len(payload)) + payload


def no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    stream, kind, arg, length = HEADER.unpack(await reader.readexactly(HEADER.size))
    return stream, kind, arg, (await reader.readexactly(length) if length else b"")


class FrameClient:
    """One connection carrying concurrent calls and streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._next = 1
        self._calls: dict[int, asyncio.Future[bytes]] = {}
        self._streams: dict[int, asyncio.Queue[tuple[int, bytes]]] = {}
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, target: str) -> FrameClient:
        host, _, port = target.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        no_delay(writer)
        return cls(reader, writer)

    def _stream_id(self) -> int:
        self._next += 1
        return self._next

    async def call(self, kind: Kind, payload: bytes = b"", arg: int = 0) -> bytes:
        stream = self._stream_id()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._calls[stream] = future
        self._writer.write(frame(stream, kind, payload, arg))
        try:
            return await future
        finally:
            del self._calls[stream]

    def open_stream(self) -> tuple[int, asyncio.Queue[tuple[int, bytes]]]:
        stream = self._stream_id()
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(QUEUE_FRAMES)
        self._streams[stream] = queue
        return stream, queue

    def close_stream(self, stream: int) -> None:
        self._streams.pop(stream, None)

    async def send(self, stream: int, kind: Kind, payload: bytes = b"", arg: int = 0) -> None:
        self._writer.write(frame(stream, kind, payload, arg))
        await self._writer.drain()

    async def _read(self) -> None:
        error: BaseException = ConnectionError("connection closed")
        try:
            while True:
                stream, kind, _, payload = await read_frame(self._reader)
                if stream in self._calls:
                    self._calls[stream].set_result(payload)
                elif stream in self._streams:
                    await self._streams[stream].put((kind, payload))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            error = exc
        finally:
            for future in self._calls.values():
                if not future.done():
                    future.set_exception(error)

    async def close(self) -> None:
        self._task.cancel()
        self._writer.close()
        await asyncio.gather(self._task, return_exceptions=True)


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, replies: list[bytes],
                           api_run: Callable[[bytes], Awaitable[bytes]] | None = None) -> None:
    """Answer one connection's frames: CALLs from ``replies``, echo and download streams, API runs."""
    no_delay(writer)
    tasks: set[asyncio.Task[None]] = set()

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def download(stream: int, size: int) -> None:
        for piece in pieces(size):
            writer.write(frame(stream, Kind.CHUNK, piece))
            await writer.drain()
        writer.write(frame(stream, Kind.END))

    async def run_api(stream: int, payload: bytes) -> None:
        assert api_run is not None
        writer.write(frame(stream, Kind.REPLY, await api_run(payload)))

    try:
        while True:
            stream, kind, arg, payload = await read_frame(reader)
            if kind == Kind.CALL:
                writer.write(frame(stream, Kind.REPLY, replies[arg]))
            elif kind == Kind.CHUNK:
                writer.write(frame(stream, Kind.CHUNK, payload))
                await writer.drain()
            elif kind == Kind.END:
                writer.write(frame(stream, Kind.END))
            elif kind == Kind.SETUP:
                replies[:] = [bytes.fromhex(text) for text in json.loads(payload)]
                writer.write(frame(stream, Kind.REPLY))
            elif kind == Kind.DOWNLOAD:
                spawn(download(stream, arg))
            elif kind == Kind.API_RUN:
                spawn(run_api(stream, payload))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        writer.close()


def listener() -> socket.socket:
    """A socket on 127.0.0.1, any port, made with IPPROTO_TCP (SEMANTICS §7)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock
