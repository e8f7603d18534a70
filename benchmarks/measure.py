"""Measurement loops shared by every stack, so all of them are timed by the same code.

Used by the host-side drivers and by the benchmark plugins (the API workload is timed inside the
plugin process). Only the standard library: importing this adds nothing to a plugin's cold start
beyond the first API workload.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

Call = Callable[[], Awaitable[object]]


@dataclass
class Timed:
    """Latencies of the measured calls (seconds) and the wall time of the whole measured phase."""

    samples: list[float]
    elapsed: float

    def as_json(self) -> dict[str, object]:
        return {"samples": self.samples, "elapsed": self.elapsed}


async def _run(call: Call, calls: int, concurrency: int) -> Timed:
    if calls < 1 or concurrency < 1:
        raise ValueError(f"need at least one call and one worker, got {calls} calls at {concurrency}")
    workers = min(concurrency, calls)
    shares = [calls // workers + (1 if i < calls % workers else 0) for i in range(workers)]
    samples: list[float] = []
    clock = time.perf_counter

    async def worker(count: int) -> None:
        for _ in range(count):
            started = clock()
            await call()
            samples.append(clock() - started)

    started = clock()
    await asyncio.gather(*(worker(share) for share in shares))
    return Timed(samples, clock() - started)


async def measure_calls(call: Call, calls: int, warmup: int, concurrency: int) -> Timed:
    """Time ``calls`` awaits of ``call()`` made by ``concurrency`` workers, after ``warmup`` untimed ones."""
    if warmup:
        await _run(call, warmup, concurrency)
    return await _run(call, calls, concurrency)


def time_ops(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of a synchronous ``operation``, run in batches for about ``seconds``."""
    clock = time.perf_counter
    batch, done, spent = 1, 0, 0.0
    while spent < seconds:
        started = clock()
        for _ in range(batch):
            operation()
        spent += clock() - started
        done += batch
        batch = min(batch * 2, 1 << 16)
    return done / spent


# --- process memory (Linux /proc; None elsewhere) --------------------------------------------------

def _status_kib(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def rss_bytes(pid: int) -> int | None:
    """Resident memory of process ``pid`` now."""
    kib = _status_kib(pid, "VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes(pid: int) -> int | None:
    """Peak resident memory of ``pid`` since it started or since :func:`reset_peak_rss`."""
    kib = _status_kib(pid, "VmHWM")
    return None if kib is None else kib * 1024


def reset_peak_rss(pid: int) -> bool:
    """Restart the peak-RSS count of ``pid`` from its current RSS; False where the kernel can't."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
