"""The report of a run: a JSON document (schema in ``schema.json``), built from the raw driver answers.

:func:`build_report` turns every repetition's raw answer into figures (median, min, max, spread,
the values) with their ratios to the baseline and the limit stacks; :func:`validate_report` checks
a document against the schema and for completeness (one result per workload and stack, every case
and metric present).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from mmplugin.bench.plan import BASELINE, LIMIT, METRICS, WORKLOADS, Case, Profile, Raw, Stack
from mmplugin.bench.stats import Spread, quantile_curve, ratio

SCHEMA_NAME = "mmplugin-bench/1"

RawResults = Mapping[tuple[str, str], Sequence[Raw]]
"""(case name, stack name) -> the raw answer of every repetition."""


class ReportError(ValueError):
    """A report that does not match the schema or misses results; the message lists what."""


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a report."""
    text = resources.files("mmplugin.bench").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _figure(case: Case, metric: str, values: list[float | None]) -> dict[str, Any]:
    known = [value for value in values if value is not None]
    spread = Spread(tuple(known)) if len(known) == len(values) else None
    return {
        "case": case.name, "metric": metric, "unit": METRICS[metric].unit, "better": METRICS[metric].better,
        "median": spread.median if spread else None, "min": spread.low if spread else None,
        "max": spread.high if spread else None, "spread_pct": spread.spread_pct if spread else None,
        "values": values, "ratio_vs_baseline": None, "ratio_vs_limit": None,
    }


def _distribution(case: Case, raws: Sequence[Raw]) -> dict[str, Any]:
    samples = [sample for raw in raws for sample in raw["samples"]]
    return {"case": case.name, "unit": "µs", "percentiles": quantile_curve(samples)}


def _set_ratios(results: list[dict[str, Any]]) -> None:
    medians = {(r["workload"], r["role"], f["case"], f["metric"]): f["median"]
               for r in results if r["role"] in (BASELINE, LIMIT) for f in r["figures"]}
    for result in results:
        for figure in result["figures"]:
            key = (result["workload"], figure["case"], figure["metric"])
            figure["ratio_vs_baseline"] = ratio(figure["median"], medians.get((key[0], BASELINE, *key[1:])))
            figure["ratio_vs_limit"] = ratio(figure["median"], medians.get((key[0], LIMIT, *key[1:])))


def build_report(*, profile: Profile, stacks: Sequence[Stack], cases: Sequence[Case], raw: RawResults,
                 machine: Mapping[str, Any], created: str, duration_s: float,
                 notes: Sequence[str] = ()) -> dict[str, Any]:
    """The report document of a run (see ``schema.json``)."""
    results: list[dict[str, Any]] = []
    workloads: list[dict[str, Any]] = []
    for workload in WORKLOADS:
        ran = [stack for stack in stacks if workload.applies(stack)]
        its_cases = [case for case in cases if case.workload == workload.name]
        if not its_cases or not ran:
            continue
        workloads.append({"name": workload.name, "title": workload.title,
                          "description": workload.description, "stacks": [stack.name for stack in ran],
                          "cases": [case.name for case in its_cases]})
        for stack in ran:
            figures, distributions = [], []
            for case in its_cases:
                raws = raw[(case.name, stack.name)]
                per_repetition = [case.extract(answer) for answer in raws]
                figures += [_figure(case, metric, [values.get(metric) for values in per_repetition])
                            for metric in case.metrics]
                if case.distribution:
                    distributions.append(_distribution(case, raws))
            results.append({"workload": workload.name, "stack": stack.name, "role": stack.role,
                            "figures": figures, "distributions": distributions})
    _set_ratios(results)
    return {
        "schema": SCHEMA_NAME, "mode": profile.name, "created": created, "duration_s": duration_s,
        "machine": dict(machine), "profile": profile.as_json(),
        "stacks": [{"name": s.name, "role": s.role, "description": s.description, "loop": s.loop}
                   for s in stacks],
        "workloads": workloads, "results": results, "notes": list(notes),
    }


def validate_report(report: Mapping[str, Any]) -> None:
    """Raise :class:`ReportError` unless ``report`` matches the schema and is complete.

    The schema check needs ``jsonschema`` (bench and test extras); completeness is checked always.
    """
    problems: list[str] = []
    try:
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError:
        pass
    else:
        validator = jsonschema.Draft202012Validator(schema())
        problems += [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
                     for error in validator.iter_errors(report)]
    if not problems:
        problems += _completeness_problems(report)
    if problems:
        raise ReportError("invalid benchmark report:\n  " + "\n  ".join(problems[:20]))


def _completeness_problems(report: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    roles = {stack["name"]: stack["role"] for stack in report["stacks"]}
    by_key: dict[tuple[str, str], Mapping[str, Any]] = {}
    for result in report["results"]:
        key = (result["workload"], result["stack"])
        if key in by_key:
            problems.append(f"two results for workload {key[0]!r} on stack {key[1]!r}")
        by_key[key] = result
        if roles.get(result["stack"]) != result["role"]:
            problems.append(f"result {key}: role {result['role']!r} is not the role of that stack")
    for workload in report["workloads"]:
        for stack in workload["stacks"]:
            result = by_key.get((workload["name"], stack))
            if result is None:
                problems.append(f"no result for workload {workload['name']!r} on stack {stack!r}")
                continue
            cases = {figure["case"] for figure in result["figures"]}
            problems += [f"{workload['name']} on {stack}: case {case!r} has no figures"
                         for case in workload["cases"] if case not in cases]
    known = {(w["name"], s) for w in report["workloads"] for s in w["stacks"]}
    problems += [f"result for workload {w!r} on stack {s!r}, which the workloads list does not name"
                 for (w, s) in by_key if (w, s) not in known]
    return problems
