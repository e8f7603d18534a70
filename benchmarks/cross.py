"""Each stack's plugin under each stack's host: which side of a hook call costs what.

``mmplugin bench`` compares whole stacks, our host and plugin against grpcio's host and plugin. A
Mattermost server is neither host (it is Go), so this pairs both benchmark plugins
(``benchmarks/ours``, ``benchmarks/baseline``) with both hosts and times the hooks at one call at
a time: the p50 latency, and the CPU time per call of the host process and of the plugin process
(from ``/proc``, all threads; Linux). Under one host, the two plugins compare as a plugin author
would deploy them; under one plugin, the two hosts show what the host side adds.

Each host kind runs in a process of its own (grpcio's threads would otherwise share our host's
process), holding one host per plugin; the pairs take turns, round by round.

    python benchmarks/cross.py                        # 9 rounds x 1,000 calls per pair and hook
    python benchmarks/cross.py --rounds 3 --calls 200 --json cross.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baseline.host import PLUGIN_SCRIPT as GRPCIO_PLUGIN
from baseline.host import GrpcioHost
from baseline.protos import PB2_ENV, compile_protos
from driver import HostSide
from measure import Call, measure_calls
from ours.host import PLUGIN_SCRIPT as OURS_PLUGIN
from ours.host import OursHost, make_plugin_dir

HOOKS = ("Implemented", "MessageWillBePosted")
STACKS = ("mmplugin", "grpcio")


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds that all threads of process ``pid`` have run so far (None where /proc lacks them).

    ``/proc/PID/task/TID/schedstat`` counts in nanoseconds; ``/proc/PID/stat`` only in clock ticks
    (10 ms), too coarse for a round of calls.
    """
    try:
        return sum(int((task / "schedstat").read_text().split()[0])
                   for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def hosts_of(kind: str, workdir: Path) -> dict[str, HostSide]:
    """Two hosts of ``kind``, keyed by the stack of the plugin each runs."""
    if kind == "grpcio":
        return {"mmplugin": GrpcioHost("asyncio", plugin_dir=make_plugin_dir(workdir, OURS_PLUGIN)),
                "grpcio": GrpcioHost("asyncio")}
    pb2 = workdir / "pb2"
    pb2.mkdir()
    compile_protos(pb2)
    return {"mmplugin": OursHost("asyncio"),
            "grpcio": OursHost("asyncio", plugin_script=GRPCIO_PLUGIN, environment={PB2_ENV: str(pb2)})}


async def measure_host(kind: str, rounds: int, calls: int) -> list[dict[str, Any]]:
    """Rows of figures for both plugins under a host of ``kind``, the pairs taking turns each round."""
    with tempfile.TemporaryDirectory(prefix="mmplugin-cross-") as tmp:
        hosts = hosts_of(kind, Path(tmp))
        try:
            for host in hosts.values():
                await host.start()
            rows = []
            for hook in HOOKS:
                calls_of = {plugin: host.hook(hook) for plugin, host in hosts.items()}
                for call in calls_of.values():
                    await measure_calls(call, max(calls // 5, 1), 0, 1)  # warm-up
                samples: dict[str, list[tuple[float, float, float | None]]] = {plugin: [] for plugin in hosts}
                for index in range(rounds):
                    order = list(hosts) if index % 2 == 0 else list(hosts)[::-1]
                    for plugin in order:
                        samples[plugin].append(await _round(hosts[plugin], calls_of[plugin], calls))
                    print(f"{kind} host, {hook}: round {index + 1}/{rounds}", file=sys.stderr)
                rows += [_row(kind, plugin, hook, calls, taken) for plugin, taken in samples.items()]
            return rows
        finally:
            for host in hosts.values():
                await host.close()


async def _round(host: HostSide, call: Call, calls: int) -> tuple[float, float, float | None]:
    """(p50 s, host CPU s per call, plugin CPU s per call) of ``calls`` calls, one at a time."""
    pid = host.plugin_pid
    plugin_before, host_before = cpu_seconds(pid), time.process_time()
    timed = await measure_calls(call, calls, 0, 1)
    plugin_after, host_after = cpu_seconds(pid), time.process_time()
    plugin_cpu = None if plugin_before is None or plugin_after is None else (plugin_after - plugin_before) / calls
    return statistics.median(timed.samples), (host_after - host_before) / calls, plugin_cpu


def _row(host: str, plugin: str, hook: str, calls: int,
         taken: list[tuple[float, float, float | None]]) -> dict[str, Any]:
    p50 = [t[0] * 1e6 for t in taken]
    plugin_cpu = [t[2] * 1e6 for t in taken if t[2] is not None]
    return {"hook": hook, "host": host, "plugin": plugin, "rounds": len(taken), "calls": calls,
            "p50_us": statistics.median(p50), "p50_min_us": min(p50), "p50_max_us": max(p50),
            "host_cpu_us": statistics.median(t[1] * 1e6 for t in taken),
            "plugin_cpu_us": statistics.median(plugin_cpu) if plugin_cpu else None}


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as markdown, then each plugin's ratio to grpcio's under the same host."""
    lines = ["| hook | host | plugin | p50 µs (min-max) | host CPU µs/call | plugin CPU µs/call |",
             "|---|---|---|---:|---:|---:|"]
    for r in rows:
        plugin_cpu = "n/a" if r["plugin_cpu_us"] is None else f"{r['plugin_cpu_us']:.0f}"
        lines.append(f"| {r['hook']} | {r['host']} | {r['plugin']} | {r['p50_us']:.0f} "
                     f"({r['p50_min_us']:.0f}-{r['p50_max_us']:.0f}) | {r['host_cpu_us']:.0f} | {plugin_cpu} |")
    by_key = {(r["hook"], r["host"], r["plugin"]): r for r in rows}
    lines += ["", "| hook | under the host of | mmplugin plugin / grpcio plugin: p50 | plugin CPU |",
              "|---|---|---:|---:|"]
    for hook in HOOKS:
        for host in STACKS:
            ours, theirs = by_key.get((hook, host, "mmplugin")), by_key.get((hook, host, "grpcio"))
            if ours is None or theirs is None:
                continue
            cpu = ("n/a" if ours["plugin_cpu_us"] is None or not theirs["plugin_cpu_us"]
                   else f"{ours['plugin_cpu_us'] / theirs['plugin_cpu_us']:.2f}x")
            lines.append(f"| {hook} | {host} | {ours['p50_us'] / theirs['p50_us']:.2f}x | {cpu} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds per pair and hook (9)")
    parser.add_argument("--calls", type=int, default=1000, help="calls timed per round (1000)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--host", choices=STACKS, help=argparse.SUPPRESS)  # one host kind, rows as JSON
    args = parser.parse_args()
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be at least 1")
    if args.host:
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
        print(json.dumps(asyncio.run(measure_host(args.host, args.rounds, args.calls))))
        return
    # The plugins import the benchmark's shared modules (workload, messages), as under `mmplugin bench`.
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    rows: list[dict[str, Any]] = []
    for kind in STACKS:
        done = subprocess.run([sys.executable, __file__, "--host", kind, "--rounds", str(args.rounds),
                               "--calls", str(args.calls)], env=env, stdout=subprocess.PIPE, text=True,
                              check=False)
        if done.returncode:
            raise SystemExit(f"cross.py: the {kind} host's run failed (exit {done.returncode}); see above")
        rows += json.loads(done.stdout.splitlines()[-1])
    print(f"Each plugin under each host, one call at a time: medians of {args.rounds} rounds "
          f"of {args.calls} calls (Python {sys.version.split()[0]})\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
