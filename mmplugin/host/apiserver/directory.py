"""Users, teams, channels, their members, bots and preferences of the in-memory host."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mmplugin.host.apiserver.errors import ApiError, not_found
from mmplugin.host.ids import new_id
from mmplugin.proto import pb

T = TypeVar("T")


def page_of(items: list[T], page: int, per_page: int) -> list[T]:
    if page < 0 or per_page < 0:
        raise ApiError("api.context.invalid_url_param.app_error", "page and per_page must not be negative.", 400)
    return items[page * per_page:(page + 1) * per_page]


@dataclass
class Directory:
    """Who and where: every entity is stored as a message and handed out as a copy."""

    clock: Callable[[], float] = time.time
    users: dict[str, pb.User] = field(default_factory=dict)
    teams: dict[str, pb.Team] = field(default_factory=dict)
    team_members: dict[tuple[str, str], pb.TeamMember] = field(default_factory=dict)
    channels: dict[str, pb.Channel] = field(default_factory=dict)
    channel_members: dict[tuple[str, str], pb.ChannelMember] = field(default_factory=dict)
    bots: dict[str, pb.Bot] = field(default_factory=dict)
    preferences: dict[tuple[str, str, str], pb.Preference] = field(default_factory=dict)

    def now(self) -> int:
        return int(self.clock() * 1000)

    # Users

    def create_user(self, user: pb.User) -> pb.User:
        user = copy.deepcopy(user)
        user.username = user.username.lower()
        user.email = user.email.lower()
        if not user.username:
            raise ApiError("model.user.is_valid.username.app_error", "A username is required.", 400)
        if not user.email and not user.is_bot:
            raise ApiError("model.user.is_valid.email.app_error", "An email address is required.", 400)
        if any(u.username == user.username for u in self.users.values()):
            raise ApiError("app.user.save.username_exists.app_error",
                           "An account with that username already exists.", 400)
        if user.email and any(u.email == user.email for u in self.users.values()):
            raise ApiError("app.user.save.email_exists.app_error", "An account with that email already exists.", 400)
        user.id = new_id()
        user.create_at = user.update_at = self.now()
        user.password = ""
        user.roles = user.roles or "system_user"
        self.users[user.id] = user
        return copy.deepcopy(user)

    def _user(self, user_id: str) -> pb.User:
        user = self.users.get(user_id)
        if user is None:
            raise not_found("user", user_id, "app.user.missing_account.const")
        return user

    def get_user(self, user_id: str) -> pb.User:
        return copy.deepcopy(self._user(user_id))

    def get_user_by(self, *, email: str = "", username: str = "") -> pb.User:
        for user in self.users.values():
            if (email and user.email == email.lower()) or (username and user.username == username.lower()):
                return copy.deepcopy(user)
        raise not_found("user", email or username, "app.user.missing_account.const")

    def get_users(self, page: int, per_page: int, in_team_id: str = "", in_channel_id: str = "",
                  active_only: bool = False, inactive_only: bool = False) -> list[pb.User]:
        users = sorted(self.users.values(), key=lambda u: u.username)
        if in_team_id:
            users = [u for u in users if (in_team_id, u.id) in self.team_members]
        if in_channel_id:
            users = [u for u in users if (in_channel_id, u.id) in self.channel_members]
        if active_only:
            users = [u for u in users if not u.delete_at]
        if inactive_only:
            users = [u for u in users if u.delete_at]
        return [copy.deepcopy(u) for u in page_of(users, page, per_page)]

    def update_user(self, user: pb.User) -> pb.User:
        current = self._user(user.id)
        updated = copy.deepcopy(user)
        updated.create_at, updated.password = current.create_at, ""
        updated.update_at = self.now()
        self.users[user.id] = updated
        return copy.deepcopy(updated)

    def delete_user(self, user_id: str) -> None:
        self._user(user_id).delete_at = self.now()

    # Teams

    def create_team(self, team: pb.Team) -> pb.Team:
        team = copy.deepcopy(team)
        if not team.name or not team.display_name:
            raise ApiError("model.team.is_valid.name.app_error", "A team needs a name and a display name.", 400)
        if any(t.name == team.name for t in self.teams.values()):
            raise ApiError("app.team.save.existing.app_error", "A team with that name already exists.", 400)
        team.id = new_id()
        team.create_at = team.update_at = self.now()
        team.type = team.type or pb.TeamType.OPEN
        self.teams[team.id] = team
        return copy.deepcopy(team)

    def _team(self, team_id: str) -> pb.Team:
        team = self.teams.get(team_id)
        if team is None:
            raise not_found("team", team_id, "app.team.get.find.app_error")
        return team

    def get_team(self, team_id: str) -> pb.Team:
        return copy.deepcopy(self._team(team_id))

    def get_team_by_name(self, name: str) -> pb.Team:
        for team in self.teams.values():
            if team.name == name:
                return copy.deepcopy(team)
        raise not_found("team", name, "app.team.get_by_name.missing.app_error")

    def create_team_member(self, team_id: str, user_id: str) -> pb.TeamMember:
        self._team(team_id)
        self._user(user_id)
        member = self.team_members.setdefault(
            (team_id, user_id), pb.TeamMember(team_id=team_id, user_id=user_id, roles="team_user",
                                              scheme_user=True, create_at=self.now()))
        return copy.deepcopy(member)

    def get_team_member(self, team_id: str, user_id: str) -> pb.TeamMember:
        member = self.team_members.get((team_id, user_id))
        if member is None:
            raise not_found("team member", f"{team_id}/{user_id}", "app.team.get_member.missing.app_error")
        return copy.deepcopy(member)

    def get_team_members(self, team_id: str, page: int, per_page: int) -> list[pb.TeamMember]:
        members = [m for (t, _), m in sorted(self.team_members.items()) if t == team_id]
        return [copy.deepcopy(m) for m in page_of(members, page, per_page)]

    def teams_for_user(self, user_id: str) -> list[pb.Team]:
        self._user(user_id)
        return [copy.deepcopy(self.teams[t]) for (t, u) in sorted(self.team_members) if u == user_id]

    # Channels

    def create_channel(self, channel: pb.Channel) -> pb.Channel:
        channel = copy.deepcopy(channel)
        channel.type = channel.type or pb.ChannelType.OPEN
        if not channel.name:
            raise ApiError("model.channel.is_valid.name.app_error", "A channel needs a name.", 400)
        if channel.type in (pb.ChannelType.OPEN, pb.ChannelType.PRIVATE):
            self._team(channel.team_id)
        if any(c.name == channel.name and c.team_id == channel.team_id for c in self.channels.values()):
            raise ApiError("store.sql_channel.save_channel.exists.app_error",
                           "A channel with that name already exists on the same team.", 400)
        channel.id = new_id()
        channel.create_at = channel.update_at = self.now()
        channel.display_name = channel.display_name or channel.name
        self.channels[channel.id] = channel
        if channel.creator_id in self.users:
            self.add_channel_member(channel.id, channel.creator_id)
        return copy.deepcopy(channel)

    def _channel(self, channel_id: str) -> pb.Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise not_found("channel", channel_id, "app.channel.get.existing.app_error")
        return channel

    def get_channel(self, channel_id: str) -> pb.Channel:
        return copy.deepcopy(self._channel(channel_id))

    def get_channel_by_name(self, team_id: str, name: str, include_deleted: bool) -> pb.Channel:
        for channel in self.channels.values():
            if channel.team_id == team_id and channel.name == name and (include_deleted or not channel.delete_at):
                return copy.deepcopy(channel)
        raise not_found("channel", name, "app.channel.get_by_name.missing.app_error")

    def delete_channel(self, channel_id: str) -> None:
        self._channel(channel_id).delete_at = self.now()

    def get_direct_channel(self, user_a: str, user_b: str) -> pb.Channel:
        self._user(user_a)
        self._user(user_b)
        name = "__".join(sorted((user_a, user_b)))
        for channel in self.channels.values():
            if channel.type == pb.ChannelType.DIRECT and channel.name == name:
                return copy.deepcopy(channel)
        channel = self.create_channel(pb.Channel(name=name, type=pb.ChannelType.DIRECT, creator_id=user_a))
        self.add_channel_member(channel.id, user_b)
        return channel

    def add_channel_member(self, channel_id: str, user_id: str) -> pb.ChannelMember:
        self._channel(channel_id)
        self._user(user_id)
        member = self.channel_members.setdefault(
            (channel_id, user_id), pb.ChannelMember(channel_id=channel_id, user_id=user_id, roles="channel_user",
                                                    scheme_user=True, last_update_at=self.now()))
        return copy.deepcopy(member)

    def get_channel_member(self, channel_id: str, user_id: str) -> pb.ChannelMember:
        member = self.channel_members.get((channel_id, user_id))
        if member is None:
            raise not_found("channel member", f"{channel_id}/{user_id}", "app.channel.get_member.missing.app_error")
        return copy.deepcopy(member)

    def get_channel_members(self, channel_id: str, page: int, per_page: int) -> list[pb.ChannelMember]:
        members = [m for (c, _), m in sorted(self.channel_members.items()) if c == channel_id]
        return [copy.deepcopy(m) for m in page_of(members, page, per_page)]

    def delete_channel_member(self, channel_id: str, user_id: str) -> None:
        self.get_channel_member(channel_id, user_id)
        del self.channel_members[(channel_id, user_id)]

    def public_channels(self, team_id: str, page: int, per_page: int) -> list[pb.Channel]:
        channels = sorted((c for c in self.channels.values() if c.team_id == team_id
                           and c.type == pb.ChannelType.OPEN and not c.delete_at), key=lambda c: c.name)
        return [copy.deepcopy(c) for c in page_of(channels, page, per_page)]

    # Bots

    def create_bot(self, bot: pb.Bot, owner_id: str) -> pb.Bot:
        user = self.create_user(pb.User(username=bot.username, is_bot=True, first_name=bot.display_name,
                                        bot_description=bot.description, roles="system_user"))
        bot = copy.deepcopy(bot)
        bot.user_id, bot.username = user.id, user.username
        bot.owner_id = bot.owner_id or owner_id
        bot.create_at = bot.update_at = user.create_at
        self.bots[bot.user_id] = bot
        return copy.deepcopy(bot)

    def _bot(self, bot_user_id: str, include_deleted: bool = True) -> pb.Bot:
        bot = self.bots.get(bot_user_id)
        if bot is None or (bot.delete_at and not include_deleted):
            raise not_found("bot", bot_user_id, "store.sql_bot.get.missing.app_error")
        return bot

    def get_bot(self, bot_user_id: str, include_deleted: bool) -> pb.Bot:
        return copy.deepcopy(self._bot(bot_user_id, include_deleted))

    def get_bots(self, options: pb.BotGetOptions) -> list[pb.Bot]:
        bots = [b for b in sorted(self.bots.values(), key=lambda b: b.username)
                if (options.include_deleted or not b.delete_at) and (not options.owner_id or
                                                                    b.owner_id == options.owner_id)]
        per_page = options.per_page or 200
        return [copy.deepcopy(b) for b in page_of(bots, options.page, per_page)]

    def patch_bot(self, bot_user_id: str, patch: pb.BotPatch) -> pb.Bot:
        bot = self._bot(bot_user_id)
        if patch.username is not None:
            bot.username = self.users[bot_user_id].username = patch.username.lower()
        if patch.display_name is not None:
            bot.display_name = patch.display_name
        if patch.description is not None:
            bot.description = patch.description
        bot.update_at = self.now()
        return copy.deepcopy(bot)

    def update_bot_active(self, bot_user_id: str, active: bool) -> pb.Bot:
        bot = self._bot(bot_user_id)
        bot.delete_at = self.users[bot_user_id].delete_at = 0 if active else self.now()
        return copy.deepcopy(bot)

    def permanent_delete_bot(self, bot_user_id: str) -> None:
        self._bot(bot_user_id)
        del self.bots[bot_user_id]
        self.users.pop(bot_user_id, None)

    def ensure_bot(self, bot: pb.Bot, owner_id: str) -> str:
        """The user id of the bot with ``bot.username``, creating it if needed (and reactivating it)."""
        for existing in self.bots.values():
            if existing.username == bot.username.lower():
                if existing.delete_at:
                    self.update_bot_active(existing.user_id, True)
                return existing.user_id
        return self.create_bot(bot, owner_id).user_id

    # Preferences

    def get_preferences(self, user_id: str) -> list[pb.Preference]:
        self._user(user_id)
        return [copy.deepcopy(p) for key, p in sorted(self.preferences.items()) if key[0] == user_id]

    def get_preference(self, user_id: str, category: str, name: str) -> pb.Preference:
        preference = self.preferences.get((user_id, category, name))
        if preference is None:
            raise not_found("preference", f"{category}/{name}", "app.preference.get.app_error")
        return copy.deepcopy(preference)

    def update_preferences(self, user_id: str, preferences: list[pb.Preference], delete: bool = False) -> None:
        self._user(user_id)
        for preference in preferences:
            if preference.user_id != user_id:
                raise ApiError("app.preference.update.user_id.app_error",
                               "Unable to change the preferences of another user.", 403)
        for preference in preferences:
            key = (user_id, preference.category, preference.name)
            if delete:
                self.preferences.pop(key, None)
            else:
                self.preferences[key] = copy.deepcopy(preference)


__all__ = ["Directory"]
