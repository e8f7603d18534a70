"""Per-plugin, per-hook call counts, failures and latency histograms (the host's timer layer).

A plain object the adapter feeds with :meth:`HookTimings.observe`; tests and benchmarks read it
with :meth:`HookTimings.get` or :meth:`HookTimings.snapshot`. The shape is a Prometheus histogram
(upper bounds, cumulative bucket counts, sum, count) keyed by ``(plugin_id, hook)``, like the Go
server's ``plugin_hook_time`` metric; :mod:`mmplugin.host.exporter` serves it as
``mmplugin_hook_duration_seconds``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

#: Upper bounds in seconds; a hook round trip is typically well under a millisecond.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)


@dataclass
class HookStats:
    """Counters of one hook of one plugin."""

    bounds: tuple[float, ...]
    count: int = 0
    errors: int = 0
    sum_seconds: float = 0.0
    bucket_counts: list[int] = field(default_factory=list)
    """Observations per bucket (not cumulative); one more entry than ``bounds`` for +Inf."""

    def __post_init__(self) -> None:
        if not self.bucket_counts:
            self.bucket_counts = [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float, failed: bool) -> None:
        self.count += 1
        self.errors += failed
        self.sum_seconds += seconds
        self.bucket_counts[bisect.bisect_left(self.bounds, seconds)] += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= bound)`` pairs ending with ``(inf, count)``, as Prometheus wants."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.bucket_counts, strict=True):
            running += n
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float:
        """An upper-bound estimate of the ``q`` quantile (the bound of the bucket that holds it)."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile must be within 0..1, got {q}")
        if self.count == 0:
            return 0.0
        rank = q * self.count
        for bound, seen in self.cumulative():
            if seen >= rank:
                return bound
        return float("inf")


class HookTimings:
    """All hook statistics of a host, keyed by ``(plugin_id, hook name)``."""

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError("histogram buckets must be strictly increasing")
        self.buckets = buckets
        self._stats: dict[tuple[str, str], HookStats] = {}

    def observe(self, plugin_id: str, hook: str, seconds: float, *, failed: bool = False) -> None:
        """Record one hook call that took ``seconds``; ``failed`` for an RPC failure or an AppError."""
        stats = self._stats.get((plugin_id, hook))
        if stats is None:
            stats = self._stats[(plugin_id, hook)] = HookStats(self.buckets)
        stats.observe(seconds, failed)

    def get(self, plugin_id: str, hook: str) -> HookStats:
        """The statistics of one hook (all zero if it was never called)."""
        return self._stats.get((plugin_id, hook)) or HookStats(self.buckets)

    def snapshot(self) -> dict[tuple[str, str], HookStats]:
        """A copy of every recorded hook's statistics."""
        return {key: HookStats(s.bounds, s.count, s.errors, s.sum_seconds, list(s.bucket_counts))
                for key, s in self._stats.items()}


__all__ = ["DEFAULT_BUCKETS", "HookStats", "HookTimings"]
