"""The plugin runtime's pieces without a process: class checks, result mapping, start-up, log format."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

import mmplugin
from mmplugin import DISMISS_POST, HookError, Plugin, Reject
from mmplugin.hooks import HOOKS_BY_NAME
from mmplugin.plugin.dispatch import ResultTypeError, error_response, expected_results, to_response
from mmplugin.plugin.errors import StartupError
from mmplugin.plugin.logs import HclogFormatter, StdoutLog
from mmplugin.plugin.plugin import implemented_hooks, timeout_for
from mmplugin.plugin.runner import HookRunner
from mmplugin.plugin.startup import bind_listener, check_cookie, port_range
from mmplugin.proto import pb
from mmplugin.wire.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE


def test_public_names() -> None:
    assert mmplugin.__all__ == sorted(mmplugin.__all__)
    assert mmplugin.__all__ == ["DISMISS_POST", "HookError", "Plugin", "Reject", "run"]
    assert DISMISS_POST == "plugin.message_will_be_posted.dismiss_post"


# --- class definition -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "message"), [
    ("on_activated", "is not a hook handler; did you mean on_activate?"),
    ("message_will_be_post", "did you mean message_will_be_posted?"),
    ("user_has_loggedin", "did you mean user_has_logged_in?"),
    ("onactivate", "did you mean on_activate?"),
    ("MessageWillBePosted", "handlers are named in snake_case; define message_will_be_posted"),
])
def test_lookalike_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        type("Typo", (Plugin,), {name: lambda self: None})


def test_wrong_parameters_are_refused() -> None:
    with pytest.raises(TypeError) as caught:
        class Wrong(Plugin):
            def message_will_be_posted(self, post: pb.Post) -> None: ...
    assert str(caught.value) == (
        "test_wrong_parameters_are_refused.<locals>.Wrong.message_will_be_posted handles MessageWillBePosted "
        "and is called as message_will_be_posted(self, plugin_context, post); its signature is "
        "message_will_be_posted(self, post: 'pb.Post') -> 'None'"
    )


@pytest.mark.parametrize("value", [True, staticmethod(lambda: None), None])
def test_hook_names_must_be_methods(value: object) -> None:
    message = r"Bad\.on_activate must be a method \(def or async def\).*on_deactivate"
    with pytest.raises(TypeError, match=message):
        type("Bad", (Plugin,), {"on_activate": value})


@pytest.mark.parametrize(("settings", "message"), [
    ({"timeouts": {"message_will_be_postd": 1}}, "'message_will_be_postd' is not a hook handler name; "
                                                 "did you mean message_will_be_posted?"),
    ({"timeouts": {"on_activate": 0}}, r"timeouts\['on_activate'\] must be a number of seconds > 0, got 0"),
    ({"hook_timeout": "30"}, "hook_timeout must be a number of seconds > 0, got '30'"),
    ({"shutdown_grace": -1}, "shutdown_grace must be a number of seconds >= 0, got -1"),
    ({"max_workers": 0}, "max_workers must be a positive int, got 0"),
    ({"warm_up": "no"}, "warm_up must be True or False, got 'no'"),
])
def test_settings_are_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        type("Settings", (Plugin,), settings)


def test_helpers_and_flexible_signatures_are_accepted() -> None:
    class Fine(Plugin):
        timeouts: ClassVar[dict[str, float]] = {"execute_command": 2.5}

        def _on_activated(self) -> None: ...

        def send_reply(self, text: str) -> str:
            return text

        def on_activate(self, *args: Any) -> None: ...

        async def execute_command(self, plugin_context: Any, args: Any, extra: int = 0) -> None: ...

    assert implemented_hooks(Fine) == ["OnActivate", "ExecuteCommand"]
    assert timeout_for(Fine, HOOKS_BY_NAME["ExecuteCommand"]) == 2.5
    assert timeout_for(Fine, HOOKS_BY_NAME["OnActivate"]) == 30.0


def test_implemented_follows_inheritance_and_implies_on_activate() -> None:
    class Base(Plugin):
        def on_configuration_change(self) -> None: ...

    class Child(Base):
        def user_has_logged_in(self, plugin_context: Any, user: Any) -> None: ...

    assert implemented_hooks(Plugin) == []
    assert implemented_hooks(Base) == ["OnActivate", "OnConfigurationChange"]
    assert implemented_hooks(Child) == ["OnActivate", "OnConfigurationChange", "UserHasLoggedIn"]


# --- results and errors -----------------------------------------------------------------------------

POSTED = HOOKS_BY_NAME["MessageWillBePosted"]


@pytest.mark.parametrize(("hook", "value", "expected"), [
    ("MessageWillBePosted", None, pb.MessageWillBePostedResponse()),
    ("MessageWillBePosted", Reject("no"), pb.MessageWillBePostedResponse(rejection_reason="no")),
    ("MessageWillBePosted", pb.Post(message="x"),
     pb.MessageWillBePostedResponse(modified_post=pb.Post(message="x"))),
    ("UserWillLogIn", Reject("locked"), pb.UserWillLogInResponse(rejection_reason="locked")),
    ("RunDataRetention", 3, pb.RunDataRetentionResponse(deleted_count=3)),
    ("OnSharedChannelsPing", True, pb.OnSharedChannelsPingResponse(healthy=True)),
    ("MessagesWillBeConsumed", (pb.Post(id="a"),),
     pb.MessagesWillBeConsumedResponse(posts=[pb.Post(id="a")])),
    ("FileWillBeUploaded", pb.FileWillBeUploadedResponse(modified_content=b"x"),
     pb.FileWillBeUploadedResponse(modified_content=b"x")),
])
def test_results_fill_the_response(hook: str, value: object, expected: object) -> None:
    assert to_response(HOOKS_BY_NAME[hook], value) == expected


@pytest.mark.parametrize(("hook", "value"), [
    ("ExecuteCommand", Reject("no")),  # no rejection in ExecuteCommand's answer
    ("RunDataRetention", True),  # a bool is not a count
    ("MessagesWillBeConsumed", [pb.Post(), "x"]),
    ("OnActivate", "ok"),
    ("MessageWillBePosted", pb.MessageWillBeUpdatedResponse()),
])
def test_results_of_the_wrong_type_are_refused(hook: str, value: object) -> None:
    with pytest.raises(ResultTypeError, match=f"returned {type(value).__name__}; {hook} expects "):
        to_response(HOOKS_BY_NAME[hook], value)


def test_expected_results_in_words() -> None:
    assert expected_results(POSTED) == "None, Post, Reject(reason) or MessageWillBePostedResponse"
    assert expected_results(HOOKS_BY_NAME["GenerateSupportData"]) == (
        "None, list[FileData] or GenerateSupportDataResponse")


def test_reject_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="non-empty reason"):
        Reject("")


@pytest.mark.parametrize(("hook", "expected"), [
    ("OnActivate", pb.OnActivateResponse(error=pb.AppError(
        id="plugin.on_activate.error", message="KeyError: 'x'", detailed_error="KeyError: 'x'",
        where="OnActivate", status_code=500))),
    ("MessageWillBePosted", pb.MessageWillBePostedResponse(rejection_reason="KeyError: 'x'")),
    ("OnSharedChannelsPing", pb.OnSharedChannelsPingResponse(healthy=False)),
    ("ChannelHasBeenCreated", pb.ChannelHasBeenCreatedResponse()),
])
def test_exceptions_become_the_negative_answer(hook: str, expected: object) -> None:
    assert error_response(HOOKS_BY_NAME[hook], KeyError("x")) == expected


def test_hook_error_fields() -> None:
    error = HookError("read-only", id="com.example.ro", status_code=403)
    assert error_response(HOOKS_BY_NAME["OnSAMLLogin"], error).error == pb.AppError(
        id="com.example.ro", message="read-only", detailed_error="read-only", where="OnSAMLLogin",
        status_code=403)
    assert error_response(POSTED, error).rejection_reason == "read-only"
    assert error_response(POSTED, RuntimeError()).rejection_reason == "RuntimeError"


# --- runner -----------------------------------------------------------------------------------------

@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield pool


async def test_budget_shortens_the_timeout(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    release = asyncio.Event()

    class Slow(Plugin):
        async def message_will_be_posted(self, plugin_context: Any, post: Any) -> None:
            await release.wait()

    runner = HookRunner(Slow(), executor)
    reply = await runner.answer(POSTED, pb.MessageWillBePostedRequest(), budget=0.05)
    assert reply.rejection_reason == "message_will_be_posted did not answer within 0.05 s"
    reply = await runner.answer(POSTED, pb.MessageWillBePostedRequest(), budget=-1.0)
    assert reply.rejection_reason == "message_will_be_posted did not answer within 0 s"


async def test_sync_handlers_run_off_the_loop(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    threads = []

    class Sync(Plugin):
        def execute_command(self, plugin_context: Any, args: Any) -> pb.CommandResponse:
            threads.append(threading.get_ident())
            return pb.CommandResponse(text=args.command)

    runner = HookRunner(Sync(), executor)
    reply = await runner.answer(HOOKS_BY_NAME["ExecuteCommand"],
                                pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/x")))
    assert reply.response.text == "/x"
    assert threads != [threading.get_ident()]
    assert len(threads) == 1
    assert runner.busy_threads == 0


# --- start-up ---------------------------------------------------------------------------------------

def test_cookie() -> None:
    check_cookie({MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE})
    with pytest.raises(StartupError, match="launched by a Mattermost server, or locally with `mmplugin run`"):
        check_cookie({})


@pytest.mark.parametrize(("env", "expected"), [
    ({}, range(0, 1)),
    ({"PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "10002"}, range(10000, 10003)),
])
def test_port_range(env: dict[str, str], expected: range) -> None:
    assert port_range(env) == expected


@pytest.mark.parametrize(("env", "message"), [
    ({"PLUGIN_MIN_PORT": "10000"}, "PLUGIN_MAX_PORT='' is not a port number"),
    ({"PLUGIN_MIN_PORT": "x", "PLUGIN_MAX_PORT": "10"}, "PLUGIN_MIN_PORT='x' is not a port number"),
    ({"PLUGIN_MIN_PORT": "20", "PLUGIN_MAX_PORT": "10"}, "PLUGIN_MIN_PORT=20 is above PLUGIN_MAX_PORT=10"),
])
def test_bad_port_ranges(env: dict[str, str], message: str) -> None:
    with pytest.raises(StartupError, match=message):
        port_range(env)


def test_listener_uses_ipproto_tcp_on_loopback() -> None:
    with bind_listener(range(0, 1)) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        host, port = sock.getsockname()
        assert host == "127.0.0.1"
        sock.listen()
        with pytest.raises(StartupError, match=f"no free port on 127.0.0.1 in .* = {port}..{port}"):
            bind_listener(range(port, port + 1))


# --- logs -------------------------------------------------------------------------------------------

def record(level: int, message: str, **extra: Any) -> logging.LogRecord:
    logger = logging.getLogger("plugin.test")
    return logger.makeRecord(logger.name, level, __file__, 1, message, (), None, extra=extra)


def test_formatter_writes_hclog_json() -> None:
    line = json.loads(HclogFormatter().format(record(logging.WARNING, "careful", user_id="u1")))
    assert line["@level"] == "warn"
    assert line["@message"] == "careful"
    assert line["user_id"] == "u1"
    assert line["logger"] == "plugin.test"
    assert set(line) == {"@level", "@message", "@timestamp", "user_id", "logger"}


def test_formatter_includes_the_exception() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        logger = logging.getLogger()
        rec = logger.makeRecord("root", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(HclogFormatter().format(rec))
    assert line["@level"] == "error"
    assert "ValueError: bad" in line["exception"]
    assert "logger" not in line


def test_stdout_log_emits_whole_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    logger = logging.getLogger("stdout-test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        out = StdoutLog(logger)
        print("one\ntwo", end="", file=out)
        print(" halves", file=out)
        print("partial", end="", file=out)
        out.flush()
    finally:
        logger.removeHandler(handler)
    messages = [json.loads(line)["@message"] for line in stream.getvalue().splitlines()]
    assert messages == ["one", "two halves", "partial"]


def test_stdout_log_does_not_feed_itself() -> None:
    captured = io.StringIO()
    logger = logging.getLogger("stdout-loop")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    out = StdoutLog(logger)
    handlers = [logging.StreamHandler(captured), logging.StreamHandler(out)]  # the second writes to "stdout"
    for handler in handlers:
        logger.addHandler(handler)
    try:
        print("once", file=out)
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
    assert captured.getvalue() == "once\n"


# --- HTTP handlers ----------------------------------------------------------------------------------

def test_http_handler_checks() -> None:
    with pytest.raises(TypeError, match="must be an async def serve_http"):
        type("SyncHTTP", (Plugin,), {"serve_http": lambda self, ctx, request: None})

    async def one_arg(self: Plugin, request: object) -> None: ...
    with pytest.raises(TypeError, match=r"is called as serve_http\(self, plugin_context, request\)"):
        type("OneArg", (Plugin,), {"serve_http": one_arg})

    async def serve(self: Plugin, ctx: object, request: object) -> None: ...
    with pytest.raises(TypeError, match="defines both serve_http and asgi_app"):
        type("Both", (Plugin,), {"serve_http": serve, "asgi_app": lambda self: None})


def test_http_handler_choice() -> None:
    async def serve(self: Plugin, ctx: object, request: object) -> None: ...

    async def app(scope: object, receive: object, send: object) -> None: ...

    assert Plugin().http_handler() is None
    assert type(type("Native", (Plugin,), {"serve_http": serve})().http_handler()).__name__ == "NativeHandler"
    assert type(type("Asgi", (Plugin,), {"asgi_app": lambda self: app})().http_handler()).__name__ == "ASGIHandler"
