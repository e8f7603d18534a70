"""The report as markdown: the machine, then one table per workload with every stack and the ratios."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmplugin.bench.plan import BASELINE, LIMIT, METRICS, OURS


def number(value: float | None) -> str:
    """About three significant digits: ``12,345``, ``512``, ``51.2``, ``5.12``; ``-`` for no value."""
    if value is None:
        return "-"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(figure: Mapping[str, Any] | None) -> str:
    if figure is None:
        return ""
    text = number(figure["median"])
    if figure["spread_pct"] is not None and len(figure["values"]) > 1:
        text += f" ±{figure['spread_pct']:.0f}%"
    return text


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _machine(report: Mapping[str, Any]) -> list[str]:
    m = report["machine"]
    libraries = ", ".join(f"{name} {version}" for name, version in m["libraries"].items() if version)
    memory = f", {m['memory_gib']:g} GiB RAM" if m["memory_gib"] else ""
    load_text = "".join(f"; load average {when} {' / '.join(f'{x:g}' for x in m[key])}"
                        for when, key in (("at start", "load_average"), ("at end", "load_average_end"))
                        if m.get(key))
    return [f"- Machine: {m['cpu_model']}, {m['cpu_count']} CPUs{memory}, {m['os']}{load_text}",
            f"- Python: {m['python']}", f"- Libraries: {libraries}"]


def render_markdown(report: Mapping[str, Any]) -> str:
    """A markdown document with every figure of ``report`` (a document of ``schema.json``)."""
    stacks = {stack["name"]: stack for stack in report["stacks"]}
    baseline = next((name for name, s in stacks.items() if s["role"] == BASELINE), None)
    limit = next((name for name, s in stacks.items() if s["role"] == LIMIT), None)
    profile = report["profile"]
    lines = [
        f"# mmplugin benchmark ({report['mode']} run, {report['created']}, {report['duration_s']:.0f} s)",
        "",
        *_machine(report),
        f"- Each figure is the median of {profile['repetitions']} repetitions, ± the spread "
        "(max - min) / median; the stacks take turns within every repetition. Ratios divide a stack's "
        f"median by the {baseline or 'baseline'} (upstream's stack) or the {limit or 'limit'} median: "
        "for µs, ms and MiB lower is better, for rates higher is better.",
        "",
        "Stacks:",
        "",
        *[f"- **{s['name']}** ({s['role']}): {s['description']}" for s in report["stacks"]],
    ]
    results = {(r["workload"], r["stack"]): r for r in report["results"]}
    for workload in report["workloads"]:
        ran = workload["stacks"]
        ours = [name for name in ran if stacks[name]["role"] == OURS]
        references = [name for name in (baseline, limit) if name in ran]
        header = ["case", "metric", *ran, *[f"{o} / {r}" for o in ours for r in references]]
        lines += ["", f"## {workload['title']}", "", workload["description"], "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
        figures = {(name, f["case"], f["metric"]): f
                   for name in ran for f in results[(workload["name"], name)]["figures"]}
        rows = dict.fromkeys((f["case"], f["metric"], f["unit"])
                             for f in results[(workload["name"], ran[0])]["figures"])
        for case, metric, unit in rows:
            cells = [_cell(figures.get((name, case, metric))) for name in ran]
            ratios = []
            for name in ours:
                figure = figures.get((name, case, metric))
                for reference in references:
                    key = "ratio_vs_baseline" if reference == baseline else "ratio_vs_limit"
                    ratios.append(_ratio(figure[key]) if figure else "")
            label = METRICS[metric].label if metric in METRICS else metric
            lines.append("| " + " | ".join([case, f"{label} ({unit})", *cells, *ratios]) + " |")
    if report["notes"]:
        lines += ["", "Notes:", "", *[f"- {note}" for note in report["notes"]]]
    return "\n".join(lines) + "\n"
