"""The supervisor with real plugin processes: start, handshake failures, crashes, restarts, shutdown."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from host_support import ALL_TEST_HOOKS, FAST, alive, make_plugin, starts

from mmplugin.host.errors import ActivationError, HandshakeFailed, HookAppError
from mmplugin.host.supervisor import PluginState, PluginSupervisor, SupervisorConfig
from mmplugin.manifest import load_manifest
from mmplugin.proto import pb

NO_API = "127.0.0.1:9"  # these plugins do not call the API in the paths tested here


def supervisor(directory: Path, config: SupervisorConfig = FAST) -> PluginSupervisor:
    return PluginSupervisor(directory, load_manifest(directory), NO_API, config)


async def test_start_activate_relay_logs_and_stop(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = make_plugin(tmp_path, "com.example.basic")
    sup = supervisor(directory)
    with caplog.at_level(logging.DEBUG, logger="mmplugin.host.plugin.com.example.basic"):
        await sup.start()
        try:
            assert sup.state is PluginState.RUNNING
            assert sup.hooks is not None
            assert sup.hooks.implemented == frozenset(ALL_TEST_HOOKS)
            pid = sup.pid
            assert pid is not None
            assert alive(pid)
        finally:
            await sup.stop()
    assert sup.state is PluginState.STOPPED
    assert (directory / "deactivated").read_text() == str(pid), "OnDeactivate was not called"
    assert not alive(pid)
    activated = [r for r in caplog.records if r.getMessage().startswith("activated")]
    assert activated
    assert activated[0].levelno == logging.INFO
    assert activated[0].plugin_fields == {"start": 1}  # type: ignore[attr-defined]
    assert not any("failed to exit gracefully" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("mode", "expected"), [
    ("silent", "no handshake line on stdout within 0.5 s"),
    ("garbage", "malformed handshake: handshake line must have 5"),
    ("wrong_protocol", "unsupported app protocol version '2'"),
    ("exit", "exited before printing its handshake line (exit status 3)"),
])
async def test_handshake_failures_are_clear_and_leave_no_process(tmp_path: Path, mode: str, expected: str) -> None:
    directory = make_plugin(tmp_path, "com.example.handshake", {"handshake": mode})
    sup = supervisor(directory, dataclasses.replace(FAST, handshake_timeout=0.5) if mode == "silent" else FAST)
    with pytest.raises(HandshakeFailed) as info:
        await sup.start()
    assert expected in str(info.value)
    assert "com.example.handshake" in str(info.value)
    assert sup.state is PluginState.FAILED
    assert sup.pid is None
    assert all(not alive(pid) for pid in starts(directory))
    if mode == "exit":
        assert "ModuleNotFoundError: No module named 'missing'" in info.value.stderr_tail
        assert "ModuleNotFoundError" in str(info.value)


async def test_crashed_plugin_is_restarted(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.crash")
    sup = supervisor(directory)
    await sup.start()
    try:
        assert sup.hooks is not None
        first_pid = sup.pid
        await sup.hooks.message_has_been_posted(pb.Post(message="crash"))
        await sup.wait_for(PluginState.RESTARTING, timeout=10)
        await sup.wait_for(PluginState.RUNNING, timeout=20)
        assert sup.restarts == 1
        assert "exited unexpectedly (exit status 3)" in sup.last_failure
        assert sup.pid is not None
        assert sup.pid != first_pid
        assert first_pid is not None
        assert not alive(first_pid)
        assert starts(directory) == [first_pid, sup.pid]
    finally:
        await sup.stop()
    assert all(not alive(pid) for pid in starts(directory))


async def test_restart_limit_reached_gives_up(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.limit", {"restart": {"handshake": "exit"}})
    sup = supervisor(directory, dataclasses.replace(FAST, restart_limit=2))
    await sup.start()
    try:
        assert sup.hooks is not None
        await sup.hooks.message_has_been_posted(pb.Post(message="crash"))
        await sup.wait_for(PluginState.FAILED, timeout=30)
        assert sup.restarts == 0
        assert sup.hooks is None
        assert len(starts(directory)) == 3, "one start and two restart attempts"
        assert "exited before printing its handshake line" in sup.last_failure
    finally:
        await sup.stop()
    assert sup.state is PluginState.FAILED
    assert all(not alive(pid) for pid in starts(directory))


async def test_failing_health_check_restarts_the_plugin(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.health", {"healthy_checks": 1, "restart": {"healthy_checks": None}})
    sup = supervisor(directory, dataclasses.replace(FAST, health_interval=0.2))
    await sup.start()
    try:
        await sup.wait_for(PluginState.RESTARTING, timeout=10)
        await sup.wait_for(PluginState.RUNNING, timeout=20)
        assert "failed its health check (status NOT_SERVING)" in sup.last_failure
        assert sup.restarts == 1
        first, second = starts(directory)
        assert not alive(first)
        assert sup.pid == second
    finally:
        await sup.stop()


async def test_hook_past_its_deadline_gets_the_negative_answer(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.hang", {"hang": True})
    sup = supervisor(directory)
    await sup.start()
    try:
        assert sup.hooks is not None
        sup.hooks.timeout = 0.5  # after activation, so a loaded machine cannot fail the start
        post, rejection = await sup.hooks.message_will_be_posted(pb.Post(message="hi"))
        assert (post, rejection) == (None, "")  # fail-open: unchanged
        with pytest.raises(HookAppError) as info:
            await sup.hooks.execute_command(pb.CommandArgs(command="/x"))
        assert info.value.id == "plugin.grpc.execute_command.error"
        assert info.value.status_code == 500
        assert "deadline exceeded" in info.value.app_error.detailed_error
        stats = sup.timings.get("com.example.hang", "ExecuteCommand")
        assert (stats.count, stats.errors) == (1, 1)
        assert sup.state is PluginState.RUNNING
    finally:
        await sup.stop()


async def test_activation_error_stops_the_plugin(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.noact", {"activate_error": "missing setting"})
    sup = supervisor(directory)
    with pytest.raises(ActivationError, match=r"OnActivate failed: test\.activate: missing setting"):
        await sup.start()
    assert sup.state is PluginState.FAILED
    assert all(not alive(pid) for pid in starts(directory))


async def test_stubborn_plugin_is_killed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = make_plugin(tmp_path, "com.example.stubborn", {"ignore_shutdown": True, "ignore_sigterm": True})
    sup = supervisor(directory, dataclasses.replace(FAST, shutdown_timeout=0.3, term_timeout=0.3))
    await sup.start()
    pid = sup.pid
    with caplog.at_level(logging.WARNING):
        await sup.stop()
    assert pid is not None
    assert not alive(pid)
    assert any("failed to exit gracefully" in r.getMessage() for r in caplog.records)


async def test_unimplemented_hook_answers_the_default_without_rpc(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.few", {"hooks": ["OnActivate"]})
    sup = supervisor(directory)
    await sup.start()
    try:
        assert sup.hooks is not None
        assert await sup.hooks.user_will_log_in(pb.User(id="u")) == ""
        assert await sup.hooks.on_shared_channels_ping() is True
        assert await sup.hooks.execute_command(pb.CommandArgs(command="/x")) is None
        assert sup.timings.snapshot().keys() == {("com.example.few", "OnActivate")}
    finally:
        await sup.stop()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("hook_timeout", 0, "SupervisorConfig.hook_timeout must be a positive, finite number of seconds, got 0"),
    ("handshake_timeout", float("inf"), "SupervisorConfig.handshake_timeout must be a positive, finite number"),
    ("health_interval", float("nan"), "SupervisorConfig.health_interval must be a positive, finite number"),
    ("term_timeout", "2", "SupervisorConfig.term_timeout must be a positive, finite number of seconds, got '2'"),
    ("shutdown_timeout", True, "SupervisorConfig.shutdown_timeout must be a positive"),
    ("max_receive_size", 0, "SupervisorConfig.max_receive_size must be a positive number of bytes, got 0"),
    ("restart_limit", -1, "invalid restart policy: RestartPolicy(limit=-1"),
])
def test_a_config_with_an_impossible_value_is_refused_naming_it(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        SupervisorConfig(**{field: value})  # type: ignore[arg-type]
