"""Soak: a real host (``mmplugin run``) and plugin under steady mixed load; are memory and fds flat?

Starts ``mmplugin run`` on a generated plugin, then keeps ``--workers`` HTTP clients busy for
``--minutes`` with a mix of: posts through the admin endpoint (MessageWillBePosted, whose handler
dismisses them: a saved post stays in the host's in-memory store, data that would grow with the
run and hide or mimic a leak), slash commands (ExecuteCommand, a sync handler writing and reading
the KV store through the blocking API client), 256 KiB ServeHTTP echoes, 1 MiB downloads and short
server-sent event streams. Every ``--interval``
seconds it samples RSS and open file descriptors of the host and the plugin process (Linux /proc).

After the warm-up (the first fifth of the run, at least one sample), a series counts as flat when
the median of its last quarter of samples is within 10 % and 16 MiB (RSS) or 2 descriptors (fds)
of the median of its first quarter; the least-squares slope is reported too. Exits 1 on any
request error or any series that is not flat.

    python benchmarks/soak.py --minutes 10          # the full soak
    python benchmarks/soak.py --minutes 0.5         # quick check (tests/test_soak.py, marked slow)
    python benchmarks/soak.py --minutes 10 --json soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

PLUGIN_ID = "com.example.soak"
TOKEN = "soak-token"
MIB = 1024 * 1024
ECHO_SIZE = 256 * 1024
DOWNLOAD_SIZE = MIB

PLUGIN_SOURCE = '''
import asyncio

import mmplugin
from mmplugin import DISMISS_POST, Reject
from mmplugin.http import Response, StreamingResponse
from mmplugin.proto import pb


async def blocks(size):
    block = b"d" * 65536
    for _ in range(size // len(block)):
        yield block


async def events(count):
    for n in range(count):
        yield b"data: %d\\n\\n" % n
        await asyncio.sleep(0.01)


class Soak(mmplugin.Plugin):
    async def on_activate(self):
        await self.api.register_command(command=pb.Command(trigger="soak"))

    async def message_will_be_posted(self, plugin_context, post):
        if not post.message.startswith("post "):
            return Reject("unexpected post")
        return Reject(DISMISS_POST)

    def execute_command(self, plugin_context, args):
        self.sync_api.kv_set(key="last", value=args.command.encode())
        last = self.sync_api.kv_get(key="last")
        return pb.CommandResponse(text=f"{args.command} after {len(last)} bytes")

    async def serve_http(self, plugin_context, request):
        if request.path == "/echo":
            return StreamingResponse(request.stream(), flush=False)
        if request.path == "/download":
            return StreamingResponse(blocks(int(request.query["size"])), flush=False)
        if request.path == "/events":
            return StreamingResponse(events(5))
        return Response(b"not found", status=404)


mmplugin.run(Soak)
'''


@dataclass
class Sample:
    seconds: float
    requests: int
    errors: int
    host_rss_kib: int
    host_fds: int
    plugin_rss_kib: int
    plugin_fds: int


@dataclass
class Load:
    requests: int = 0
    errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)

    def done(self, kind: str, problem: str = "") -> None:
        self.requests += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if problem:
            self.errors += 1
            if len(self.first_errors) < 10:
                self.first_errors.append(f"{kind}: {problem}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def read(path: Path) -> bytes:
    return path.read_bytes()


def write_plugin(directory: Path) -> Path:
    directory.mkdir(parents=True)
    manifest = {"id": PLUGIN_ID, "name": "Soak", "version": "0.1.0",
                "server": {"executable": "plugin.py", "runtime": "python"}}
    (directory / "plugin.json").write_text(json.dumps(manifest))
    (directory / "plugin.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    return directory


async def start_host(directory: Path, log: Path) -> tuple[asyncio.subprocess.Process, str]:
    """``mmplugin run`` on ``directory``, its output in ``log``; returns it and its base URL."""
    with log.open("wb") as out:
        host = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mmplugin.cli", "run", str(directory), "--port", "0", "--token", TOKEN,
            "--python", sys.executable, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
    for _ in range(600):
        found = re.search(rb"serving on (http://127\.0\.0\.1:\d+)", read(log))
        if found:
            return host, found.group(1).decode()
        if host.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise RuntimeError(f"mmplugin run did not start serving; its output:\n{read(log).decode()}")


async def one_request(client: httpx.AsyncClient, kind: str, n: int) -> str:
    """Run one request of ``kind``; return "" if it went as expected, else what went wrong."""
    base = f"/plugins/{PLUGIN_ID}"
    if kind == "post":
        response = await client.post("/_mmplugin/posts", json={"message": f"post {n}"})
        ok = response.status_code == 200 and response.json() == {"dismissed": True}
    elif kind == "command":
        response = await client.post("/_mmplugin/commands", json={"command": f"/soak {n}"})
        results = response.json().get("results", []) if response.status_code == 200 else []
        ok = bool(results) and results[0]["error"] is None
    elif kind == "echo":
        body = bytes([n % 256]) * ECHO_SIZE
        response = await client.post(f"{base}/echo", content=body)
        ok = response.status_code == 200 and response.content == body
    elif kind == "download":
        response = await client.get(f"{base}/download", params={"size": DOWNLOAD_SIZE})
        ok = response.status_code == 200 and len(response.content) == DOWNLOAD_SIZE
    else:
        response = await client.get(f"{base}/events")
        ok = response.status_code == 200 and response.content.count(b"data:") == 5
    return "" if ok else f"HTTP {response.status_code}: {response.content[:200]!r}"


KINDS = ("post", "command", "echo", "download", "events")


async def worker(url: str, load: Load, deadline: float, index: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        n = index
        while time.monotonic() < deadline:
            kind = KINDS[n % len(KINDS)]
            try:
                problem = await one_request(client, kind, n)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            load.done(kind, problem)
            n += 1


async def sampler(pids: tuple[int, int], load: Load, interval: float, deadline: float,
                  samples: list[Sample]) -> None:
    started = time.monotonic()
    while True:
        host_pid, plugin_pid = pids
        samples.append(Sample(round(time.monotonic() - started, 1), load.requests, load.errors,
                              rss_kib(host_pid), fds(host_pid), rss_kib(plugin_pid), fds(plugin_pid)))
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def verdict(samples: list[Sample], name: str, tolerance: float) -> dict[str, Any]:
    """Flatness of one series after the warm-up; ``tolerance`` is the absolute allowance."""
    warm = samples[max(1, len(samples) // 5):]
    values = [getattr(s, name) for s in warm]
    quarter = max(1, len(values) // 4)
    early, late = statistics.median(values[:quarter]), statistics.median(values[-quarter:])
    growth = late - early
    allowed = tolerance if name.endswith("fds") else max(0.10 * early, tolerance)
    minutes = [s.seconds / 60 for s in warm]
    slope = statistics.linear_regression(minutes, values).slope if len(warm) >= 2 else 0.0
    return {"series": name, "after_warmup": early, "end": late, "growth": growth, "per_minute": round(slope, 2),
            "flat": growth <= allowed}


def report(samples: list[Sample], load: Load, minutes: float, verdicts: list[dict[str, Any]]) -> str:
    lines = [f"soak: {minutes:g} min, {load.requests} requests ({load.requests / max(minutes * 60, 1e-9):.0f}/s), "
             f"{load.errors} errors; by kind: {json.dumps(load.by_kind)}", "",
             "   time  requests errors  host RSS MiB  host fds  plugin RSS MiB  plugin fds"]
    for s in samples:
        lines.append(f"{s.seconds:7.1f} {s.requests:9d} {s.errors:6d} {s.host_rss_kib / 1024:13.1f} {s.host_fds:9d} "
                     f"{s.plugin_rss_kib / 1024:15.1f} {s.plugin_fds:11d}")
    lines.append("")
    for v in verdicts:
        unit = 1024 if "rss" in v["series"] else 1
        suffix = " MiB" if unit == 1024 else ""
        lines.append(f"{v['series']:>15}: {v['after_warmup'] / unit:.1f} -> {v['end'] / unit:.1f}{suffix} "
                     f"after warm-up ({v['per_minute'] / unit:+.2f}{suffix}/min): "
                     f"{'flat' if v['flat'] else 'GROWING'}")
    lines.extend(f"error: {e}" for e in load.first_errors)
    return "\n".join(lines)


async def soak(minutes: float, workers: int, interval: float) -> tuple[list[Sample], Load, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        host, url = await start_host(write_plugin(Path(tmp) / PLUGIN_ID), Path(tmp) / "host.log")
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                plugin_pid = (await client.get("/_mmplugin/plugins")).json()[0]["pid"]
            load = Load()
            samples: list[Sample] = []
            deadline = time.monotonic() + minutes * 60
            await asyncio.gather(sampler((host.pid, plugin_pid), load, interval, deadline, samples),
                                 *(worker(url, load, deadline, n) for n in range(workers)))
        finally:
            host.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(host.wait(), 30)
            except asyncio.TimeoutError:
                host.kill()
                await host.wait()
    verdicts = [verdict(samples, "host_rss_kib", 16 * 1024), verdict(samples, "host_fds", 2),
                verdict(samples, "plugin_rss_kib", 16 * 1024), verdict(samples, "plugin_fds", 2)]
    return samples, load, verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run the load (default 10)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP clients (default 8)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write samples and verdicts as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 120:
        parser.error("--minutes must be in (0, 120]")
    interval = min(args.interval, args.minutes * 60 / 6)  # at least six samples
    samples, load, verdicts = asyncio.run(soak(args.minutes, args.workers, interval))
    print(report(samples, load, args.minutes, verdicts))
    if args.json:
        args.json.write_text(json.dumps({"minutes": args.minutes, "requests": load.requests, "errors": load.errors,
                                         "by_kind": load.by_kind, "first_errors": load.first_errors,
                                         "samples": [asdict(s) for s in samples], "verdicts": verdicts}, indent=2))
    return 0 if load.errors == 0 and all(v["flat"] for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
