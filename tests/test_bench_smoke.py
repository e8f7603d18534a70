"""The benchmark suite end to end at tiny sizes: real drivers, real plugin processes, every stack.

No timing is asserted: the run must finish, and its report must match the schema, name every
workload and stack with all figures and their ratios, and come with the markdown table and the plot.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mmplugin.bench import BenchError, BenchOutput, Profile, ReportError, run_bench, runner, validate_report
from mmplugin.bench.plan import BASELINE, LIMIT, OURS, WORKLOADS, available_stacks, cases
from mmplugin.bench.report import schema
from mmplugin.wire import handshake as hs

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

TINY = Profile("tiny", repetitions=2, hook_calls=12, hook_warmup=4, hook_concurrency=(1, 4),
               transfer_bytes=256 * 1024, transfer_warmup=64 * 1024, get_calls=6, get_warmup=2, api_calls=8,
               api_warmup=2, codec_seconds=0.01, start_samples=2, command_timeout=60.0)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> BenchOutput:
    lines: list[str] = []
    result = run_bench(out_dir=tmp_path_factory.mktemp("bench"), profile=TINY, progress=lines.append)
    assert len(lines) == 1 + len(cases(TINY))  # the start line, then one per case
    return result


def test_report_matches_the_schema(output: BenchOutput) -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(output.report, schema(), cls=jsonschema.Draft202012Validator)
    validate_report(output.report)
    assert output.report["mode"] == "tiny"
    assert output.report["profile"]["repetitions"] == TINY.repetitions


def test_every_workload_runs_on_every_stack_with_ratios(output: BenchOutput) -> None:
    report = output.report
    stacks = {stack.name: stack for stack in available_stacks()}
    assert [s["name"] for s in report["stacks"]] == list(stacks)
    results = {(r["workload"], r["stack"]): r for r in report["results"]}
    for workload in WORKLOADS:
        expected = [name for name, stack in stacks.items() if workload.applies(stack)]
        listed = next(w for w in report["workloads"] if w["name"] == workload.name)
        assert listed["stacks"] == expected
        for name in expected:
            result = results[(workload.name, name)]
            assert result["role"] == stacks[name].role
            case_names = {c.name for c in cases(TINY) if c.workload == workload.name}
            assert {f["case"] for f in result["figures"]} == case_names
            for figure in result["figures"]:
                assert len(figure["values"]) == TINY.repetitions
                assert figure["median"] is not None, (name, figure)
                assert figure["median"] > 0, (name, figure)
                assert figure["ratio_vs_baseline"] is not None
                if stacks[name].role == BASELINE:
                    assert figure["ratio_vs_baseline"] == pytest.approx(1.0)
                if workload.transport:
                    assert figure["ratio_vs_limit"] is not None
                    if stacks[name].role == LIMIT:
                        assert figure["ratio_vs_limit"] == pytest.approx(1.0)
                else:
                    assert figure["ratio_vs_limit"] is None
    ours = [r for r in report["results"] if r["role"] == OURS]
    assert {r["stack"] for r in ours} >= {"mmplugin"}


def test_latency_distributions_are_kept(output: BenchOutput) -> None:
    hooks = next(r for r in output.report["results"]
                 if r["workload"] == "hook_latency" and r["stack"] == "mmplugin")
    distribution = next(d for d in hooks["distributions"] if d["case"] == "MessageWillBePosted c=1")
    assert distribution["percentiles"] == sorted(distribution["percentiles"])
    p50 = next(f for f in hooks["figures"]
               if f["case"] == "MessageWillBePosted c=1" and f["metric"] == "p50_us")
    assert p50["min"] <= p50["median"] <= p50["max"]


def test_markdown_and_plot_are_written(output: BenchOutput) -> None:
    text = output.markdown_path.read_text(encoding="utf-8")
    for workload in output.report["workloads"]:
        assert f"## {workload['title']}" in text
    for stack in output.report["stacks"]:
        assert f"**{stack['name']}**" in text
    assert "mmplugin / grpcio" in text
    assert "mmplugin / limit" in text
    assert output.plot_path is not None
    assert output.plot_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert output.json_path.is_file()


def _drop_result(report: dict[str, Any]) -> None:
    report["results"] = [r for r in report["results"] if (r["workload"], r["stack"]) != ("codec", "grpcio")]


def _drop_median(report: dict[str, Any]) -> None:
    del report["results"][0]["figures"][0]["median"]


@pytest.mark.parametrize(("damage", "message"), [
    (_drop_result, "no result for workload 'codec' on stack 'grpcio'"),
    (_drop_median, "'median' is a required property"),
])
def test_validation_names_what_is_wrong(output: BenchOutput, damage: Any, message: str) -> None:
    report = copy.deepcopy(output.report)
    damage(report)
    with pytest.raises(ReportError, match=message):
        validate_report(report)


def test_an_unknown_stack_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="unknown or unavailable stacks: nope"):
        run_bench(out_dir=tmp_path, profile=TINY, stacks=["nope"])


def test_benchmark_plugins_spell_the_process_contract_like_mmplugin() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import workload
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert workload.MAGIC_COOKIE_KEY == hs.MAGIC_COOKIE_KEY
    assert workload.MAGIC_COOKIE_VALUE == hs.MAGIC_COOKIE_VALUE
    assert workload.API_TARGET_ENV == hs.API_TARGET_ENV
    assert hs.Handshake.parse(workload.handshake_line(4242)) == hs.Handshake("127.0.0.1", 4242)


def test_precompile_covers_the_installed_dependencies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A package and a single-module dependency whose sources are newer than any bytecode.
    (tmp_path / "deppkg").mkdir()
    (tmp_path / "deppkg" / "__init__.py").write_text("")
    (tmp_path / "deppkg" / "inner.py").write_text("VALUE = 1\n")
    (tmp_path / "depmod.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(runner, "DEPENDENCIES", ("deppkg", "depmod", "not_installed_anywhere"))
    assert runner.precompile(BENCHMARKS) == []
    tag = sys.implementation.cache_tag
    assert (tmp_path / "deppkg" / "__pycache__" / f"inner.{tag}.pyc").is_file()
    assert (tmp_path / "__pycache__" / f"depmod.{tag}.pyc").is_file()


def test_cross_runs_each_plugin_under_each_host(tmp_path: Path) -> None:
    out = tmp_path / "cross.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "cross.py"), "--rounds", "1", "--calls", "5",
                           "--json", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())
    pairs = {(row["hook"], row["host"], row["plugin"]) for row in rows}
    assert pairs == {(hook, host, plugin) for hook in ("Implemented", "MessageWillBePosted")
                     for host in ("mmplugin", "grpcio") for plugin in ("mmplugin", "grpcio")}
    for row in rows:
        assert row["p50_us"] > 0
        assert row["host_cpu_us"] > 0
        assert row["plugin_cpu_us"] > 0 if sys.platform == "linux" else row["plugin_cpu_us"] is None
    assert "| MessageWillBePosted | grpcio | " in done.stdout  # the ratio table


def test_cross_refuses_a_round_count_of_zero() -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / "cross.py"), "--rounds", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--rounds and --calls must be at least 1" in done.stderr
