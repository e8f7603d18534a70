"""A snapshot of every number the host keeps: the Python view of its metrics.

:meth:`Environment.metrics() <mmplugin.host.environment.Environment.metrics>` takes one; the
Prometheus exporter (:mod:`mmplugin.host.exporter`) renders one per scrape, so tests, benchmarks
and ``/metrics`` read the same numbers.

Example::

    metrics = env.metrics()
    metrics.hooks[("com.example.hello", "ExecuteCommand")].count
    metrics.plugins["com.example.hello"].servehttp_response_bytes
    metrics.states["com.example.hello"] is PluginState.RUNNING
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mmplugin.host.counters import PluginCounters
from mmplugin.host.supervisor import PluginState
from mmplugin.host.timing import HookStats


@dataclass(frozen=True)
class HostMetrics:
    """Copies of the host's counters at one moment; later activity does not change them."""

    hooks: Mapping[tuple[str, str], HookStats] = field(default_factory=dict)
    """Per ``(plugin_id, hook)``: calls, errors and latency histogram (hooks called at least once)."""
    plugins: Mapping[str, PluginCounters] = field(default_factory=dict)
    """Per loaded plugin id: restarts, health-check failures, ServeHTTP streams and bytes."""
    states: Mapping[str, PluginState] = field(default_factory=dict)
    """Per loaded plugin id: its state (same keys as :attr:`plugins`)."""


__all__ = ["HostMetrics"]
