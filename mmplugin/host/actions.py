"""What a user does that runs hooks on the in-memory host: posting a message, running a slash command."""

from __future__ import annotations

from dataclasses import dataclass

from mmplugin.hooks.table import DISMISS_POST
from mmplugin.host.apiserver.store import Store
from mmplugin.host.environment import Environment
from mmplugin.host.errors import HookAppError
from mmplugin.proto import pb


@dataclass(frozen=True)
class PostOutcome:
    """The saved post, or why it was not saved."""

    post: pb.Post | None
    rejection_reason: str = ""

    @property
    def dismissed(self) -> bool:
        return self.rejection_reason == DISMISS_POST


async def create_post(env: Environment, store: Store, post: pb.Post) -> PostOutcome:
    """MessageWillBePosted through every plugin, save, then MessageHasBeenPosted to every plugin."""
    post, rejection = await env.message_will_be_posted(post)
    if rejection:
        return PostOutcome(None, rejection)
    saved = store.posts.create(post)
    await env.broadcast("MessageHasBeenPosted", post=saved)
    return PostOutcome(saved)


@dataclass(frozen=True)
class CommandResult:
    plugin_id: str
    response: pb.CommandResponse | None = None
    error: HookAppError | None = None


async def execute_command(env: Environment, store: Store, args: pb.CommandArgs) -> list[CommandResult]:
    """Run ``args.command`` on the plugin that registered its trigger, else on each plugin implementing
    ExecuteCommand (in plugin-id order). An empty list means no plugin could take it."""
    words = args.command.split()
    trigger = words[0].lstrip("/") if words else ""
    owner = store.commands.owner(trigger, args.team_id)
    results = []
    for plugin_id in [owner] if owner else env.plugin_ids:
        hooks = env.hooks_for_plugin(plugin_id)
        if hooks is None or not hooks.implements("ExecuteCommand"):
            continue
        try:
            results.append(CommandResult(plugin_id, await hooks.execute_command(args)))
        except HookAppError as exc:
            results.append(CommandResult(plugin_id, error=exc))
    return results


__all__ = ["CommandResult", "PostOutcome", "create_post", "execute_command"]
