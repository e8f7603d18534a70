"""Every hook through a real plugin process: typed arguments in, typed results and negative answers out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from all_hooks import EXPECTED, UNARY, all_hooks_source, received, sample_request
from grpclib.client import Channel
from plugin_process import PluginProcess, call, write_plugin

from mmplugin import DISMISS_POST
from mmplugin.hooks import HOOKS_BY_NAME, Hook
from mmplugin.proto import goplugin, pb, wkt


@pytest.fixture(scope="module")
def all_hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginProcess]:
    process = PluginProcess(write_plugin(tmp_path_factory.mktemp("all"), all_hooks_source()))
    process.handshake()
    yield process
    process.stop()


@pytest.fixture
async def channel(all_hooks: PluginProcess) -> AsyncIterator[Channel]:
    channel = all_hooks.channel()
    yield channel
    channel.close()


async def test_implemented_lists_every_defined_hook(channel: Channel) -> None:
    reply = await call(channel, "/mattermost.pluginapi.v1.PluginHooks/Implemented", pb.ImplementedRequest(),
                       pb.ImplementedResponse)
    assert reply.hooks == [hook.name for hook in UNARY]


@pytest.mark.parametrize("hook", UNARY, ids=lambda hook: hook.name)
async def test_hook_gets_typed_arguments_and_sends_typed_results(
        all_hooks: PluginProcess, channel: Channel, hook: Hook) -> None:
    request = sample_request(hook)
    reply = await call(channel, hook.name, request)
    assert reply == EXPECTED.get(hook.name, hook.response())
    log = await asyncio.to_thread(all_hooks.wait_for_log, lambda log: log.fields.get("hook") == hook.name)
    assert log.fields["received"] == received(request, hook)


# --- behaviour --------------------------------------------------------------------------------------

BEHAVIOUR = """
import asyncio
import logging

import mmplugin
from mmplugin import DISMISS_POST, HookError, Reject
from mmplugin.proto import pb

RELEASE = asyncio.Event()


class Behaviour(mmplugin.Plugin):
    timeouts = {"message_will_be_updated": 0.3}

    def on_deactivate(self):
        raise ValueError("deactivation broke")

    def message_has_been_posted(self, plugin_context, post):
        raise ValueError("nobody hears this")

    def on_shared_channels_ping(self, remote_cluster):
        raise ConnectionError("remote is down")

    def user_will_log_in(self, plugin_context, user):
        if user.username == "wrong-type":
            return "not a Reject"
        if user.username == "blocked":
            raise PermissionError("blocked user")
        return None

    async def message_will_be_posted(self, plugin_context, post):
        text = post.message
        if text == "slow":
            await RELEASE.wait()
            return None
        if text == "stall":
            logging.info("stalling", extra={"post_id": post.id})
            await asyncio.sleep(60)
        if text == "raise":
            raise RuntimeError("boom")
        if text == "own-timeout":  # the handler's own TimeoutError is a failure, not its deadline
            raise TimeoutError("upstream slow")
        if text == "reject":
            return Reject("not here")
        if text == "dismiss":
            return Reject(DISMISS_POST)
        if text == "hookerror":
            raise HookError("custom reason")
        if text == "modify":
            return pb.Post(message="modified")
        if text == "tag":  # props never read: sent back from the bytes that came in
            post.message = "tagged"
            return post
        if text == "read-prop":
            return pb.Post(message=post.props.fields["k"].string_value)
        if text == "response":
            return pb.MessageWillBePostedResponse(rejection_reason="as a response")
        return None

    async def message_will_be_updated(self, plugin_context, new_post, old_post):
        await asyncio.sleep(60)

    def execute_command(self, plugin_context, args):
        if args.command == "/hookerror":
            raise HookError("nope", id="com.example.nope", status_code=403, detailed_error="details")
        if args.command == "/wrong-type":
            return 42
        return pb.CommandResponse(text="fast " + args.command)

    async def on_web_socket_connect(self, web_conn_id, user_id):
        RELEASE.set()


mmplugin.run(Behaviour)
"""


@pytest.fixture(scope="module")
def behaviour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginProcess]:
    process = PluginProcess(write_plugin(tmp_path_factory.mktemp("behaviour"), BEHAVIOUR))
    process.handshake()
    yield process
    process.stop()


@pytest.fixture
async def behaviour_channel(behaviour: PluginProcess) -> AsyncIterator[Channel]:
    channel = behaviour.channel()
    yield channel
    channel.close()


def post(text: str) -> pb.MessageWillBePostedRequest:
    return pb.MessageWillBePostedRequest(post=pb.Post(message=text))


@pytest.mark.parametrize(("text", "expected"), [
    ("allow", pb.MessageWillBePostedResponse()),
    ("modify", pb.MessageWillBePostedResponse(modified_post=pb.Post(message="modified"))),
    ("reject", pb.MessageWillBePostedResponse(rejection_reason="not here")),
    ("dismiss", pb.MessageWillBePostedResponse(rejection_reason=DISMISS_POST)),
    ("response", pb.MessageWillBePostedResponse(rejection_reason="as a response")),
    ("hookerror", pb.MessageWillBePostedResponse(rejection_reason="custom reason")),
    ("raise", pb.MessageWillBePostedResponse(rejection_reason="RuntimeError: boom")),
    ("own-timeout", pb.MessageWillBePostedResponse(rejection_reason="TimeoutError: upstream slow")),
])
async def test_message_will_be_posted_answers(behaviour_channel: Channel, text: str, expected: Any) -> None:
    reply = await call(behaviour_channel, "MessageWillBePosted", post(text))
    assert reply == expected
    assert reply.modified_post is None or text == "modify"  # allowing never echoes the post


async def test_a_post_keeps_its_props_whether_the_handler_reads_them_or_not(behaviour_channel: Channel) -> None:
    props = wkt.Struct.from_dict({"k": "v", "nested": {"a": [1.0, "x", None]}})
    tagged = await call(behaviour_channel, "MessageWillBePosted",
                        pb.MessageWillBePostedRequest(post=pb.Post(message="tag", props=props)))
    assert tagged.modified_post == pb.Post(message="tagged", props=props)
    read = await call(behaviour_channel, "MessageWillBePosted",
                      pb.MessageWillBePostedRequest(post=pb.Post(message="read-prop", props=props)))
    assert read.modified_post == pb.Post(message="v")


async def test_raise_becomes_an_app_error_and_is_logged(
        behaviour: PluginProcess, behaviour_channel: Channel) -> None:
    reply = await call(behaviour_channel, "OnDeactivate")
    assert reply.error == pb.AppError(
        id="plugin.on_deactivate.error", message="ValueError: deactivation broke",
        detailed_error="ValueError: deactivation broke", where="OnDeactivate", status_code=500,
    )
    log = await asyncio.to_thread(behaviour.wait_for_log,
                                  lambda log: log.message.startswith("on_deactivate failed"))
    assert log.level == "error"
    assert "ValueError: deactivation broke" in log.fields["exception"]


async def test_hook_error_chooses_the_app_error(behaviour_channel: Channel) -> None:
    reply = await call(behaviour_channel, "ExecuteCommand",
                       pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/hookerror")))
    assert reply.response is None
    assert reply.error == pb.AppError(id="com.example.nope", message="nope", detailed_error="details",
                                      where="ExecuteCommand", status_code=403)


async def test_raise_in_a_log_only_hook_answers_empty(
        behaviour: PluginProcess, behaviour_channel: Channel) -> None:
    assert await call(behaviour_channel, "MessageHasBeenPosted") == pb.MessageHasBeenPostedResponse()
    await asyncio.to_thread(behaviour.wait_for_log, lambda log: "nobody hears this" in log.message)


async def test_raise_in_ping_answers_unhealthy(behaviour_channel: Channel) -> None:
    reply = await call(behaviour_channel, "OnSharedChannelsPing")
    assert reply == pb.OnSharedChannelsPingResponse(healthy=False)


async def test_raise_in_user_will_log_in_blocks_the_login(behaviour_channel: Channel) -> None:
    request = pb.UserWillLogInRequest(user=pb.User(username="blocked"))
    reply = await call(behaviour_channel, "UserWillLogIn", request)
    assert reply.rejection_reason == "PermissionError: blocked user"


@pytest.mark.parametrize(("hook", "request_", "expected"), [
    ("ExecuteCommand", pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/wrong-type")),
     "execute_command returned int; ExecuteCommand expects None, CommandResponse or ExecuteCommandResponse"),
    ("UserWillLogIn", pb.UserWillLogInRequest(user=pb.User(username="wrong-type")),
     "user_will_log_in returned str; UserWillLogIn expects None, Reject(reason) or UserWillLogInResponse"),
])
async def test_wrong_return_type_is_a_handler_error(behaviour_channel: Channel, hook: str, request_: Any,
                                                    expected: str) -> None:
    reply = await call(behaviour_channel, hook, request_)
    text = reply.error.detailed_error if hook == "ExecuteCommand" else reply.rejection_reason
    assert text == f"ResultTypeError: {expected}"


async def test_timeout_answers_negatively_and_cancels(
        behaviour: PluginProcess, behaviour_channel: Channel) -> None:
    reply = await call(behaviour_channel, "MessageWillBeUpdated")
    assert reply == pb.MessageWillBeUpdatedResponse(
        rejection_reason="message_will_be_updated did not answer within 0.3 s")
    log = await asyncio.to_thread(behaviour.wait_for_log,
                                  lambda log: log.fields.get("hook") == "MessageWillBeUpdated")
    assert log.message == "message_will_be_updated did not answer within 0.3 s; cancelled"


STUCK = """
import time

import mmplugin


class Stuck(mmplugin.Plugin):
    timeouts = {"on_install": 0.3}

    def on_install(self, plugin_context, event):
        time.sleep(120)


mmplugin.run(Stuck)
"""


async def test_stuck_sync_handler_is_abandoned_and_exit_does_not_wait(tmp_path: Path) -> None:
    process = PluginProcess(write_plugin(tmp_path / "stuck", STUCK))
    channel = process.channel()
    try:
        reply = await call(channel, "OnInstall")
        await call(channel, "/plugin.GRPCController/Shutdown", goplugin.Empty(), goplugin.Empty)
    finally:
        channel.close()
    assert await asyncio.to_thread(process.wait) == 0
    assert reply.error.id == "plugin.on_install.error"
    assert reply.error.detailed_error == "on_install did not answer within 0.3 s"
    messages = [log.message for log in process.logs()]
    assert "on_install did not answer within 0.3 s; its thread cannot be stopped and is abandoned" in messages
    assert "1 sync handler(s) still running at exit; not waiting for them" in messages


async def test_negative_answer_arrives_before_the_hosts_deadline(behaviour_channel: Channel) -> None:
    # The handler's own timeout is 30 s; the call's deadline (grpc-timeout) is what bounds it here.
    reply = await call(behaviour_channel, "MessageWillBePosted", post("stall"), timeout=2.0)
    assert reply.rejection_reason.startswith("message_will_be_posted did not answer within ")


async def test_a_call_the_host_abandons_logs_one_line(behaviour: PluginProcess,
                                                     behaviour_channel: Channel) -> None:
    request = pb.MessageWillBePostedRequest(post=pb.Post(id="abandoned", message="stall"))
    pending = asyncio.ensure_future(call(behaviour_channel, "MessageWillBePosted", request, timeout=None))
    await asyncio.to_thread(behaviour.wait_for_log, lambda log: log.fields.get("post_id") == "abandoned")
    pending.cancel()  # the client resets the stream
    with pytest.raises(asyncio.CancelledError):
        await pending
    log = await asyncio.to_thread(
        behaviour.wait_for_log, lambda log: log.message.startswith("MessageWillBePosted was cancelled"))
    assert log.level == "warn"
    assert "exception" not in log.fields
    assert not [line for line in behaviour.logs() if line.fields.get("logger", "").startswith("grpclib")]


async def test_unlisted_hook_answers_the_default(behaviour_channel: Channel) -> None:
    # The host never calls a hook missing from Implemented; if it does, it gets what it would assume.
    reply = await call(behaviour_channel, "ChannelHasBeenCreated")
    assert reply == HOOKS_BY_NAME["ChannelHasBeenCreated"].default_response()
    assert (await call(behaviour_channel, "OnActivate")) == pb.OnActivateResponse()


CLASS_COUNTER = """
import mmplugin
from mmplugin.proto import pb
from mmplugin.wire.compiler import prepare


class Counter(mmplugin.Plugin):
    warm_up = WARM_UP

    def message_will_be_posted(self, plugin_context, post):
        return None

    def execute_command(self, plugin_context, args):
        names = ("MessageWillBePostedRequest", "Post", "MessageHasBeenPostedRequest")
        created = [name for name in names if name in vars(pb)]
        if "Post" in created:  # how many of the request's classes still lack a decoder
            created.append(f"{len(list(prepare(pb.MessageWillBePostedRequest, 'decode')))} decoders left")
        return pb.CommandResponse(text=" ".join(created) or "none")


mmplugin.run(Counter)
"""


async def created_classes(channel: Channel) -> str:
    command = pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/created"))
    return (await call(channel, "ExecuteCommand", command)).response.text


async def test_without_warm_up_a_hooks_message_classes_are_created_at_its_first_call(tmp_path: Path) -> None:
    process = PluginProcess(write_plugin(tmp_path / "counter", CLASS_COUNTER.replace("WARM_UP", "False")))
    process.handshake()
    channel = process.channel()
    try:
        await asyncio.sleep(0.3)  # time enough for a warm-up, were there one
        before = await created_classes(channel)
        assert await call(channel, "MessageWillBePosted", post("hi")) == pb.MessageWillBePostedResponse()
        after = await created_classes(channel)
    finally:
        channel.close()
        process.stop()
    assert before == "none"
    assert after.startswith("MessageWillBePostedRequest Post ")


async def test_the_implemented_hooks_are_prepared_after_the_handshake_and_no_others(tmp_path: Path) -> None:
    process = PluginProcess(write_plugin(tmp_path / "counter", CLASS_COUNTER.replace("WARM_UP", "True")))
    process.handshake()
    channel = process.channel()
    try:
        for _ in range(100):  # bounded: the warm-up takes well under a second
            created = await created_classes(channel)
            if created.endswith(" 0 decoders left"):
                break
            await asyncio.sleep(0.05)
        assert await call(channel, "MessageWillBePosted", post("hi")) == pb.MessageWillBePostedResponse()
    finally:
        channel.close()
        process.stop()
    assert created == "MessageWillBePostedRequest Post 0 decoders left"


async def test_slow_hooks_do_not_delay_fast_ones(behaviour_channel: Channel) -> None:
    slow = [asyncio.ensure_future(call(behaviour_channel, "MessageWillBePosted", post("slow"), timeout=60))
            for _ in range(120)]
    fast_sync = [call(behaviour_channel, "ExecuteCommand",
                      pb.ExecuteCommandRequest(args=pb.CommandArgs(command=f"/{n}"))) for n in range(60)]
    fast_async = [call(behaviour_channel, "MessageWillBePosted", post("reject")) for _ in range(60)]
    fast = await asyncio.gather(*fast_sync, *fast_async)
    assert [reply.response.text for reply in fast[:60]] == [f"fast /{n}" for n in range(60)]
    assert all(reply.rejection_reason == "not here" for reply in fast[60:])
    assert not any(task.done() for task in slow)
    await call(behaviour_channel, "OnWebSocketConnect")
    assert await asyncio.gather(*slow) == [pb.MessageWillBePostedResponse()] * 120


# --- OnActivate -------------------------------------------------------------------------------------

ACTIVATION = """
import logging

import mmplugin

FAIL = {fail!r}


class Activation(mmplugin.Plugin):
    def on_configuration_change(self):
        logging.info("configured")
        if FAIL:
            raise KeyError("missing setting")
{activate}

mmplugin.run(Activation)
"""

ON_ACTIVATE = """
    async def on_activate(self):
        logging.info("activated")
"""


def start_activation(tmp_path: Path, *, fail: bool, with_on_activate: bool) -> PluginProcess:
    source = ACTIVATION.format(fail=fail, activate=ON_ACTIVATE if with_on_activate else "")
    process = PluginProcess(write_plugin(tmp_path / "activation", source))
    process.handshake()
    return process


async def test_on_activate_runs_the_configuration_handler_first(tmp_path: Path) -> None:
    process = start_activation(tmp_path, fail=False, with_on_activate=True)
    channel = process.channel()
    try:
        assert await call(channel, "OnActivate") == pb.OnActivateResponse()
        await call(channel, "/plugin.GRPCController/Shutdown", goplugin.Empty(), goplugin.Empty)
    finally:
        channel.close()
    assert await asyncio.to_thread(process.wait) == 0
    messages = [log.message for log in process.logs()]
    assert messages.index("configured") < messages.index("activated")


async def test_failing_configuration_fails_activation(tmp_path: Path) -> None:
    process = start_activation(tmp_path, fail=True, with_on_activate=True)
    channel = process.channel()
    try:
        implemented = await call(channel, "/mattermost.pluginapi.v1.PluginHooks/Implemented",
                                 pb.ImplementedRequest(), pb.ImplementedResponse)
        reply = await call(channel, "OnActivate")
    finally:
        channel.close()
        process.stop()
    assert implemented.hooks == ["OnActivate", "OnConfigurationChange"]
    assert reply.error.id == "plugin.on_configuration_change.error"
    assert reply.error.where == "OnActivate"
    assert reply.error.detailed_error == (
        "on_configuration_change failed before activation: KeyError: 'missing setting'")
    assert "activated" not in [log.message for log in process.logs()]


async def test_configuration_handler_alone_still_runs_before_activation(tmp_path: Path) -> None:
    process = start_activation(tmp_path, fail=False, with_on_activate=False)
    channel = process.channel()
    try:
        implemented = await call(channel, "/mattermost.pluginapi.v1.PluginHooks/Implemented",
                                 pb.ImplementedRequest(), pb.ImplementedResponse)
        assert await call(channel, "OnActivate") == pb.OnActivateResponse()
    finally:
        channel.close()
    await asyncio.to_thread(process.wait_for_log, lambda log: log.message == "configured")
    process.stop()
    assert implemented.hooks == ["OnActivate", "OnConfigurationChange"]
