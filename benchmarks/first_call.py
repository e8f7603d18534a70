"""What a plugin's first MessageWillBePosted costs, against the calls after it, mmplugin and grpcio.

mmplugin creates a hook's message classes, and compiles their codec functions, when the hook is
first called rather than when the plugin starts (so the handshake comes sooner and hooks never
called cost nothing). This shows what that first call pays: each repetition starts a fresh host
and plugin of each stack (the benchmark's own, ``benchmarks/ours`` and ``benchmarks/baseline``),
times the first MessageWillBePosted with the realistic post, then the median of the next
``--calls``. Both sides of our stack are Python, so our first call includes the host's own first
encode of the request, which a Go server does not have.

    python benchmarks/first_call.py            # 5 fresh starts per stack
    python benchmarks/first_call.py --repetitions 3 --calls 20
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


async def first_and_later(stack: Callable[[str], HostSide], calls: int) -> tuple[float, float]:
    """Seconds of the first call on a fresh plugin, and the median of the ``calls`` after it."""
    host = stack("asyncio")
    await host.start()
    try:
        call = host.hook("MessageWillBePosted")
        first = await measure_calls(call, 1, 0, 1)
        later = await measure_calls(call, calls, 0, 1)
        return first.samples[0], statistics.median(later.samples)
    finally:
        await host.close()


async def run(repetitions: int, calls: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in STACKS}
    for repetition in range(repetitions):
        for name, stack in STACKS.items():  # the stacks take turns, as in `mmplugin bench`
            results[name].append(await first_and_later(stack, calls))
        print(f"repetition {repetition + 1}/{repetitions} done", file=sys.stderr)
    print(f"MessageWillBePosted on a fresh plugin, medians of {repetitions} fresh starts per stack")
    print(f"{'stack':10} {'first call (ms)':>16} {f'next {calls}, p50 (ms)':>20}")
    for name, pairs in results.items():
        first = statistics.median(pair[0] for pair in pairs) * 1e3
        later = statistics.median(pair[1] for pair in pairs) * 1e3
        print(f"{name:10} {first:16.2f} {later:20.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5, help="fresh starts per stack (5)")
    parser.add_argument("--calls", type=int, default=50, help="calls timed after the first (50)")
    args = parser.parse_args()
    if args.repetitions < 1 or args.calls < 1:
        parser.error("--repetitions and --calls must be at least 1")
    # The plugins import the benchmark's shared modules (workload, messages), as under `mmplugin bench`.
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    asyncio.run(run(args.repetitions, args.calls))


if __name__ == "__main__":
    main()
