"""Hello: a small Mattermost server plugin written with mmplugin.

- refuses posts that contain a blocked word, and drops ``/dev/null ...`` posts silently;
- upper-cases posts that start with ``shout:``;
- answers the ``/hello [name]`` slash command;
- logs every login.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import ClassVar

import mmplugin
from mmplugin import DISMISS_POST, Plugin, Reject
from mmplugin.proto import pb

log = logging.getLogger(__name__)

BLOCKED_WORDS = ("spam", "phishing")


class Hello(Plugin):
    # The post path waits for this hook: answer within 2 s or the post is refused.
    timeouts: ClassVar[dict[str, float]] = {"message_will_be_posted": 2.0}

    async def on_activate(self) -> None:
        log.info("hello plugin activated", extra={"plugin_id": self.id, "version": self.manifest.version})

    async def message_will_be_posted(
            self, plugin_context: pb.PluginContext, post: pb.Post) -> pb.Post | Reject | None:
        text = post.message
        if any(word in text.lower() for word in BLOCKED_WORDS):
            return Reject("Hello plugin: that word is not allowed here.")
        if text.startswith("/dev/null"):
            return Reject(DISMISS_POST)
        if text.startswith("shout:"):
            # Return a modified copy of the post; returning None keeps it unchanged.
            return dataclasses.replace(post, message=text.removeprefix("shout:").strip().upper())
        return None

    def execute_command(self, plugin_context: pb.PluginContext, args: pb.CommandArgs) -> pb.CommandResponse:
        name = args.command.removeprefix("/hello").strip() or "world"
        return pb.CommandResponse(response_type="ephemeral", text=f"Hello, {name}!")

    def user_has_logged_in(self, plugin_context: pb.PluginContext, user: pb.User) -> None:
        log.info("user logged in", extra={"user_id": user.id, "username": user.username})


if __name__ == "__main__":
    mmplugin.run(Hello)
