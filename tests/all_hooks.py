"""A plugin that implements every unary hook, requests a handler can tell apart, and the answers expected.

Shared by the grpclib tests of every hook and the grpcio host harness.
"""

from __future__ import annotations

import typing
from typing import Any

from mmplugin.hooks import HOOKS, Hook
from mmplugin.proto import pb

UNARY = [hook for hook in HOOKS if not hook.streaming]

# One handler per hook; every other one is async. `answer` logs what the handler received and
# returns a typed value computed from it.
ALL_HOOKS_PRELUDE = """
import logging

import mmplugin
from mmplugin.proto import pb


def summary(value):
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, (str, int)) else type(value).__name__


RESULTS = {
    "RunDataRetention": lambda now, batch: now + batch,
    "ConfigurationWillBeSaved": lambda config: pb.ConfigJson(config_json=config.config_json + b" saved"),
    "MessageWillBePosted": lambda ctx, post: pb.Post(message=post.message.upper()),
    "MessageWillBeUpdated": lambda ctx, new, old: pb.Post(message=new.message + " was " + old.message),
    "MessagesWillBeConsumed": lambda posts: list(reversed(posts)),
    "FileWillBeUploaded": lambda ctx, info, content: pb.FileInfo(name=info.name, size=len(content)),
    "NotificationWillBePushed":
        lambda note, user_id: pb.PushNotification(message=note.message + " " + user_id),
    "EmailNotificationWillBeSent":
        lambda email: pb.EmailNotificationContent(subject=email.notification_json.decode()),
    "ExecuteCommand": lambda ctx, args: pb.CommandResponse(text="ran " + args.command),
    "OnSharedChannelsSyncMsg": lambda msg, remote: pb.SyncResponse(users_syncd=[remote.name]),
    "OnSharedChannelsPing": lambda remote: False,
    "GenerateSupportData": lambda ctx: [pb.FileData(filename="support.txt", data=ctx.request_id.encode())],
}


def answer(name, *args):
    logging.info("called", extra={"hook": name, "received": [summary(arg) for arg in args]})
    result = RESULTS.get(name)
    return None if result is None else result(*args)


class AllHooks(mmplugin.Plugin):
"""


def all_hooks_source(extra_methods: str = "") -> str:
    """The plugin's source; ``extra_methods`` (class-body text, indented) is added to the class."""
    lines = [ALL_HOOKS_PRELUDE, extra_methods]
    for index, hook in enumerate(UNARY):
        params = ", ".join(("self", *hook.params))
        lines.append(f"    {'async def' if index % 2 else 'def'} {hook.method}({params}):")
        lines.append(f"        return answer({', '.join((repr(hook.name), *hook.params))})\n")
    lines.append("\nmmplugin.run(AllHooks)\n")
    return "\n".join(lines)


SAMPLES: dict[type, Any] = {
    pb.Post: pb.Post(id="p1", message="hello"),
    pb.ConfigJson: pb.ConfigJson(config_json=b'{"a": 1}'),
    pb.FileInfo: pb.FileInfo(name="cat.png"),
    pb.PushNotification: pb.PushNotification(message="ping"),
    pb.EmailNotificationJson: pb.EmailNotificationJson(notification_json=b"mail"),
    pb.CommandArgs: pb.CommandArgs(command="/hello"),
    pb.RemoteCluster: pb.RemoteCluster(name="remote-1"),
    pb.PluginContext: pb.PluginContext(request_id="req-1"),
}


def sample(name: str, hint: Any) -> Any:
    """A request field value that a handler can tell apart from the default."""
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return [pb.Post(id="a"), pb.Post(id="b")] if item is pb.Post else [item(), item()]
    cls = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)
    if cls is str:
        return f"{name}-value"
    if cls is int:
        return 1000
    if cls is bytes:
        return b"file bytes"
    return SAMPLES.get(cls, cls())


def sample_request(hook: Hook) -> Any:
    hints = typing.get_type_hints(hook.request)
    return hook.request(**{name: sample(name, hints[name]) for name in hook.params})


EXPECTED: dict[str, Any] = {
    "RunDataRetention": pb.RunDataRetentionResponse(deleted_count=2000),
    "ConfigurationWillBeSaved": pb.ConfigurationWillBeSavedResponse(
        modified_config=pb.ConfigJson(config_json=b'{"a": 1} saved')),
    "MessageWillBePosted": pb.MessageWillBePostedResponse(modified_post=pb.Post(message="HELLO")),
    "MessageWillBeUpdated": pb.MessageWillBeUpdatedResponse(modified_post=pb.Post(message="hello was hello")),
    "MessagesWillBeConsumed": pb.MessagesWillBeConsumedResponse(posts=[pb.Post(id="b"), pb.Post(id="a")]),
    "FileWillBeUploaded":
        pb.FileWillBeUploadedResponse(modified_file_info=pb.FileInfo(name="cat.png", size=10)),
    "NotificationWillBePushed": pb.NotificationWillBePushedResponse(
        modified_notification=pb.PushNotification(message="ping user_id-value")),
    "EmailNotificationWillBeSent": pb.EmailNotificationWillBeSentResponse(
        modified_content=pb.EmailNotificationContent(subject="mail")),
    "ExecuteCommand": pb.ExecuteCommandResponse(response=pb.CommandResponse(text="ran /hello")),
    "OnSharedChannelsSyncMsg":
        pb.OnSharedChannelsSyncMsgResponse(response=pb.SyncResponse(users_syncd=["remote-1"])),
    "OnSharedChannelsPing": pb.OnSharedChannelsPingResponse(healthy=False),
    "GenerateSupportData":
        pb.GenerateSupportDataResponse(files=[pb.FileData(filename="support.txt", data=b"req-1")]),
}


def received(request: Any, hook: Hook) -> list[Any]:
    """What ``answer`` logs for the handler's arguments."""
    values = [getattr(request, name) for name in hook.params]
    return [v.decode() if isinstance(v, bytes) else v if isinstance(v, (str, int)) else type(v).__name__
            for v in values]
