"""The host's metrics: scraped from ``/metrics`` on the real front after real plugin processes did work.

examples/hello runs under the host with the front served by uvicorn; hooks are fired through the
admin endpoints and HTTP streams through the front, then ``/metrics`` is parsed with
prometheus_client's own parser and compared with exact counts and with ``env.metrics()``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from host_support import FAST, make_plugin, serve_asgi
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import DuplicateTimeseries

from mmplugin.host import (
    AdminApp,
    Environment,
    HostCollector,
    HostFront,
    HostMetrics,
    InMemoryApi,
    PluginCounters,
    PluginState,
    Store,
    TokenAuth,
    metrics_registry,
)
from mmplugin.host.timing import HookTimings

HELLO_DIR = Path(__file__).resolve().parent.parent / "examples" / "hello"
HELLO = "com.example.hello"

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]

FAMILY_TYPES = {
    "mmplugin_hook_calls": "counter",
    "mmplugin_hook_errors": "counter",
    "mmplugin_hook_duration_seconds": "histogram",
    "mmplugin_plugin_up": "gauge",
    "mmplugin_plugin_state": "gauge",  # an OpenMetrics stateset, written as a gauge in the text format
    "mmplugin_plugin_restarts": "counter",
    "mmplugin_plugin_health_check_failures": "counter",
    "mmplugin_servehttp_streams_open": "gauge",
    "mmplugin_servehttp_request_bytes": "counter",
    "mmplugin_servehttp_response_bytes": "counter",
}


def parse(text: str) -> Scrape:
    """Every sample, keyed by ``(sample name, labels)``; also checks the families and their types."""
    families = list(text_string_to_metric_families(text))
    assert {f.name: f.type for f in families} == FAMILY_TYPES
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def value(scrape: Scrape, name: str, **labels: str) -> float:
    return scrape[(name, frozenset(labels.items()))]


async def scrape(client: httpx.AsyncClient) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version="), "the Prometheus text format"
    return parse(response.text)


@pytest.fixture
async def hello() -> AsyncIterator[tuple[Environment, httpx.AsyncClient]]:
    store = Store()
    seed = store.seed()
    env = Environment(InMemoryApi(store), FAST)
    await env.activate(env.load(HELLO_DIR).id)
    try:
        front = HostFront(env, TokenAuth({"tok": seed.user.id}), AdminApp(env, store, seed))
        async with serve_asgi(front) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield env, client
    finally:
        await env.shutdown()


async def test_scrape_counts_hooks_and_servehttp_traffic(hello: tuple[Environment, httpx.AsyncClient]) -> None:
    env, client = hello
    for message, status in [("hello", 201), ("buy spam now", 400), ("shout: hi", 201)]:
        assert (await client.post("/_mmplugin/posts", json={"message": message})).status_code == status
    for command in ("/hello Ann", "/hello"):
        assert (await client.post("/_mmplugin/commands", json={"command": command})).status_code == 200

    # An upload that pauses half way: the stream is open and the first part already counted.
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"a" * 100_000
        await release.wait()
        yield b"b" * 150_000

    upload = asyncio.create_task(client.post(f"/plugins/{HELLO}/echo", content=body()))
    try:
        for _ in range(200):
            during = await scrape(client)
            if value(during, "mmplugin_servehttp_request_bytes_total", plugin_id=HELLO) == 100_000:
                break
            await asyncio.sleep(0.05)
        assert value(during, "mmplugin_servehttp_request_bytes_total", plugin_id=HELLO) == 100_000
        assert value(during, "mmplugin_servehttp_streams_open", plugin_id=HELLO) == 1
    finally:
        release.set()
    echoed = await upload
    assert echoed.content == b"a" * 100_000 + b"b" * 150_000
    before_download = env.metrics()

    async with client.stream("GET", f"/plugins/{HELLO}/ticks?n=3") as events:
        downloaded = b"".join([chunk async for chunk in events.aiter_bytes()])
    assert downloaded == b"data: tick 0\n\ndata: tick 1\n\ndata: tick 2\n\n"

    scraped = await scrape(client)
    calls = {"OnActivate": 1, "MessageWillBePosted": 3, "ExecuteCommand": 2, "ServeHTTP": 2}
    for hook, count in calls.items():
        assert value(scraped, "mmplugin_hook_calls_total", plugin_id=HELLO, hook=hook) == count, hook
        assert value(scraped, "mmplugin_hook_errors_total", plugin_id=HELLO, hook=hook) == 0, hook
        assert value(scraped, "mmplugin_hook_duration_seconds_count", plugin_id=HELLO, hook=hook) == count
        buckets = sorted((float(dict(labels)["le"]), n) for (name, labels), n in scraped.items()
                         if name == "mmplugin_hook_duration_seconds_bucket" and ("hook", hook) in labels)
        assert buckets[-1] == (float("inf"), count)
        assert [n for _, n in buckets] == sorted(n for _, n in buckets), "buckets are cumulative"
        assert value(scraped, "mmplugin_hook_duration_seconds_sum", plugin_id=HELLO, hook=hook) > 0
    called = {dict(labels)["hook"] for (name, labels) in scraped if name == "mmplugin_hook_calls_total"}
    assert called == set(calls), "MessageHasBeenPosted is not implemented by hello, so never called"

    assert value(scraped, "mmplugin_servehttp_request_bytes_total", plugin_id=HELLO) == 250_000
    assert value(scraped, "mmplugin_servehttp_response_bytes_total", plugin_id=HELLO) == 250_000 + len(downloaded)
    assert value(scraped, "mmplugin_servehttp_streams_open", plugin_id=HELLO) == 0
    assert value(scraped, "mmplugin_plugin_up", plugin_id=HELLO) == 1
    assert value(scraped, "mmplugin_plugin_state", plugin_id=HELLO, mmplugin_plugin_state="running") == 1
    assert value(scraped, "mmplugin_plugin_state", plugin_id=HELLO, mmplugin_plugin_state="stopped") == 0
    assert value(scraped, "mmplugin_plugin_restarts_total", plugin_id=HELLO) == 0
    assert value(scraped, "mmplugin_plugin_health_check_failures_total", plugin_id=HELLO) == 0

    # The Python view holds the same numbers; a snapshot does not move afterwards.
    metrics = env.metrics()
    assert metrics.plugins[HELLO] == PluginCounters(servehttp_request_bytes=250_000,
                                                    servehttp_response_bytes=250_000 + len(downloaded))
    assert metrics.states == {HELLO: PluginState.RUNNING}
    assert {hook: s.count for (_, hook), s in metrics.hooks.items()} == calls
    assert before_download.hooks[(HELLO, "ServeHTTP")].count == 1
    assert before_download.plugins[HELLO].servehttp_response_bytes == 250_000


async def test_scrape_counts_restarts_health_failures_and_errors(tmp_path: Path) -> None:
    # Start 2 (the first restart) fails its health check at start; start 3 runs.
    directory = make_plugin(tmp_path, "com.example.flaky", {"start": {"2": {"healthy_checks": 0}}})
    env = Environment(InMemoryApi(Store()), FAST)
    await env.activate(env.load(directory).id)
    labels = {"plugin_id": "com.example.flaky"}
    try:
        async with serve_asgi(HostFront(env)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            invalid = await client.get("/plugins/com.example.flaky/status?code=1000")
            assert invalid.status_code == 500

            supervisor = env.supervisor("com.example.flaky")
            assert supervisor is not None
            assert supervisor.pid is not None
            os.kill(supervisor.pid, signal.SIGKILL)
            await supervisor.wait_for(PluginState.RESTARTING, timeout=10)
            await supervisor.wait_for(PluginState.RUNNING, timeout=20)
            assert "health check failed after start" in supervisor.last_failure

            scraped = await scrape(client)
            assert value(scraped, "mmplugin_plugin_restarts_total", **labels) == 1
            assert value(scraped, "mmplugin_plugin_health_check_failures_total", **labels) == 1
            assert value(scraped, "mmplugin_plugin_up", **labels) == 1
            assert value(scraped, "mmplugin_hook_calls_total", hook="OnActivate", **labels) == 2
            assert value(scraped, "mmplugin_hook_calls_total", hook="ServeHTTP", **labels) == 1
            assert value(scraped, "mmplugin_hook_errors_total", hook="ServeHTTP", **labels) == 1
            assert value(scraped, "mmplugin_servehttp_response_bytes_total", **labels) == 0, \
                "the host's own 500 text is not the plugin's"

            await env.deactivate("com.example.flaky")
            stopped = await scrape(client)
            assert value(stopped, "mmplugin_plugin_up", **labels) == 0
            assert value(stopped, "mmplugin_plugin_state", mmplugin_plugin_state="stopped", **labels) == 1
            assert value(stopped, "mmplugin_plugin_restarts_total", **labels) == 1, "counters outlive activations"
            assert value(stopped, "mmplugin_hook_calls_total", hook="OnDeactivate", **labels) == 1

            openmetrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
            assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
            families = {f.name: f for f in parse_openmetrics(openmetrics.text)}
            assert families["mmplugin_plugin_state"].type == "stateset"
            assert families["mmplugin_plugin_restarts"].samples[0].value == 1
    finally:
        await env.shutdown()


def test_collector_renders_a_snapshot() -> None:
    timings = HookTimings(buckets=(0.01, 0.1))
    timings.observe("p", "ExecuteCommand", 0.005)
    timings.observe("p", "ExecuteCommand", 0.05, failed=True)
    timings.observe("p", "ExecuteCommand", 3.0)
    timings.observe("q", "OnActivate", 0.1)
    counters = PluginCounters(restarts=2, health_check_failures=3, servehttp_streams_open=1,
                              servehttp_request_bytes=10, servehttp_response_bytes=20)
    snapshot = HostMetrics(hooks=timings.snapshot(), plugins={"p": counters, "q": PluginCounters()},
                           states={"p": PluginState.RUNNING, "q": PluginState.FAILED})

    scraped = parse(generate_latest(metrics_registry(lambda: snapshot)).decode())

    command = {"plugin_id": "p", "hook": "ExecuteCommand"}
    assert value(scraped, "mmplugin_hook_calls_total", **command) == 3
    assert value(scraped, "mmplugin_hook_errors_total", **command) == 1
    assert [value(scraped, "mmplugin_hook_duration_seconds_bucket", le=le, **command)
            for le in ("0.01", "0.1", "+Inf")] == [1, 2, 3]
    assert value(scraped, "mmplugin_hook_duration_seconds_sum", **command) == pytest.approx(3.055)
    assert value(scraped, "mmplugin_hook_duration_seconds_bucket", le="0.1", plugin_id="q", hook="OnActivate") == 1
    for name, expected in [("mmplugin_plugin_restarts_total", 2), ("mmplugin_plugin_health_check_failures_total", 3),
                           ("mmplugin_servehttp_streams_open", 1), ("mmplugin_servehttp_request_bytes_total", 10),
                           ("mmplugin_servehttp_response_bytes_total", 20), ("mmplugin_plugin_up", 1)]:
        assert value(scraped, name, plugin_id="p") == expected, name
        assert value(scraped, name, plugin_id="q") == 0, name
    states = {dict(labels)["mmplugin_plugin_state"]: n for (name, labels), n in scraped.items()
              if name == "mmplugin_plugin_state" and ("plugin_id", "q") in labels}
    assert states == {s.value: float(s is PluginState.FAILED) for s in PluginState}


def test_each_host_has_its_own_registry() -> None:
    first, second = metrics_registry(HostMetrics), metrics_registry(HostMetrics)
    with pytest.raises(DuplicateTimeseries):
        first.register(HostCollector(HostMetrics))
    assert parse(generate_latest(second).decode()) == {}, "no plugins, no hooks: families without samples"
    assert not [m for m in REGISTRY.collect() if m.name.startswith("mmplugin")], "the global registry is untouched"
