"""Peak memory of the host and the plugin while a large HTTP body streams through the host's front.

Runs ``mmplugin run examples/hello`` (uvicorn + HostFront + the hello plugin in its own process),
then, as an HTTP client on a raw socket, POSTs ``--size`` bytes (chunked transfer encoding, 64 KiB
chunks) to the plugin's ``/echo`` route while reading the echo at the same time. Peak RSS
(``VmHWM``, reset through ``/proc/<pid>/clear_refs`` once warmed up) of the host process and of
the plugin process is compared with their RSS before the transfer. Linux only.

    python benchmarks/front_memory.py              # 1 GiB
    python benchmarks/front_memory.py --size 64M   # quick run

Exits 1 when the echo is not byte-exact or either process grows by ``--limit`` (64 MiB) or more.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

from http_memory import MIB, memory_kib, parse_size, reset_peak, sample_peak
from soak import start_host

from mmplugin.wire.servehttp import CHUNK_SIZE as CHUNK

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_ID = "com.example.hello"


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


async def post_echo(port: int, size: int, block: bytes) -> tuple[int, int, bytes]:
    """POST ``size`` bytes chunked while reading the chunked echo; status, bytes echoed, digest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        writer.write(
            f"POST /plugins/{PLUGIN_ID}/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        for offset in range(0, size, len(block)):
            chunk = block[: min(len(block), size - offset)]
            writer.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        status = int((await reader.readline()).split()[1])
        headers = {}
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers.get("transfer-encoding") == "chunked", headers
        echoed, digest = 0, hashlib.blake2b()
        while length := int((await reader.readline()).split(b";")[0], 16):
            data = await reader.readexactly(length)
            await reader.readexactly(2)
            echoed += length
            digest.update(data)
        await reader.readline()
        await sender
    finally:
        sender.cancel()
        writer.close()
    return status, echoed, digest.digest()


async def run(size: int, limit_mib: float) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return await measure(size, limit_mib, Path(tmp) / "host.log")


async def measure(size: int, limit_mib: float, log: Path) -> int:
    host, url = await start_host(ROOT / "examples" / "hello", log)
    port = int(url.rsplit(":", 1)[1])
    try:
        (plugin_pid,) = child_pids(host.pid)
        block = bytes(range(256)) * (CHUNK // 256)
        expected = hashlib.blake2b()
        for offset in range(0, size, CHUNK):
            expected.update(block[: min(CHUNK, size - offset)])
        await post_echo(port, 4 * CHUNK, block)  # warm-up: lazy imports and first-connection set-up
        pids = {"host": host.pid, "plugin": plugin_pid}
        for pid in pids.values():
            reset_peak(pid)
        before = {name: memory_kib(pid)["VmRSS"] for name, pid in pids.items()}
        sampled = {name: [before[name]] for name in pids}  # a cross-check of VmHWM
        samplers = [asyncio.ensure_future(sample_peak(pid, sampled[name])) for name, pid in pids.items()]
        started = time.perf_counter()
        status, echoed, digest = await post_echo(port, size, block)
        elapsed = time.perf_counter() - started
        for sampler in samplers:
            sampler.cancel()
        peak = {name: memory_kib(pid)["VmHWM"] for name, pid in pids.items()}
    finally:
        host.terminate()
        await asyncio.wait_for(host.wait(), 30)
    exact = status == 200 and echoed == size and digest == expected.digest()
    print(f"echoed {echoed / MIB:.0f} MiB through the front (status {status}, byte-exact {exact}) "
          f"in {elapsed:.1f} s = {echoed / MIB / elapsed:.0f} MiB/s each way")
    ok = exact
    for name in pids:
        growth = (peak[name] - before[name]) / 1024
        ok = ok and growth < limit_mib
        print(f"{name} RSS: {before[name] / 1024:.1f} MiB before, peak {peak[name] / 1024:.1f} MiB "
              f"(sampled VmRSS max {sampled[name][0] / 1024:.1f} MiB); growth {growth:.1f} MiB "
              f"(limit {limit_mib:g} MiB)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=1024 * MIB, help="bytes to echo, e.g. 64M or 1G")
    parser.add_argument("--limit", type=float, default=64.0, help="allowed peak RSS growth per process in MiB")
    args = parser.parse_args()
    return asyncio.run(run(args.size, args.limit))


if __name__ == "__main__":
    sys.exit(main())
