"""Hello: a small Mattermost server plugin written with mmplugin.

- registers and answers the ``/hello [name]`` slash command;
- refuses posts that contain a blocked word, and drops ``/dev/null ...`` posts silently;
- upper-cases posts that start with ``shout:``;
- logs every login;
- serves HTTP at ``/plugins/com.example.hello/``: ``/hello`` (text, greets the logged-in user),
  ``/echo`` (streams the request body back as it arrives) and ``/ticks`` (server-sent events).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import ClassVar

import mmplugin
from mmplugin import DISMISS_POST, Plugin, Reject
from mmplugin.http import Request, Response, StreamingResponse
from mmplugin.proto import pb

log = logging.getLogger(__name__)

BLOCKED_WORDS = ("spam", "phishing")


class Hello(Plugin):
    # The post path waits for this hook: answer within 2 s or the post is refused.
    timeouts: ClassVar[dict[str, float]] = {"message_will_be_posted": 2.0}

    async def on_activate(self) -> None:
        await self.api.register_command(command=pb.Command(
            trigger="hello", auto_complete=True, auto_complete_desc="Say hello", auto_complete_hint="[name]"))
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

    async def serve_http(self, plugin_context: pb.PluginContext, request: Request) -> Response | StreamingResponse:
        if request.path == "/hello":
            user_id = request.headers.get("Mattermost-User-Id")
            if not user_id:
                return Response.text("log in first", status=401)
            user = await self.api.get_user(user_id=user_id)
            return Response.text(f"Hello, {user.username}!")
        if request.path == "/echo" and request.method == "POST":
            return StreamingResponse(request.stream(), flush=False,
                                     headers={"Content-Type": request.headers.get("Content-Type", "")})
        if request.path == "/ticks":
            return StreamingResponse(_ticks(int(request.query.get("n", "3"))),
                                     headers={"Content-Type": "text/event-stream"})
        return Response.text("not found", status=404)


async def _ticks(count: int) -> AsyncIterator[bytes]:
    for i in range(min(count, 100)):
        yield f"data: tick {i}\n\n".encode()
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    mmplugin.run(Hello)
