"""The host's plain parts fed with values: restart policy, timings, routing, process setup, failure mapping."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from grpclib.client import Channel

from mmplugin.hooks.table import HOOKS, OnError
from mmplugin.host import HookTimings, RestartPolicy
from mmplugin.host.adapter import HooksAdapter
from mmplugin.host.errors import PluginStartError
from mmplugin.host.process import (
    PATH_INTERPRETERS,
    VENV_INTERPRETERS,
    find_interpreter,
    plugin_command,
    plugin_environment,
)
from mmplugin.host.routing import (
    IncomingRequest,
    TokenAuth,
    build_request_init,
    canonical_header,
    split_plugin_path,
    without_query_param,
    without_session_cookie,
)
from mmplugin.manifest import parse_manifest
from mmplugin.wire.codec import MessageCodec


def test_restart_policy_backs_off_and_gives_up_within_the_window() -> None:
    policy = RestartPolicy(limit=3, window=100.0, initial_delay=1.0, max_delay=3.0)
    assert [policy.failure(t) for t in (0.0, 1.0, 2.0)] == [1.0, 2.0, 3.0]
    assert policy.failure(3.0) is None
    fresh = RestartPolicy(limit=1, window=10.0, initial_delay=0.5)
    assert fresh.failure(0.0) == 0.5
    assert fresh.failure(20.0) == 0.5, "old failures leave the window"
    with pytest.raises(ValueError, match="invalid restart policy"):
        RestartPolicy(limit=-1)


def test_timings_histogram_is_prometheus_shaped() -> None:
    timings = HookTimings(buckets=(0.001, 0.01))
    for seconds, failed in ((0.0005, False), (0.005, True), (0.5, False)):
        timings.observe("p", "MessageWillBePosted", seconds, failed=failed)
    stats = timings.get("p", "MessageWillBePosted")
    assert (stats.count, stats.errors) == (3, 1)
    assert stats.sum_seconds == pytest.approx(0.5055)
    assert stats.cumulative() == [(0.001, 1), (0.01, 2), (float("inf"), 3)]
    assert stats.quantile(0.5) == 0.01
    assert timings.get("p", "Other").count == 0
    snapshot = timings.snapshot()
    timings.observe("p", "MessageWillBePosted", 0.1)
    assert snapshot[("p", "MessageWillBePosted")].count == 3, "a snapshot is a copy"
    with pytest.raises(ValueError, match="strictly increasing"):
        HookTimings(buckets=(0.1, 0.01))


def test_routing_helpers() -> None:
    assert split_plugin_path("/plugins/com.example.x/a/b") == ("com.example.x", "/a/b")
    assert split_plugin_path("/plugins/com.example.x") == ("com.example.x", "")
    assert split_plugin_path("/plugins/bad%2Fid/x") is None
    assert split_plugin_path("/api/v4/x") is None
    assert without_query_param("a=1&access_token=t&b=%20&access_token=u", "access_token") == "a=1&b=%20"
    assert canonical_header("x-custom-HEADER") == "X-Custom-Header"
    assert without_session_cookie("a=1; MMAUTHTOKEN=s;b=2") == "a=1; b=2"
    auth = TokenAuth({"t": "user1"})
    assert auth.user_for({"authorization": ["Token t"]}, "") == "user1"
    assert auth.user_for({"authorization": ["Basic t"]}, "") is None
    assert auth.user_for({}, "x=1&access_token=t") == "user1"


def test_request_init_drops_identity_the_host_did_not_set() -> None:
    request = IncomingRequest(
        method="POST", raw_path="/plugins/p/hook", query="access_token=t", client="10.0.0.1:5555",
        headers=[("host", "example.com"), ("mattermost-user-id", "spoofed"), ("transfer-encoding", "chunked"),
                 ("cookie", "MMAUTHTOKEN=x"), ("user-agent", "ua")])
    init = build_request_init(request, "/hook", None)
    assert init.url == "/hook"
    assert init.request_uri == "/plugins/p/hook?access_token=t"
    assert init.content_length == -1
    assert init.host == "example.com"
    assert {h.key for h in init.headers} == {"Transfer-Encoding", "User-Agent"}
    assert init.plugin_context is not None
    assert (init.plugin_context.ip_address, init.plugin_context.user_agent) == ("10.0.0.1", "ua")


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_interpreter_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin, path_dir = tmp_path / "plugin", tmp_path / "bin"
    plugin.mkdir()
    monkeypatch.setenv("PATH", str(path_dir))
    with pytest.raises(PluginStartError, match="no Python interpreter found"):
        find_interpreter(plugin)
    for name in reversed(PATH_INTERPRETERS):
        _executable(path_dir / name)
        assert find_interpreter(plugin) == str(path_dir / name)
    assert find_interpreter(plugin, fallback="/opt/host/python") == "/opt/host/python"
    for relative in reversed(VENV_INTERPRETERS):
        _executable(plugin / relative)
        assert find_interpreter(plugin) == str(plugin / relative)
        assert find_interpreter(plugin, fallback="/opt/host/python") == str(plugin / relative)
    assert find_interpreter(plugin, "python3") == str(path_dir / "python3")
    assert find_interpreter(plugin, "./bin/py") == os.path.abspath("./bin/py")


def test_plugin_command_and_environment(tmp_path: Path) -> None:
    manifest = parse_manifest({"id": "com.example.cmd", "name": "x", "server": {"executable": "main.py"}})
    with pytest.raises(PluginStartError, match=r"server.executable 'main.py' not found"):
        plugin_command(tmp_path, manifest, "python3")
    (tmp_path / "main.py").write_text("")
    assert plugin_command(tmp_path, manifest, "/usr/bin/python3") == ["/usr/bin/python3", str(tmp_path / "main.py")]
    go = parse_manifest({"id": "com.example.go", "name": "x", "server": {"executable": "server/dist/plugin"}})
    with pytest.raises(PluginStartError, match="not a Python plugin"):
        plugin_command(tmp_path, go)
    env = plugin_environment("127.0.0.1:1234", {"PATH": "/bin"})
    assert env == {
        "PATH": "/bin", "MATTERMOST_PLUGIN": "Securely message teams, anywhere.", "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000", "PLUGIN_PROTOCOL_VERSIONS": "1", "MATTERMOST_PLUGIN_API_TARGET": "127.0.0.1:1234",
    }


async def test_failed_rpcs_map_to_each_hooks_negative_answer() -> None:
    """Every unary hook against a dead plugin: fail-open rows answer their default, the others an error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    channel = Channel("127.0.0.1", port, codec=MessageCodec())
    adapter = HooksAdapter(channel, "com.example.dead", timeout=5)
    adapter.implemented = frozenset(h.name for h in HOOKS)
    try:
        for hook in HOOKS:
            if hook.streaming:
                continue
            response = await adapter.invoke(hook.name)
            if hook.fail_open:
                assert response == hook.default_response(), hook.name
            elif hook.on_error is OnError.UNHEALTHY:
                assert response.healthy is False
            else:
                assert hook.on_error is OnError.APP_ERROR, hook.name
                assert response.error.id == f"plugin.grpc.{hook.method}.error"
                assert (response.error.status_code, response.error.where) == (500, hook.name)
            assert adapter.timings.get("com.example.dead", hook.name).errors == 1
    finally:
        channel.close()
