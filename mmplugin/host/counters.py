"""Per-plugin counters of the host: restarts, health-check failures and ServeHTTP traffic.

A plain object the supervisor and the ServeHTTP client increment as things happen. The
:class:`~mmplugin.host.environment.Environment` keeps one per plugin id for the host's whole life
(activations and restarts do not reset it), so the counters only ever go up, as Prometheus wants;
``servehttp_streams_open`` is the one gauge.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PluginCounters:
    """What happened to one plugin since the host loaded it."""

    restarts: int = 0
    """Times the plugin was running again after its process exited or failed a health check."""
    health_check_failures: int = 0
    """``grpc.health.v1.Health/Check`` calls that failed or did not answer SERVING."""
    servehttp_streams_open: int = 0
    """ServeHTTP streams in progress now."""
    servehttp_request_bytes: int = 0
    """Request body bytes sent to the plugin."""
    servehttp_response_bytes: int = 0
    """Response body bytes received from the plugin."""


__all__ = ["PluginCounters"]
