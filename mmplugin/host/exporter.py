"""The host's metrics in the Prometheus exposition format, read from its own counters at scrape time.

:class:`HostCollector` renders a :class:`~mmplugin.host.metrics.HostMetrics` snapshot as metric
families with ``prometheus_client``; :func:`metrics_registry` gives each host a registry of its own
(never the process-wide default, so several hosts in one process do not clash);
:func:`metrics_app` is the ASGI endpoint :class:`~mmplugin.host.front.HostFront` serves at
``/metrics``. The metric names, types and labels are listed in docs/host.md.

Example::

    registry = metrics_registry(env.metrics)
    text = prometheus_client.generate_latest(registry)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.utils import floatToGoString

from mmplugin.host.asgi import ASGIApp
from mmplugin.host.counters import PluginCounters
from mmplugin.host.metrics import HostMetrics
from mmplugin.host.supervisor import PluginState

HOOK_LABELS = ("plugin_id", "hook")
PLUGIN_LABELS = ("plugin_id",)


class HostCollector:
    """A ``prometheus_client`` collector that asks ``source`` for a fresh snapshot on every scrape."""

    def __init__(self, source: Callable[[], HostMetrics]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return iter(metric_families(self.source()))

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so a registry can detect name clashes."""
        return iter(metric_families(HostMetrics()))


def metric_families(metrics: HostMetrics) -> list[Metric]:
    """Every metric family of the host, filled from ``metrics``."""
    calls = CounterMetricFamily("mmplugin_hook_calls", "Hook calls the host made to a plugin.", labels=HOOK_LABELS)
    errors = CounterMetricFamily(
        "mmplugin_hook_errors", "Hook calls that failed: RPC error or deadline, an AppError answer, "
        "or a ServeHTTP status of 500 or more.", labels=HOOK_LABELS)
    duration = HistogramMetricFamily("mmplugin_hook_duration_seconds", "Hook call latency seen by the host.",
                                     labels=HOOK_LABELS, unit="seconds")
    for (plugin_id, hook), stats in sorted(metrics.hooks.items()):
        labels = [plugin_id, hook]
        calls.add_metric(labels, stats.count)
        errors.add_metric(labels, stats.errors)
        duration.add_metric(labels, [(_le(bound), seen) for bound, seen in stats.cumulative()], stats.sum_seconds)

    up = GaugeMetricFamily("mmplugin_plugin_up", "1 while the plugin is running and serving hooks, else 0.",
                           labels=PLUGIN_LABELS)
    state = StateSetMetricFamily("mmplugin_plugin_state", "The plugin's lifecycle state.", labels=PLUGIN_LABELS)
    restarts = CounterMetricFamily(
        "mmplugin_plugin_restarts", "Times the plugin was running again after its process exited or failed "
        "a health check.", labels=PLUGIN_LABELS)
    health_failures = CounterMetricFamily(
        "mmplugin_plugin_health_check_failures", "Health checks of the plugin that failed or did not answer "
        "SERVING.", labels=PLUGIN_LABELS)
    streams_open = GaugeMetricFamily("mmplugin_servehttp_streams_open", "ServeHTTP streams in progress.",
                                     labels=PLUGIN_LABELS)
    request_bytes = CounterMetricFamily("mmplugin_servehttp_request_bytes", "HTTP request body bytes sent "
                                        "to the plugin's ServeHTTP.", labels=PLUGIN_LABELS, unit="bytes")
    response_bytes = CounterMetricFamily("mmplugin_servehttp_response_bytes", "HTTP response body bytes "
                                         "received from the plugin's ServeHTTP.", labels=PLUGIN_LABELS, unit="bytes")
    for plugin_id, current in sorted(metrics.states.items()):
        counters = metrics.plugins.get(plugin_id, PluginCounters())
        labels = [plugin_id]
        up.add_metric(labels, current is PluginState.RUNNING)
        state.add_metric(labels, {s.value: s is current for s in PluginState})
        restarts.add_metric(labels, counters.restarts)
        health_failures.add_metric(labels, counters.health_check_failures)
        streams_open.add_metric(labels, counters.servehttp_streams_open)
        request_bytes.add_metric(labels, counters.servehttp_request_bytes)
        response_bytes.add_metric(labels, counters.servehttp_response_bytes)
    return [calls, errors, duration, up, state, restarts, health_failures, streams_open, request_bytes,
            response_bytes]


def _le(bound: float) -> str:
    """A bucket bound as Prometheus spells it ("0.005", "+Inf")."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
    return text


def metrics_registry(source: Callable[[], HostMetrics]) -> CollectorRegistry:
    """A new registry holding only a :class:`HostCollector` of ``source``."""
    registry = CollectorRegistry()
    registry.register(HostCollector(source))
    return registry


def metrics_app(registry: CollectorRegistry) -> ASGIApp:
    """The ASGI app answering a scrape of ``registry`` (text format, or OpenMetrics if the scraper asks)."""
    app: ASGIApp = make_asgi_app(registry)
    return app


__all__ = ["HostCollector", "metric_families", "metrics_app", "metrics_registry"]
