"""Where the time of one MessageWillBePosted goes in the mmplugin stack: cProfile of both processes.

Runs the benchmark's host driver in this process and its plugin as a real process, warms up, then
profiles ``--calls`` MessageWillBePosted calls at concurrency 1: the plugin process through its
SIGUSR1/SIGUSR2 profiler (``ours/plugin.py``), this host process with cProfile around the calls.

    PYTHONPATH=benchmarks python benchmarks/profile_hook.py --calls 3000 --out /tmp/hook
    # writes /tmp/hook-plugin.prof and /tmp/hook-host.prof, prints the top functions of each
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import signal
import time
from pathlib import Path

from measure import measure_calls


async def profile(calls: int, plugin_profile: Path, host_profile: Path, loop: str) -> None:
    """Profile ``calls`` hook calls; the plugin writes ``plugin_profile`` on SIGUSR2, before it is stopped."""
    os.environ["MMPLUGIN_BENCH_PROFILE"] = str(plugin_profile)
    from ours.host import OursHost

    host = OursHost(loop)
    await host.start()
    try:
        call = host.hook("MessageWillBePosted")
        await measure_calls(call, 300, 0, 1)
        os.kill(host.plugin_pid, signal.SIGUSR1)
        profiler = cProfile.Profile()
        profiler.enable()
        timed = await measure_calls(call, calls, 0, 1)
        profiler.disable()
        os.kill(host.plugin_pid, signal.SIGUSR2)
        profiler.dump_stats(host_profile)
    finally:
        await host.close()
    each = timed.elapsed / calls * 1e6
    print(f"{calls} calls in {timed.elapsed:.2f} s under the profilers ({each:.0f} µs each)")


GROUPS = (  # (label, test on "file:function"), first match wins
    ("waiting in epoll (idle)", lambda where: "method 'poll' of 'select.epoll'" in where),
    ("socket syscalls", lambda where: "of '_socket.socket' objects" in where),
    ("codec (mmplugin.wire, betterproto2)",
     lambda where: "mmplugin.wire" in where or "/mmplugin/wire/" in where or "/betterproto2/" in where),
    ("h2 + hpack", lambda where: "/h2/" in where or "/hpack/" in where or "/hyperframe/" in where),
    ("grpclib", lambda where: "/grpclib/" in where),
    ("mmplugin runtime / host", lambda where: "/mmplugin/" in where),
    ("asyncio event loop", lambda where: "/asyncio/" in where or "selectors.py" in where
     or "_contextvars" in where),
)


def summarize(path: Path, calls: int) -> None:
    """Own time per group of code, per call."""
    stats = pstats.Stats(str(path))
    totals: dict[str, float] = {}
    for (file, _, function), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{file}:{function}"
        label = next((label for label, test in GROUPS if test(where)), "other (builtins, stdlib)")
        totals[label] = totals.get(label, 0.0) + own
    whole = sum(totals.values())
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {label:38} {seconds / whole * 100:5.1f} %  {seconds / calls * 1e6:7.0f} µs/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--out", default="/tmp/mmplugin-hook")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    # The plugin runs in a directory of its own: a relative PYTHONPATH would not find benchmarks/.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(part) for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part)
    started = time.perf_counter()
    paths = Path(f"{args.out}-plugin.prof"), Path(f"{args.out}-host.prof")
    for path in paths:
        path.unlink(missing_ok=True)
    asyncio.run(profile(args.calls, *paths, args.loop))
    for path in paths:
        print(f"\n===== {path} (by own time)")
        pstats.Stats(str(path)).sort_stats("tottime").print_stats(args.top)
        print(f"===== {path}: own time by group (cProfile inflates Python code against syscalls)")
        summarize(path, args.calls)
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
