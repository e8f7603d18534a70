"""Summaries of measured samples: percentiles of one run, and a figure's median over repetitions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Points of a stored latency distribution: the 0th to the 100th percentile.
QUANTILE_POINTS = 101


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ascending ``ordered``, interpolated linearly between ranks."""
    if not ordered:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_figures(samples: Sequence[float], elapsed: float) -> dict[str, float]:
    """p50/p90/p99/mean in µs and calls per second of one measured run (samples in seconds)."""
    if elapsed <= 0:
        raise ValueError(f"elapsed time must be positive, got {elapsed}")
    ordered = sorted(samples)
    return {
        "p50_us": percentile(ordered, 50) * 1e6,
        "p90_us": percentile(ordered, 90) * 1e6,
        "p99_us": percentile(ordered, 99) * 1e6,
        "mean_us": statistics.fmean(ordered) * 1e6,
        "calls_per_s": len(ordered) / elapsed,
    }


def quantile_curve(samples: Sequence[float], scale: float = 1e6) -> list[float]:
    """Every percentile 0..100 of ``samples``, multiplied by ``scale`` (seconds to µs by default)."""
    ordered = sorted(samples)
    return [percentile(ordered, q) * scale for q in range(QUANTILE_POINTS)]


@dataclass(frozen=True)
class Spread:
    """One figure over its repetitions: the median, with the min and max around it."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def spread_pct(self) -> float:
        """``(max - min) / median`` in percent; 0 when the median is 0."""
        median = self.median
        return (self.high - self.low) / abs(median) * 100 if median else 0.0


def ratio(ours: float | None, reference: float | None) -> float | None:
    """``ours / reference``, or None when either is missing or the reference is 0."""
    if ours is None or reference is None or reference == 0:
        return None
    return ours / reference
