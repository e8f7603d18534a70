"""What a plugin's first MessageWillBePosted costs, against the calls after it, mmplugin and grpcio.

mmplugin creates a hook's message classes, and compiles their codec functions, after the plugin
starts rather than before its handshake: in the background for the hooks it implements
(``Plugin.warm_up``), else at the hook's first call. This shows what the first call pays: each
repetition starts fresh hosts and plugins of each stack (the benchmark's own, ``benchmarks/ours``
and ``benchmarks/baseline``) and times the first MessageWillBePosted with the realistic post
twice, on two fresh plugins: right after activation (the warm-up is still running then) and after
``--idle`` seconds (as on a server, where posts come after plugins start); then the median of the
next ``--calls``. Both sides of our stack are Python, so the first call of the first repetition
includes the host's own first encode of the request, which a Go server does not have.

    python benchmarks/first_call.py            # 5 fresh starts per stack and case
    python benchmarks/first_call.py --repetitions 3 --calls 20 --idle 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from baseline.host import GrpcioHost
from driver import HostSide
from measure import measure_calls
from ours.host import OursHost

STACKS: dict[str, Callable[[str], HostSide]] = {"mmplugin": OursHost, "grpcio": GrpcioHost}


async def first_and_later(stack: Callable[[str], HostSide], calls: int, idle: float) -> tuple[float, float]:
    """Seconds of the first call on a fresh plugin ``idle`` seconds after activation, and the
    median of the ``calls`` after it."""
    host = stack("asyncio")
    await host.start()
    try:
        await asyncio.sleep(idle)
        call = host.hook("MessageWillBePosted")
        first = await measure_calls(call, 1, 0, 1)
        later = await measure_calls(call, calls, 0, 1)
        return first.samples[0], statistics.median(later.samples)
    finally:
        await host.close()


async def run(repetitions: int, calls: int, idle: float) -> None:
    results: dict[tuple[str, float], list[tuple[float, float]]] = {
        (name, wait): [] for name in STACKS for wait in (0.0, idle)}
    for repetition in range(repetitions):
        for (name, wait), pairs in results.items():  # the stacks take turns, as in `mmplugin bench`
            pairs.append(await first_and_later(STACKS[name], calls, wait))
        print(f"repetition {repetition + 1}/{repetitions} done", file=sys.stderr)
    print(f"MessageWillBePosted on a fresh plugin, medians of {repetitions} fresh starts per stack and case")
    print(f"{'stack':10} {'first call (ms)':>16} {f'after {idle:g} s idle (ms)':>22} {f'next {calls}, p50 (ms)':>20}")
    for name in STACKS:
        at_once, idled = results[name, 0.0], results[name, idle]
        first = statistics.median(pair[0] for pair in at_once) * 1e3
        first_idle = statistics.median(pair[0] for pair in idled) * 1e3
        later = statistics.median(pair[1] for pair in at_once + idled) * 1e3
        print(f"{name:10} {first:16.2f} {first_idle:22.2f} {later:20.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5, help="fresh starts per stack (5)")
    parser.add_argument("--calls", type=int, default=50, help="calls timed after the first (50)")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds between activation and the "
                        "first call in the second case (1)")
    args = parser.parse_args()
    if args.repetitions < 1 or args.calls < 1:
        parser.error("--repetitions and --calls must be at least 1")
    if not 0 < args.idle <= 60:
        parser.error("--idle must be more than 0 and at most 60 seconds")
    # The plugins import the benchmark's shared modules (workload, messages), as under `mmplugin bench`.
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    asyncio.run(run(args.repetitions, args.calls, args.idle))


if __name__ == "__main__":
    main()
