"""The report as a picture (matplotlib, bench extra): latency distributions on top, throughput bars below."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

COLORS = {"ours": ("#1f77b4", "#17becf"), "baseline": ("#ff7f0e",), "limit": ("#7f7f7f",)}


def _colors(report: Mapping[str, Any]) -> dict[str, str]:
    taken: dict[str, int] = {}
    colors = {}
    for stack in report["stacks"]:
        palette = COLORS[stack["role"]]
        colors[stack["name"]] = palette[taken.get(stack["role"], 0) % len(palette)]
        taken[stack["role"]] = taken.get(stack["role"], 0) + 1
    return colors


def _results(report: Mapping[str, Any], workload: str) -> list[Mapping[str, Any]]:
    return [result for result in report["results"] if result["workload"] == workload]


def _cdf(ax: Axes, report: Mapping[str, Any], workload: str, case: str, colors: Mapping[str, str]) -> None:
    for result in _results(report, workload):
        for distribution in result["distributions"]:
            if distribution["case"] == case:
                ax.plot(distribution["percentiles"], range(101), label=result["stack"],
                        color=colors[result["stack"]])
    ax.set_xscale("log")
    ax.set_title(f"{case}: latency distribution", fontsize=9)
    ax.set_xlabel("µs (log)")
    ax.set_ylabel("percentile")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _bars(ax: Axes, report: Mapping[str, Any], workload: str, metric: str, cases: Sequence[str],
          colors: Mapping[str, str], title: str) -> None:
    results = _results(report, workload)
    width = 0.8 / max(len(results), 1)
    for index, result in enumerate(results):
        figures = {f["case"]: f for f in result["figures"] if f["metric"] == metric}
        shown = [figures.get(case) for case in cases]
        medians = [f["median"] or 0 if f else 0 for f in shown]
        low = [m - (f["min"] or m) if f else 0 for m, f in zip(medians, shown, strict=True)]
        high = [(f["max"] or m) - m if f else 0 for m, f in zip(medians, shown, strict=True)]
        positions = [i + (index - (len(results) - 1) / 2) * width for i in range(len(cases))]
        ax.bar(positions, medians, width, yerr=[low, high], capsize=2, label=result["stack"],
               color=colors[result["stack"]])
    ax.set_xticks(range(len(cases)), [case.replace(" ", "\n", 1) for case in cases], fontsize=7)
    unit = next((f["unit"] for r in results for f in r["figures"] if f["metric"] == metric), "")
    ax.set_yscale("log")
    ax.set_ylabel(f"{unit} (log)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)


def plot_report(report: Mapping[str, Any], path: Path) -> None:
    """Write a PNG of ``report`` (a document of ``schema.json``) to ``path``."""
    colors = _colors(report)
    cases = {workload["name"]: workload["cases"] for workload in report["workloads"]}
    hook_cases = [case for case in cases.get("hook_latency", []) if case.startswith("MessageWillBePosted")]
    http_cases = cases.get("serve_http", [])
    api_cases = cases.get("api_calls", [])
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    if hook_cases:
        _cdf(axes[0][0], report, "hook_latency", hook_cases[0], colors)
        _cdf(axes[0][1], report, "hook_latency", hook_cases[-1], colors)
        _bars(axes[1][0], report, "hook_latency", "calls_per_s", hook_cases, colors,
              "MessageWillBePosted calls/s")
    if api_cases:
        _cdf(axes[0][2], report, "api_calls", api_cases[0], colors)
    transfers = [case for case in http_cases if not case.startswith("GET")]
    gets = [case for case in http_cases if case.startswith("GET")]
    if transfers:
        _bars(axes[1][1], report, "serve_http", "mb_per_s", transfers, colors, "ServeHTTP streaming")
    if gets:
        _bars(axes[1][2], report, "serve_http", "requests_per_s", gets, colors, "ServeHTTP small GETs")
    machine = report["machine"]
    figure.suptitle(f"mmplugin benchmark, {report['mode']} run, {report['created']}: {machine['cpu_model']}, "
                    f"{machine['cpu_count']} CPUs, {machine['python']} (medians of "
                    f"{report['profile']['repetitions']}, bars show min to max)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
