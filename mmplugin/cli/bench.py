"""``mmplugin bench``: the benchmark suite, side by side with grpcio and the raw-socket limit."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmplugin.cli.output import EXIT_OK, CliError, say


def bench_command(args: argparse.Namespace) -> int:
    try:
        from mmplugin.bench import BenchError, run_bench
    except ImportError as exc:
        raise CliError(f"the benchmark suite needs {exc.name}", hint="pip install -e '.[bench]'") from None
    try:
        output = run_bench(quick=args.quick, out_dir=args.out, stacks=args.stack, progress=say)
    except BenchError as exc:
        logs = Path(args.out) / "logs"
        hint = f"drivers' logs are in {logs}/; see docs/bench.md" if logs.is_dir() else "see docs/bench.md"
        raise CliError(str(exc), hint=hint) from None
    say(f"wrote {output.json_path}, {output.markdown_path}" + (f" and {output.plot_path}" if output.plot_path else ""))
    return EXIT_OK


__all__ = ["bench_command"]
