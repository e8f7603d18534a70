"""The host side: run Mattermost plugins the way the Mattermost server does, in Python.

- :class:`Environment` loads several plugins, activates them and runs hooks through them
  (``run_multi_plugin_hook``, the post chain, broadcasts).
- :class:`PluginSupervisor` runs one plugin process: handshake, health checks, restarts, shutdown.
- :class:`HooksAdapter` calls one plugin's hooks with the Go host's deadlines and failure rules.
- :class:`HostFront` is the ASGI app routing ``/plugins/<id>/...`` to ServeHTTP.
- :class:`InMemoryApi` serves the ``PluginAPI`` from an in-memory :class:`Store`.
- :class:`HookTimings` counts hook calls, failures and latency; :class:`PluginCounters` counts
  restarts, health-check failures and ServeHTTP traffic; :meth:`Environment.metrics` snapshots both
  as :class:`HostMetrics`, which :class:`HostCollector` exports to Prometheus (``/metrics`` on the front).

Example::

    env = Environment(InMemoryApi(), SupervisorConfig())
    await env.activate(env.load("path/to/plugin").id)
    post, rejection = await env.message_will_be_posted(pb.Post(message="hello"))
    await env.shutdown()
"""

from mmplugin.host.adapter import DEFAULT_HOOK_TIMEOUT, HooksAdapter
from mmplugin.host.admin import AdminApp
from mmplugin.host.apiserver import InMemoryApi, SqliteBackend, Store
from mmplugin.host.counters import PluginCounters
from mmplugin.host.environment import ApiEndpoint, ApiProvider, Environment
from mmplugin.host.errors import (
    ActivationError,
    HandshakeFailed,
    HookAppError,
    HostError,
    PluginNotFound,
    PluginStartError,
)
from mmplugin.host.exporter import HostCollector, metrics_registry
from mmplugin.host.front import HostFront
from mmplugin.host.metrics import HostMetrics
from mmplugin.host.restart import RestartPolicy
from mmplugin.host.routing import TokenAuth
from mmplugin.host.supervisor import PluginState, PluginSupervisor, SupervisorConfig
from mmplugin.host.timing import HookStats, HookTimings

__all__ = [
    "DEFAULT_HOOK_TIMEOUT",
    "ActivationError",
    "AdminApp",
    "ApiEndpoint",
    "ApiProvider",
    "Environment",
    "HandshakeFailed",
    "HookAppError",
    "HookStats",
    "HookTimings",
    "HooksAdapter",
    "HostCollector",
    "HostError",
    "HostFront",
    "HostMetrics",
    "InMemoryApi",
    "PluginCounters",
    "PluginNotFound",
    "PluginStartError",
    "PluginState",
    "PluginSupervisor",
    "RestartPolicy",
    "SqliteBackend",
    "Store",
    "SupervisorConfig",
    "TokenAuth",
    "metrics_registry",
]
