"""examples/hello runs as a real plugin process and answers its hooks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from plugin_process import PluginProcess, call

from mmplugin import DISMISS_POST
from mmplugin.proto import goplugin, pb

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello"


def post(text: str) -> pb.MessageWillBePostedRequest:
    return pb.MessageWillBePostedRequest(post=pb.Post(id="p1", channel_id="c1", message=text))


async def test_hello_example() -> None:
    process = PluginProcess(HELLO)
    channel = process.channel()
    try:
        implemented = await call(channel, "/mattermost.pluginapi.v1.PluginHooks/Implemented",
                                 pb.ImplementedRequest(), pb.ImplementedResponse)
        activated = await call(channel, "OnActivate")
        answers = [(await call(channel, "MessageWillBePosted", post(text))) for text in
                   ("hi there", "buy spam now", "/dev/null gone", "shout: quiet please")]
        command = await call(channel, "ExecuteCommand",
                             pb.ExecuteCommandRequest(args=pb.CommandArgs(command="/hello Ann")))
        login = pb.UserHasLoggedInRequest(user=pb.User(id="u1", username="ann"))
        await call(channel, "UserHasLoggedIn", login)
        await call(channel, "/plugin.GRPCController/Shutdown", goplugin.Empty(), goplugin.Empty)
    finally:
        channel.close()
    assert await asyncio.to_thread(process.wait) == 0

    assert implemented.hooks == ["OnActivate", "MessageWillBePosted", "UserHasLoggedIn", "ExecuteCommand"]
    assert activated == pb.OnActivateResponse()
    assert answers == [
        pb.MessageWillBePostedResponse(),
        pb.MessageWillBePostedResponse(rejection_reason="Hello plugin: that word is not allowed here."),
        pb.MessageWillBePostedResponse(rejection_reason=DISMISS_POST),
        pb.MessageWillBePostedResponse(
            modified_post=pb.Post(id="p1", channel_id="c1", message="QUIET PLEASE")),
    ]
    assert command.response == pb.CommandResponse(response_type="ephemeral", text="Hello, Ann!")
    logs = {log.message: log for log in process.logs()}
    assert logs["hello plugin activated"].fields["plugin_id"] == "com.example.hello"
    assert logs["hello plugin activated"].fields["version"] == "0.1.0"
    assert logs["user logged in"].fields == {"user_id": "u1", "username": "ann", "logger": "__main__"}
