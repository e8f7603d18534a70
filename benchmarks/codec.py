"""Codec speed on the hot messages: Google's upb, stock betterproto2, and mmplugin's codec.

Usage (from the repository root, with the test extras installed)::

    python benchmarks/codec.py            # full run, markdown table on stdout
    python benchmarks/codec.py --quick    # fewer repetitions
    python benchmarks/codec.py --json results.json

mmplugin decodes a ``google.protobuf.Struct`` or ``ListValue`` field when it is first read, and
upb makes the Python objects of fields when they are first read; so for the MessageWillBePosted
request there is also a ``decode+read`` row: decode, then the reads the benchmark's hook handler
makes (the message text and one prop of the post).

Each figure is the median over the repetitions of the mean time per call within one repetition
(each repetition runs long enough to be measurable), with the spread (min-max over repetitions)
beside it. Before timing, every message is checked: our bytes equal ``bytes(message)`` and upb
parses them back to the same serialisation.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

import betterproto2  # noqa: E402
from google_protos import google_message_classes  # noqa: E402
from messages import hot_messages  # noqa: E402
from workload import read_post  # noqa: E402

from mmplugin.wire.codec import decode, encode  # noqa: E402

Timing = dict[str, float]


def _calibrate(function: Callable[[], object], target_seconds: float) -> int:
    """How many calls of ``function`` take about ``target_seconds``."""
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            function()
        elapsed = time.perf_counter() - started
        if elapsed >= target_seconds / 4 or calls >= 1 << 22:
            return max(1, int(calls * target_seconds / max(elapsed, 1e-9)))
        calls *= 2


def measure(
    functions: dict[str, Callable[[], object]], repetitions: int, target_seconds: float
) -> dict[str, Timing]:
    """Median, min and max microseconds per call of each function.

    The functions take turns within every repetition, so a burst of load on a shared machine hits
    all of them alike and the ratios stay meaningful.
    """
    calls = {name: _calibrate(function, target_seconds) for name, function in functions.items()}
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repetitions):
        for name, function in functions.items():
            count = calls[name]
            started = time.perf_counter()
            for _ in range(count):
                function()
            samples[name].append((time.perf_counter() - started) / count * 1e6)
    return {
        name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
        for name, values in samples.items()
    }


def check(name: str, message: betterproto2.Message, google_cls: Any) -> bytes:
    """Our bytes must be betterproto2's, decode back equal, and survive a upb round trip."""
    data = encode(message)
    if data != bytes(message):
        raise SystemExit(f"{name}: encode differs from betterproto2's bytes()")
    if decode(type(message), data) != message:
        raise SystemExit(f"{name}: decode does not give the message back")
    reparsed = google_cls.FromString(data)
    if decode(type(message), reparsed.SerializeToString()) != message:
        raise SystemExit(f"{name}: upb reads different values")
    return data


def run(repetitions: int, target_seconds: float) -> list[dict[str, Any]]:
    google_class = google_message_classes()
    rows = []
    for name, message in hot_messages().items():
        cls = type(message)
        google_cls = google_class(cls)
        data = check(name, message, google_cls)
        google_message = google_cls.FromString(data)
        encodes = measure({
            "upb": google_message.SerializeToString,
            "betterproto2": message.__bytes__,
            "mmplugin": lambda m=message: encode(m),
        }, repetitions, target_seconds)
        decodes = measure({
            "upb": lambda g=google_cls, d=data: g.FromString(d),
            "betterproto2": lambda c=cls, d=data: c.parse(d),
            "mmplugin": lambda c=cls, d=data: decode(c, d),
        }, repetitions, target_seconds)
        row: dict[str, Any] = {"message": name, "bytes": len(data)}
        for codec in encodes:
            row[f"{codec}_encode"] = encodes[codec]
            row[f"{codec}_decode"] = decodes[codec]
        if name == "MessageWillBePostedRequest":
            reads = measure({
                "upb": lambda g=google_cls, d=data: read_post(g.FromString(d).post),
                "betterproto2": lambda c=cls, d=data: read_post(c.parse(d).post),
                "mmplugin": lambda c=cls, d=data: read_post(decode(c, d).post),
            }, repetitions, target_seconds)
            for codec in reads:
                row[f"{codec}_decode+read"] = reads[codec]
        rows.append(row)
        print(f"  measured {name}", file=sys.stderr)
    return rows


def _cell(t: Timing) -> str:
    return f"{t['median']:.1f} ({t['min']:.1f}-{t['max']:.1f})"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| message | bytes | op | upb µs | betterproto2 µs | mmplugin µs | ours/upb | ours/betterproto2 "
        "| speed-up vs betterproto2 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for op in ("encode", "decode", "decode+read"):
            if f"mmplugin_{op}" not in row:
                continue
            ours = row[f"mmplugin_{op}"]["median"]
            theirs = row[f"betterproto2_{op}"]["median"]
            lines.append(
                f"| {row['message']} | {row['bytes']} | {op} | {_cell(row[f'upb_{op}'])} "
                f"| {_cell(row[f'betterproto2_{op}'])} | {_cell(row[f'mmplugin_{op}'])} "
                f"| {ours / row[f'upb_{op}']['median']:.1f} "
                f"| {ours / theirs:.3f} | {theirs / ours:.1f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 short repetitions instead of 11")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    repetitions, target = (5, 0.02) if args.quick else (11, 0.1)
    rows = run(repetitions, target)
    print(table(rows))
    print(f"\nmedian (min-max) of {repetitions} repetitions; Python {platform.python_version()} "
          f"({platform.python_implementation()}), {platform.machine()}")
    if args.json:
        meta = {"python": platform.python_version(), "implementation": platform.python_implementation(),
                "repetitions": repetitions}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
