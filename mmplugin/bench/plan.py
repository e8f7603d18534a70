"""What the benchmark measures, as data: stacks, metrics, workloads, cases and run profiles.

The runner walks :func:`cases` and sends each case's ``command`` to every stack's driver; the
case's ``extract`` turns one repetition's raw driver answer into its figures. Adding a case is one
entry here (plus the driver op, if new).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mmplugin.bench.stats import latency_figures

KIB = 1024
MIB = 1024 * KIB

Raw = Mapping[str, Any]
"""One repetition's answer from a driver (see benchmarks/driver.py for each op's fields)."""


# --- stacks ----------------------------------------------------------------------------------------

OURS, BASELINE, LIMIT = "ours", "baseline", "limit"


@dataclass(frozen=True)
class Stack:
    name: str
    role: str
    """``ours``, ``baseline`` (what ratios divide by) or ``limit`` (the floor no gRPC stack beats)."""
    description: str
    driver: str
    """The driver script, relative to benchmarks/."""
    loop: str = "asyncio"


STACKS = (
    Stack("mmplugin", OURS, "mmplugin: grpclib + betterproto2 messages with mmplugin's codec, asyncio loop; "
          "host = mmplugin.host (Environment, HooksAdapter, in-memory API)", "ours/host.py"),
    Stack("mmplugin-uvloop", OURS, "the same on uvloop, host and plugin", "ours/host.py", loop="uvloop"),
    Stack("grpcio", BASELINE, "upstream's stack: grpcio aio server and client, Google protobuf (upb) "
          "messages compiled from the same protos/", "baseline/host.py"),
    Stack("limit", LIMIT, "plain asyncio over the same loopback TCP: the same payload bytes and chunking in "
          "length-prefixed frames, no HTTP/2, no codec", "limit/host.py"),
)
STACKS_BY_NAME = {stack.name: stack for stack in STACKS}


def available_stacks() -> tuple[Stack, ...]:
    """Every stack this interpreter can run (the uvloop one only where uvloop is installed)."""
    uvloop = importlib.util.find_spec("uvloop") is not None
    return tuple(stack for stack in STACKS if stack.loop != "uvloop" or uvloop)


# --- metrics ---------------------------------------------------------------------------------------

LOWER, HIGHER = "lower", "higher"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    better: str
    """Which way is better: ``lower`` or ``higher``."""
    label: str


METRICS = {metric.name: metric for metric in (
    Metric("p50_us", "µs", LOWER, "p50"),
    Metric("p90_us", "µs", LOWER, "p90"),
    Metric("p99_us", "µs", LOWER, "p99"),
    Metric("mean_us", "µs", LOWER, "mean"),
    Metric("calls_per_s", "calls/s", HIGHER, "rate"),
    Metric("requests_per_s", "req/s", HIGHER, "rate"),
    Metric("mb_per_s", "MB/s", HIGHER, "throughput"),
    Metric("ttfb_ms", "ms", LOWER, "first byte"),
    Metric("peak_rss_mib", "MiB", LOWER, "peak RSS"),
    Metric("handshake_ms", "ms", LOWER, "launch to handshake"),
    Metric("import_ms", "ms", LOWER, "import"),
    Metric("idle_rss_mib", "MiB", LOWER, "idle RSS"),
    Metric("encode_ops_per_s", "ops/s", HIGHER, "encode"),
    Metric("decode_ops_per_s", "ops/s", HIGHER, "decode"),
)}


# --- workloads and cases ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    description: str
    transport: bool = True
    """False for workloads without processes talking (the codec): no limit stack, no loop variant."""

    def applies(self, stack: Stack) -> bool:
        return self.transport or (stack.role != LIMIT and stack.loop == "asyncio")


WORKLOADS = (
    Workload("hook_latency", "Hook latency (host → plugin)",
             "MessageWillBePosted with a realistic post (≈200-character message, 10 props in the Struct, a "
             "PluginContext) to a handler that inspects and allows it; Implemented as the minimal call. "
             "Latency per call and calls/s at each concurrency, warm-up excluded."),
    Workload("serve_http", "ServeHTTP throughput",
             "A POST streamed in 64 KiB chunks to a handler that echoes it as it reads (MB/s of the body, "
             "time to the first echoed byte, peak RSS of the plugin during it); a streamed download; "
             "1 KiB GETs. Warm-up excluded (an untimed transfer before each timed one)."),
    Workload("api_calls", "API calls (plugin → host)",
             "GetUser (a full user), KVSet and KVGet (≈300-byte value) made one at a time by the plugin "
             "process against its host's PluginAPI server, timed inside the plugin."),
    Workload("cold_start", "Cold start",
             "Process launch to handshake line (as a host sees it), import time of the plugin-side packages "
             "in a fresh interpreter, and RSS of a freshly started, idle plugin process."),
    Workload("codec", "Codec",
             "Encode of the realistic MessageWillBePosted request, and decode with the reads the hook's "
             "handler makes (the message text and one prop), in one process.",
             transport=False),
)
WORKLOADS_BY_NAME = {workload.name: workload for workload in WORKLOADS}


@dataclass(frozen=True)
class Case:
    workload: str
    name: str
    command: Mapping[str, Any]
    """The driver command (``op`` and arguments) run once per repetition."""
    metrics: tuple[str, ...]
    extract: Callable[[Raw], dict[str, float | None]]
    distribution: bool = False
    """Keep the latency distribution (percentiles of all repetitions' samples) for the plot."""


def _latency(rate: str) -> Callable[[Raw], dict[str, float | None]]:
    def extract(raw: Raw) -> dict[str, float | None]:
        figures = latency_figures(raw["samples"], raw["elapsed"])
        figures[rate] = figures.pop("calls_per_s")
        return dict(figures)
    return extract


def _mib(value: float | None) -> float | None:
    return None if value is None else value / MIB


def _transfer(raw: Raw) -> dict[str, float | None]:
    figures: dict[str, float | None] = {"mb_per_s": raw["bytes"] / raw["elapsed"] / 1e6,
                                        "ttfb_ms": raw["first_byte"] * 1e3}
    if "peak_rss" in raw:
        figures["peak_rss_mib"] = _mib(raw["peak_rss"])
    return figures


def _launch(raw: Raw) -> dict[str, float | None]:
    return {"handshake_ms": raw["handshake"] * 1e3, "idle_rss_mib": _mib(raw["idle_rss"])}


def _import(raw: Raw) -> dict[str, float | None]:
    return {"import_ms": raw["seconds"] * 1e3}


def _codec(raw: Raw) -> dict[str, float | None]:
    return {"encode_ops_per_s": raw["encode_ops_per_s"], "decode_ops_per_s": raw["decode_ops_per_s"]}


LATENCY = ("p50_us", "p90_us", "p99_us", "mean_us")


@dataclass(frozen=True)
class Profile:
    """Sizes and counts of one run. Every figure is the median of ``repetitions`` runs."""

    name: str
    repetitions: int = 5
    hook_calls: int = 1000
    hook_warmup: int = 100
    hook_concurrency: tuple[int, ...] = (1, 16, 64)
    transfer_bytes: int = 64 * MIB
    transfer_warmup: int = MIB
    """Bytes of an untimed echo (download) before each timed one, so that start-up costs (codecs a
    plugin's warm-up has not prepared yet, buffers that grow on first use) stay out of the
    throughput figures, as warm-up calls stay out of the latency ones."""
    get_calls: int = 500
    get_warmup: int = 50
    get_concurrency: tuple[int, ...] = (1, 16)
    api_calls: int = 1000
    api_warmup: int = 100
    codec_seconds: float = 0.5
    start_samples: int = 3
    """Launches (and imports) in each repetition of the cold-start cases, which report their median:
    one process start is a single sample of a figure that varies by tens of percent between starts."""
    command_timeout: float = 300.0
    """Seconds any one driver command may take before the run is abandoned."""

    def as_json(self) -> dict[str, Any]:
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in vars(self).items()}


FULL = Profile("full")
QUICK = Profile("quick", hook_calls=100, hook_warmup=20, transfer_bytes=16 * MIB, get_calls=100,
                get_warmup=10, api_calls=100, api_warmup=20, codec_seconds=0.1, command_timeout=120.0)


def size_label(size: int) -> str:
    """``64 MiB``, ``256 KiB``, ``100 B``."""
    for unit, factor in (("MiB", MIB), ("KiB", KIB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def cases(profile: Profile) -> list[Case]:
    """Every case of a run, in the order they run."""
    p = profile
    found: list[Case] = []
    for hook in ("MessageWillBePosted", "Implemented"):
        for concurrency in p.hook_concurrency:
            found.append(Case("hook_latency", f"{hook} c={concurrency}",
                              {"op": "hook", "hook": hook, "calls": p.hook_calls, "warmup": p.hook_warmup,
                               "concurrency": concurrency},
                              (*LATENCY, "calls_per_s"), _latency("calls_per_s"), distribution=True))
    size = size_label(p.transfer_bytes)
    transfer = {"size": p.transfer_bytes, "warmup": p.transfer_warmup}
    found.append(Case("serve_http", f"echo {size}", {"op": "echo", **transfer},
                      ("mb_per_s", "ttfb_ms", "peak_rss_mib"), _transfer))
    found.append(Case("serve_http", f"download {size}", {"op": "download", **transfer},
                      ("mb_per_s", "ttfb_ms"), _transfer))
    for concurrency in p.get_concurrency:
        found.append(Case("serve_http", f"GET 1 KiB c={concurrency}",
                          {"op": "get", "calls": p.get_calls, "warmup": p.get_warmup,
                           "concurrency": concurrency},
                          ("requests_per_s", "p50_us", "p99_us"), _latency("requests_per_s"),
                          distribution=True))
    for method in ("GetUser", "KVSet", "KVGet"):
        found.append(Case("api_calls", method,
                          {"op": "api", "method": method, "calls": p.api_calls, "warmup": p.api_warmup},
                          ("calls_per_s", "p50_us", "p99_us", "mean_us"), _latency("calls_per_s"),
                          distribution=True))
    found.append(Case("cold_start", "launch", {"op": "launch", "samples": p.start_samples},
                      ("handshake_ms", "idle_rss_mib"), _launch))
    found.append(Case("cold_start", "import", {"op": "import", "samples": p.start_samples}, ("import_ms",),
                      _import))
    found.append(Case("codec", "MessageWillBePostedRequest", {"op": "codec", "seconds": p.codec_seconds},
                      ("encode_ops_per_s", "decode_ops_per_s"), _codec))
    return found
