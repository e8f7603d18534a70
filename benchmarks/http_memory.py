"""Peak memory of a plugin streaming a large ServeHTTP echo: does it stay bounded?

Starts a plugin-side grpclib server (ServeHTTP only, ``mmplugin.http`` echo handler) in a
subprocess, then acts as the host: streams ``--size`` bytes through it in 64 KiB messages while
reading the echo concurrently. The plugin process's peak RSS (``VmHWM``, reset through
``/proc/<pid>/clear_refs`` once it is serving, so startup peaks do not hide the transfer's) is
compared with its RSS before the transfer. Linux only.

    python benchmarks/http_memory.py                      # 1 GiB, reader at full speed
    python benchmarks/http_memory.py --size 64M           # quick run
    python benchmarks/http_memory.py --size 256M --reader-delay-ms 2   # a slow HTTP client
    python benchmarks/http_memory.py --size 256M --buffered   # control: buffering shows up here

Exits 1 when the growth reaches ``--limit`` (64 MiB by default).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import hashlib
import socket
import sys
import time
from collections.abc import AsyncIterator

from grpclib.client import Channel
from grpclib.const import Cardinality, Handler
from grpclib.server import Server

from mmplugin.http import (
    NativeHandler,
    Request,
    Response,
    ServeHTTPStream,
    StreamingResponse,
    serve_http_stream,
)
from mmplugin.proto import pb
from mmplugin.wire.codec import MessageCodec
from mmplugin.wire.servehttp import CHUNK_SIZE

SERVE_HTTP = "/mattermost.pluginapi.v1.PluginHooks/ServeHTTP"
MIB = 1024 * 1024


# --- the plugin process ---------------------------------------------------------------------------


async def echo(ctx: pb.PluginContext, request: Request) -> Response | StreamingResponse:
    if request.path == "/trim":  # hand free heap pages back, so reused free memory cannot hide growth
        gc.collect()
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
        if trim is not None:
            trim(0)
        return Response()
    if request.path == "/buffered":  # the control: what buffering the whole body costs
        return Response(await request.body())
    return StreamingResponse(request.stream(), flush=False)


class ServeHTTPOnly:
    def __init__(self) -> None:
        self.handler = NativeHandler(echo)

    async def serve(self, stream: ServeHTTPStream) -> None:
        await serve_http_stream(stream, self.handler, plugin_id="bench")

    def __mapping__(self) -> dict[str, Handler]:
        return {
            SERVE_HTTP: Handler(
                self.serve, Cardinality.STREAM_STREAM, pb.ServeHttpRequest, pb.ServeHttpResponse
            )
        }


async def run_plugin() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = Server([ServeHTTPOnly()], codec=MessageCodec())
    await server.start(sock=sock)
    print(sock.getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the host closes stdin
    server.close()
    await server.wait_closed()


# --- the host side --------------------------------------------------------------------------------


async def exchange(
    channel: Channel, url: str, chunks: AsyncIterator[bytes], reader_delay: float
) -> tuple[int, int, bytes]:
    """Send a request with the given body chunks; return status, echoed size and digest of the echo."""
    init = pb.ServeHttpRequestInit(
        method="POST", url=url, proto="HTTP/1.1", proto_major=1, proto_minor=1, content_length=-1
    )
    async with channel.request(
        SERVE_HTTP, Cardinality.STREAM_STREAM, pb.ServeHttpRequest, pb.ServeHttpResponse
    ) as stream:
        await stream.send_message(pb.ServeHttpRequest(init=init))

        async def send_body() -> None:
            async for chunk in chunks:
                await stream.send_message(pb.ServeHttpRequest(body_chunk=chunk))
            await stream.send_message(pb.ServeHttpRequest(body_complete=True), end=True)

        sender = asyncio.ensure_future(send_body())
        try:
            status, size, digest = 0, 0, hashlib.blake2b()
            async for message in stream:
                if message.init is not None:
                    status = message.init.status_code
                size += len(message.body_chunk)
                digest.update(message.body_chunk)
                if reader_delay:
                    await asyncio.sleep(reader_delay)
            await sender
        finally:
            sender.cancel()
    return status, size, digest.digest()


async def body_of(size: int, block: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, size, len(block)):
        yield block[: min(len(block), size - offset)]


def memory_kib(pid: int) -> dict[str, int]:
    """Current (``VmRSS``) and peak (``VmHWM``) resident memory of a process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> None:
    """Make ``VmHWM`` start again from the current RSS (Linux >= 4.0), so startup peaks don't hide ours."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


async def sample_peak(pid: int, peak: list[int]) -> None:
    """Poll ``VmRSS`` (a cross-check of ``VmHWM``) until cancelled."""
    while True:
        peak[0] = max(peak[0], memory_kib(pid)["VmRSS"])
        await asyncio.sleep(0.01)


async def run_host(size: int, reader_delay: float, limit_mib: float, url: str) -> int:
    plugin = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--plugin", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert plugin.stdout is not None
        port = int(await plugin.stdout.readline())
        channel = Channel("127.0.0.1", port, codec=MessageCodec())
        try:
            block = bytes(range(256)) * (CHUNK_SIZE // 256)
            expected = hashlib.blake2b()
            for offset in range(0, size, CHUNK_SIZE):
                expected.update(block[: min(CHUNK_SIZE, size - offset)])
            await exchange(channel, "/echo", body_of(CHUNK_SIZE, block), 0)  # first call: lazy imports
            await exchange(channel, "/trim", body_of(0, block), 0)
            reset_peak(plugin.pid)
            baseline = memory_kib(plugin.pid)["VmRSS"]
            sampled = [baseline]
            sampler = asyncio.ensure_future(sample_peak(plugin.pid, sampled))
            started = time.perf_counter()
            status, echoed, digest = await exchange(channel, url, body_of(size, block), reader_delay)
            elapsed = time.perf_counter() - started
            sampler.cancel()
            peak = memory_kib(plugin.pid)["VmHWM"]
        finally:
            channel.close()
    finally:
        if plugin.stdin is not None:
            plugin.stdin.close()
        await asyncio.wait_for(plugin.wait(), 30)
    growth_mib = (peak - baseline) / 1024
    ok = status == 200 and echoed == size and digest == expected.digest() and growth_mib < limit_mib
    print(
        f"echoed {echoed / MIB:.0f} MiB (status {status}, byte-exact {digest == expected.digest()}) "
        f"in {elapsed:.1f} s = {echoed / MIB / elapsed:.0f} MiB/s each way, "
        f"reader delay {reader_delay * 1000:g} ms"
    )
    print(
        f"plugin RSS: {baseline / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB during the transfer "
        f"(sampled VmRSS max {sampled[0] / 1024:.1f} MiB); growth {growth_mib:.1f} MiB "
        f"(limit {limit_mib:g} MiB): {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": 1024 * MIB}
    suffix = text[-1:].upper()
    return int(float(text[:-1]) * units[suffix]) if suffix in units else int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=1024 * MIB, help="bytes to echo, e.g. 64M or 1G")
    parser.add_argument(
        "--reader-delay-ms", type=float, default=0.0, help="host pause after each response message"
    )
    parser.add_argument("--limit", type=float, default=64.0, help="allowed peak RSS growth in MiB")
    parser.add_argument(
        "--buffered", action="store_true", help="control run: the plugin reads the whole body, then answers"
    )
    parser.add_argument("--plugin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plugin:
        asyncio.run(run_plugin())
        return 0
    url = "/buffered" if args.buffered else "/echo"
    return asyncio.run(run_host(args.size, args.reader_delay_ms / 1000, args.limit, url))


if __name__ == "__main__":
    sys.exit(main())
