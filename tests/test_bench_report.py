"""The benchmark's pure parts: statistics, the report from raw answers, its markdown, the timing loop."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from mmplugin.bench import ReportError, build_report, validate_report
from mmplugin.bench.markdown import number, render_markdown
from mmplugin.bench.plan import QUICK, STACKS, Case, cases
from mmplugin.bench.stats import Spread, latency_figures, percentile, quantile_curve, ratio

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
MACHINE = {"cpu_model": "Test CPU", "cpu_count": 2, "memory_gib": 4.0, "os": "Linux", "python": "CPython 3.x",
           "load_average": [0.5, 0.5, 0.5], "libraries": {"grpclib": "0.4.9", "uvloop": None}}
SCALE = {"mmplugin": 2.0, "mmplugin-uvloop": 1.5, "grpcio": 1.0, "limit": 0.25}


def test_percentile_interpolates_between_ranks() -> None:
    ordered = [1.0, 2.0, 3.0, 4.0]
    assert percentile(ordered, 0) == 1.0
    assert percentile(ordered, 50) == 2.5
    assert percentile(ordered, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile(ordered, 101)


def test_latency_figures_are_in_microseconds_and_calls_per_second() -> None:
    figures = latency_figures([0.003, 0.001, 0.002, 0.004], elapsed=0.5)
    assert figures["p50_us"] == pytest.approx(2500)
    assert figures["mean_us"] == pytest.approx(2500)
    assert figures["p99_us"] == pytest.approx(3970)
    assert figures["calls_per_s"] == pytest.approx(8)
    assert quantile_curve([0.001, 0.002])[::100] == pytest.approx([1000, 2000])


def test_spread_and_ratio() -> None:
    spread = Spread((10.0, 12.0, 8.0, 11.0, 9.0))
    assert (spread.median, spread.low, spread.high) == (10.0, 8.0, 12.0)
    assert spread.spread_pct == pytest.approx(40.0)
    assert Spread((0.0, 0.0)).spread_pct == 0.0
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(3.0, None) is None
    assert ratio(3.0, 0.0) is None


def _raw(case: Case, stack: str, repetition: int) -> dict[str, Any]:
    """A driver answer where every duration is SCALE[stack] times the grpcio one (rates inverse)."""
    scale = SCALE[stack] * (1 + repetition / 100)
    op = case.command["op"]
    if op in ("hook", "get", "api"):
        return {"samples": [scale * 1e-3 * (1 + i / 10) for i in range(10)], "elapsed": scale * 0.02}
    if op in ("echo", "download"):
        raw: dict[str, Any] = {"bytes": 1_000_000, "elapsed": scale * 0.01, "first_byte": scale * 0.001}
        if op == "echo":
            raw["peak_rss"] = None if stack == "limit" else 50 * 2**20
        return raw
    if op == "launch":
        return {"handshake": scale * 0.1, "idle_rss": 40 * 2**20}
    if op == "import":
        return {"seconds": scale * 0.1}
    return {"encode_ops_per_s": 1000 / scale, "decode_ops_per_s": 500 / scale}


def _report(repetitions: int = 3) -> dict[str, Any]:
    all_cases = cases(QUICK)
    raw = {(case.name, stack.name): [_raw(case, stack.name, r) for r in range(repetitions)]
           for case in all_cases for stack in STACKS}
    return build_report(profile=QUICK, stacks=STACKS, cases=all_cases, raw=raw, machine=MACHINE,
                        created="2025-01-01T00:00:00+00:00", duration_s=1.0, notes=["a note"])


def _figure(report: dict[str, Any], workload: str, stack: str, case: str, metric: str) -> dict[str, Any]:
    result = next(r for r in report["results"] if (r["workload"], r["stack"]) == (workload, stack))
    return next(f for f in result["figures"] if (f["case"], f["metric"]) == (case, metric))


def test_report_from_raw_answers_validates_with_ratios() -> None:
    report = _report()
    validate_report(report)
    p50 = _figure(report, "hook_latency", "mmplugin", "MessageWillBePosted c=16", "p50_us")
    assert p50["ratio_vs_baseline"] == pytest.approx(2.0)
    assert p50["ratio_vs_limit"] == pytest.approx(8.0)
    assert len(p50["values"]) == 3
    assert p50["min"] < p50["median"] < p50["max"]
    rate = _figure(report, "api_calls", "mmplugin-uvloop", "KVGet", "calls_per_s")
    assert rate["ratio_vs_baseline"] == pytest.approx(1 / 1.5)
    baseline = _figure(report, "serve_http", "grpcio", "echo 16 MiB", "mb_per_s")
    assert baseline["ratio_vs_baseline"] == pytest.approx(1.0)
    codec = _figure(report, "codec", "mmplugin", "MessageWillBePostedRequest", "encode_ops_per_s")
    assert codec["ratio_vs_baseline"] == pytest.approx(0.5)
    assert codec["ratio_vs_limit"] is None
    unmeasured = _figure(report, "serve_http", "mmplugin", "echo 16 MiB", "peak_rss_mib")
    assert unmeasured["ratio_vs_limit"] is None  # the limit's RSS was not measurable
    assert {r["stack"] for r in report["results"] if r["workload"] == "codec"} == {"mmplugin", "grpcio"}


def test_validation_lists_what_is_missing() -> None:
    report = _report()
    report["results"] = [r for r in report["results"] if r["stack"] != "limit"]
    with pytest.raises(ReportError) as caught:
        validate_report(report)
    assert "no result for workload 'hook_latency' on stack 'limit'" in str(caught.value)
    report = _report()
    report["results"][0]["figures"][0]["better"] = "sideways"
    with pytest.raises(ReportError, match="'sideways' is not one of"):
        validate_report(report)


def test_markdown_shows_every_figure_and_ratio() -> None:
    report = _report(repetitions=5)
    text = render_markdown(report)
    assert "| case | metric | mmplugin | mmplugin-uvloop | grpcio | limit | mmplugin / grpcio |" in text
    row = next(line for line in text.splitlines() if line.startswith("| MessageWillBePosted c=1 | p50 (µs)"))
    assert row.count("|") == 2 + 4 + 4 + 1  # case, metric, four stacks, four ratios
    assert "2.00x" in row
    assert "8.00x" in row
    assert "| MessageWillBePostedRequest | encode (ops/s) | 490 ±" in text
    assert "Test CPU, 2 CPUs" in text
    assert "- a note" in text
    assert [number(v) for v in (12345.6, 512.3, 51.23, 5.123, None)] == ["12,346", "512", "51.2", "5.12", "-"]


def test_measure_calls_times_only_the_measured_calls_at_the_given_concurrency() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from measure import measure_calls
    finally:
        sys.path.remove(str(BENCHMARKS))
    running = 0
    peak = 0
    made = 0

    async def call() -> None:
        nonlocal running, peak, made
        running += 1
        made += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1

    timed = asyncio.run(measure_calls(call, calls=50, warmup=7, concurrency=4))
    assert (len(timed.samples), made, peak) == (50, 57, 4)
    assert timed.elapsed >= max(timed.samples) > 0
