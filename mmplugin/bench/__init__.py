"""The benchmark suite: mmplugin against upstream's grpcio stack and against a raw-socket limit.

Five workloads (hook latency, ServeHTTP throughput, API calls, cold start, codec), each run on
every stack in the same run, through real processes over loopback TCP. Results: ``bench.json``
(schema in ``schema.json``, documented in docs/bench.md), ``bench.md`` and ``bench.png``.

Example::

    from mmplugin.bench import run_bench

    output = run_bench(quick=True, out_dir="bench-results")
    print(output.markdown_path.read_text())

Needs a source checkout (the drivers live in ``benchmarks/``) and the ``bench`` extra.
"""

from mmplugin.bench.plan import FULL, QUICK, STACKS, Profile, Stack
from mmplugin.bench.report import ReportError, build_report, validate_report
from mmplugin.bench.runner import BenchError, BenchOutput, run_bench

__all__ = [
    "FULL",
    "QUICK",
    "STACKS",
    "BenchError",
    "BenchOutput",
    "Profile",
    "ReportError",
    "Stack",
    "build_report",
    "run_bench",
    "validate_report",
]
