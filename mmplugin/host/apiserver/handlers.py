"""What each implemented PluginAPI method does with the :class:`~mmplugin.host.apiserver.store.Store`.

A handler takes the caller's :class:`ApiContext` and the request, and returns the response fields
(or None); it raises :class:`~mmplugin.host.apiserver.errors.ApiError` for an AppError. The
service decides how an error travels (status or embedded, SEMANTICS §4).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from mmplugin.host.apiserver.errors import MissingField
from mmplugin.host.apiserver.store import Store
from mmplugin.proto import pb, wkt
from mmplugin.wire.logline import python_level


@dataclass(frozen=True)
class ApiContext:
    """What a handler knows about its caller."""

    store: Store
    plugin_id: str
    plugin_dir: Path
    logger: logging.Logger


Result = Mapping[str, Any] | None
HANDLERS: dict[str, Callable[[ApiContext, Any], Result]] = {}
F = TypeVar("F", bound=Callable[[ApiContext, Any], Result])
M = TypeVar("M")


def rpc(name: str) -> Callable[[F], F]:
    """Register the decorated function as the handler of PluginAPI method ``name``."""
    def register(handler: F) -> F:
        HANDLERS[name] = handler
        return handler
    return register


def required(value: M | None, field: str) -> M:
    """``value``, or INVALID_ARGUMENT if the request left that sub-message unset (as the Go server does)."""
    if value is None:
        raise MissingField(field)
    return value


# Users

@rpc("CreateUser")
def _create_user(c: ApiContext, r: pb.CreateUserRequest) -> Result:
    return {"user": c.store.directory.create_user(required(r.user, "user"))}


@rpc("DeleteUser")
def _delete_user(c: ApiContext, r: pb.DeleteUserRequest) -> Result:
    c.store.directory.delete_user(r.user_id)
    return None


@rpc("GetUsers")
def _get_users(c: ApiContext, r: pb.GetUsersRequest) -> Result:
    return {"users": c.store.directory.get_users(r.page, r.per_page, r.in_team_id, r.in_channel_id, r.active,
                                                 r.inactive)}


@rpc("GetUsersByIds")
def _get_users_by_ids(c: ApiContext, r: pb.GetUsersByIdsRequest) -> Result:
    return {"users": [c.store.directory.get_user(i) for i in r.user_ids if i in c.store.directory.users]}


@rpc("GetUsersByUsernames")
def _get_users_by_usernames(c: ApiContext, r: pb.GetUsersByUsernamesRequest) -> Result:
    users = c.store.directory.users.values()
    wanted = {name.lower() for name in r.usernames}
    return {"users": [c.store.directory.get_user(u.id) for u in users if u.username in wanted]}


@rpc("GetUser")
def _get_user(c: ApiContext, r: pb.GetUserRequest) -> Result:
    return {"user": c.store.directory.get_user(r.user_id)}


@rpc("GetUserByEmail")
def _get_user_by_email(c: ApiContext, r: pb.GetUserByEmailRequest) -> Result:
    return {"user": c.store.directory.get_user_by(email=r.email)}


@rpc("GetUserByUsername")
def _get_user_by_username(c: ApiContext, r: pb.GetUserByUsernameRequest) -> Result:
    return {"user": c.store.directory.get_user_by(username=r.name)}


@rpc("GetUsersInTeam")
def _get_users_in_team(c: ApiContext, r: pb.GetUsersInTeamRequest) -> Result:
    return {"users": c.store.directory.get_users(r.page, r.per_page, in_team_id=r.team_id)}


@rpc("GetUsersInChannel")
def _get_users_in_channel(c: ApiContext, r: pb.GetUsersInChannelRequest) -> Result:
    return {"users": c.store.directory.get_users(r.page, r.per_page, in_channel_id=r.channel_id)}


@rpc("UpdateUser")
def _update_user(c: ApiContext, r: pb.UpdateUserRequest) -> Result:
    return {"user": c.store.directory.update_user(required(r.user, "user"))}


@rpc("UpdateUserActive")
def _update_user_active(c: ApiContext, r: pb.UpdateUserActiveRequest) -> Result:
    user = c.store.directory.get_user(r.user_id)
    user.delete_at = 0 if r.active else c.store.directory.now()
    c.store.directory.update_user(user)
    return None


# Teams

@rpc("CreateTeam")
def _create_team(c: ApiContext, r: pb.CreateTeamRequest) -> Result:
    return {"team": c.store.directory.create_team(required(r.team, "team"))}


@rpc("GetTeam")
def _get_team(c: ApiContext, r: pb.GetTeamRequest) -> Result:
    return {"team": c.store.directory.get_team(r.team_id)}


@rpc("GetTeamByName")
def _get_team_by_name(c: ApiContext, r: pb.GetTeamByNameRequest) -> Result:
    return {"team": c.store.directory.get_team_by_name(r.name)}


@rpc("GetTeams")
def _get_teams(c: ApiContext, r: pb.GetTeamsRequest) -> Result:
    return {"teams": [c.store.directory.get_team(i) for i in c.store.directory.teams]}


@rpc("GetTeamsForUser")
def _get_teams_for_user(c: ApiContext, r: pb.GetTeamsForUserRequest) -> Result:
    return {"teams": c.store.directory.teams_for_user(r.user_id)}


@rpc("CreateTeamMember")
def _create_team_member(c: ApiContext, r: pb.CreateTeamMemberRequest) -> Result:
    return {"team_member": c.store.directory.create_team_member(r.team_id, r.user_id)}


@rpc("GetTeamMember")
def _get_team_member(c: ApiContext, r: pb.GetTeamMemberRequest) -> Result:
    return {"team_member": c.store.directory.get_team_member(r.team_id, r.user_id)}


@rpc("GetTeamMembers")
def _get_team_members(c: ApiContext, r: pb.GetTeamMembersRequest) -> Result:
    return {"team_members": c.store.directory.get_team_members(r.team_id, r.page, r.per_page)}


# Channels

@rpc("CreateChannel")
def _create_channel(c: ApiContext, r: pb.CreateChannelRequest) -> Result:
    return {"channel": c.store.directory.create_channel(required(r.channel, "channel"))}


@rpc("GetChannel")
def _get_channel(c: ApiContext, r: pb.GetChannelRequest) -> Result:
    return {"channel": c.store.directory.get_channel(r.channel_id)}


@rpc("GetChannelByName")
def _get_channel_by_name(c: ApiContext, r: pb.GetChannelByNameRequest) -> Result:
    return {"channel": c.store.directory.get_channel_by_name(r.team_id, r.name, r.include_deleted)}


@rpc("GetChannelByNameForTeamName")
def _get_channel_by_name_for_team_name(c: ApiContext, r: pb.GetChannelByNameForTeamNameRequest) -> Result:
    team = c.store.directory.get_team_by_name(r.team_name)
    return {"channel": c.store.directory.get_channel_by_name(team.id, r.channel_name, r.include_deleted)}


@rpc("GetPublicChannelsForTeam")
def _get_public_channels_for_team(c: ApiContext, r: pb.GetPublicChannelsForTeamRequest) -> Result:
    return {"channels": c.store.directory.public_channels(r.team_id, r.page, r.per_page)}


@rpc("DeleteChannel")
def _delete_channel(c: ApiContext, r: pb.DeleteChannelRequest) -> Result:
    c.store.directory.delete_channel(r.channel_id)
    return None


@rpc("GetDirectChannel")
def _get_direct_channel(c: ApiContext, r: pb.GetDirectChannelRequest) -> Result:
    return {"channel": c.store.directory.get_direct_channel(r.user_id_1, r.user_id_2)}


@rpc("AddChannelMember")
def _add_channel_member(c: ApiContext, r: pb.AddChannelMemberRequest) -> Result:
    return {"channel_member": c.store.directory.add_channel_member(r.channel_id, r.user_id)}


@rpc("AddUserToChannel")
def _add_user_to_channel(c: ApiContext, r: pb.AddUserToChannelRequest) -> Result:
    return {"channel_member": c.store.directory.add_channel_member(r.channel_id, r.user_id)}


@rpc("GetChannelMember")
def _get_channel_member(c: ApiContext, r: pb.GetChannelMemberRequest) -> Result:
    return {"channel_member": c.store.directory.get_channel_member(r.channel_id, r.user_id)}


@rpc("GetChannelMembers")
def _get_channel_members(c: ApiContext, r: pb.GetChannelMembersRequest) -> Result:
    return {"channel_members": c.store.directory.get_channel_members(r.channel_id, r.page, r.per_page)}


@rpc("DeleteChannelMember")
def _delete_channel_member(c: ApiContext, r: pb.DeleteChannelMemberRequest) -> Result:
    c.store.directory.delete_channel_member(r.channel_id, r.user_id)
    return None


# Posts and reactions (errors embedded)

@rpc("CreatePost")
def _create_post(c: ApiContext, r: pb.CreatePostRequest) -> Result:
    return {"post": c.store.posts.create(required(r.post, "post"))}


@rpc("GetPost")
def _get_post(c: ApiContext, r: pb.GetPostRequest) -> Result:
    return {"post": c.store.posts.get(r.post_id)}


@rpc("UpdatePost")
def _update_post(c: ApiContext, r: pb.UpdatePostRequest) -> Result:
    return {"post": c.store.posts.update(required(r.post, "post"))}


@rpc("DeletePost")
def _delete_post(c: ApiContext, r: pb.DeletePostRequest) -> Result:
    c.store.posts.delete(r.post_id)
    return None


@rpc("SendEphemeralPost")
def _send_ephemeral_post(c: ApiContext, r: pb.SendEphemeralPostRequest) -> Result:
    post = c.store.posts.send_ephemeral(r.user_id, required(r.post, "post"))
    c.logger.info("ephemeral post for user %s: %s", r.user_id, post.message)
    return {"post": post}


@rpc("GetPostsForChannel")
def _get_posts_for_channel(c: ApiContext, r: pb.GetPostsForChannelRequest) -> Result:
    return {"post_list": c.store.posts.for_channel(r.channel_id, r.page, r.per_page)}


@rpc("GetPostThread")
def _get_post_thread(c: ApiContext, r: pb.GetPostThreadRequest) -> Result:
    return {"post_list": c.store.posts.thread(r.post_id)}


@rpc("AddReaction")
def _add_reaction(c: ApiContext, r: pb.AddReactionRequest) -> Result:
    return {"reaction": c.store.posts.add_reaction(required(r.reaction, "reaction"))}


@rpc("RemoveReaction")
def _remove_reaction(c: ApiContext, r: pb.RemoveReactionRequest) -> Result:
    c.store.posts.remove_reaction(required(r.reaction, "reaction"))
    return None


@rpc("GetReactions")
def _get_reactions(c: ApiContext, r: pb.GetReactionsRequest) -> Result:
    return {"reactions": c.store.posts.get_reactions(r.post_id)}


# KV store (errors embedded)

@rpc("KVSet")
def _kv_set(c: ApiContext, r: pb.KvSetRequest) -> Result:
    c.store.kv.set(c.plugin_id, r.key, r.value)
    return None


@rpc("KVSetWithExpiry")
def _kv_set_with_expiry(c: ApiContext, r: pb.KvSetWithExpiryRequest) -> Result:
    c.store.kv.set_with_expiry(c.plugin_id, r.key, r.value, r.expire_in_seconds)
    return None


@rpc("KVSetWithOptions")
def _kv_set_with_options(c: ApiContext, r: pb.KvSetWithOptionsRequest) -> Result:
    options = r.options or pb.PluginKvSetOptions()
    return {"success": c.store.kv.set_with_options(c.plugin_id, r.key, r.value, atomic=options.atomic,
                                                   old_value=options.old_value,
                                                   expire_in_seconds=options.expire_in_seconds)}


@rpc("KVCompareAndSet")
def _kv_compare_and_set(c: ApiContext, r: pb.KvCompareAndSetRequest) -> Result:
    return {"success": c.store.kv.compare_and_set(c.plugin_id, r.key, r.old_value, r.new_value)}


@rpc("KVCompareAndDelete")
def _kv_compare_and_delete(c: ApiContext, r: pb.KvCompareAndDeleteRequest) -> Result:
    return {"success": c.store.kv.compare_and_delete(c.plugin_id, r.key, r.old_value)}


@rpc("KVGet")
def _kv_get(c: ApiContext, r: pb.KvGetRequest) -> Result:
    return {"value": c.store.kv.get(c.plugin_id, r.key) or b""}


@rpc("KVDelete")
def _kv_delete(c: ApiContext, r: pb.KvDeleteRequest) -> Result:
    c.store.kv.delete(c.plugin_id, r.key)
    return None


@rpc("KVDeleteAll")
def _kv_delete_all(c: ApiContext, r: pb.KvDeleteAllRequest) -> Result:
    c.store.kv.delete_all(c.plugin_id)
    return None


@rpc("KVList")
def _kv_list(c: ApiContext, r: pb.KvListRequest) -> Result:
    return {"keys": c.store.kv.list(c.plugin_id, r.page, r.per_page)}


# Configuration and server facts

@rpc("LoadPluginConfiguration")
def _load_plugin_configuration(c: ApiContext, r: pb.LoadPluginConfigurationRequest) -> Result:
    return {"config_json": json.dumps(c.store.configs.get(c.plugin_id)).encode()}


@rpc("GetPluginConfig")
def _get_plugin_config(c: ApiContext, r: pb.GetPluginConfigRequest) -> Result:
    return {"config": wkt.Struct.from_dict(c.store.configs.get(c.plugin_id))}


@rpc("SavePluginConfig")
def _save_plugin_config(c: ApiContext, r: pb.SavePluginConfigRequest) -> Result:
    c.store.configs.save(c.plugin_id, (r.config or wkt.Struct()).to_dict())
    return None


@rpc("GetConfig")
def _get_config(c: ApiContext, r: pb.GetConfigRequest) -> Result:
    return {"config_json": json.dumps(c.store.server_config()).encode()}


@rpc("GetBundlePath")
def _get_bundle_path(c: ApiContext, r: pb.GetBundlePathRequest) -> Result:
    return {"path": str(c.plugin_dir)}


@rpc("GetServerVersion")
def _get_server_version(c: ApiContext, r: pb.GetServerVersionRequest) -> Result:
    return {"version": c.store.server_version}


@rpc("GetPluginID")
def _get_plugin_id(c: ApiContext, r: pb.GetPluginIdRequest) -> Result:
    raise GRPCError(Status.UNIMPLEMENTED, "GetPluginID is not served (as on the Mattermost server): "
                                          "read the id from plugin.json")


@rpc("PublishWebSocketEvent")
def _publish_web_socket_event(c: ApiContext, r: pb.PublishWebSocketEventRequest) -> Result:
    c.logger.debug("websocket event %s: %s", r.event, (r.payload or wkt.Struct()).to_dict())
    return None


# Logging into the host's log

def _log(level: str) -> Callable[[ApiContext, Any], Result]:
    def handle(c: ApiContext, r: Any) -> Result:
        fields = {pair.key: pair.value.to_dict() if pair.value else None for pair in r.key_value_pairs}
        text = r.msg + "".join(f" {key}={value!r}" for key, value in fields.items())
        c.logger.log(python_level(level), "%s", text, extra={"plugin_id": c.plugin_id, "plugin_fields": fields})
        return None
    return handle


for _name, _level in (("LogDebug", "debug"), ("LogInfo", "info"), ("LogWarn", "warn"), ("LogError", "error")):
    rpc(_name)(_log(_level))


# Bots

@rpc("CreateBot")
def _create_bot(c: ApiContext, r: pb.CreateBotRequest) -> Result:
    return {"bot": c.store.directory.create_bot(required(r.bot, "bot"), c.plugin_id)}


@rpc("GetBot")
def _get_bot(c: ApiContext, r: pb.GetBotRequest) -> Result:
    return {"bot": c.store.directory.get_bot(r.bot_user_id, r.include_deleted)}


@rpc("GetBots")
def _get_bots(c: ApiContext, r: pb.GetBotsRequest) -> Result:
    return {"bots": c.store.directory.get_bots(r.options or pb.BotGetOptions())}


@rpc("PatchBot")
def _patch_bot(c: ApiContext, r: pb.PatchBotRequest) -> Result:
    return {"bot": c.store.directory.patch_bot(r.bot_user_id, required(r.bot_patch, "bot_patch"))}


@rpc("UpdateBotActive")
def _update_bot_active(c: ApiContext, r: pb.UpdateBotActiveRequest) -> Result:
    return {"bot": c.store.directory.update_bot_active(r.bot_user_id, r.active)}


@rpc("PermanentDeleteBot")
def _permanent_delete_bot(c: ApiContext, r: pb.PermanentDeleteBotRequest) -> Result:
    c.store.directory.permanent_delete_bot(r.bot_user_id)
    return None


@rpc("EnsureBotUser")
def _ensure_bot_user(c: ApiContext, r: pb.EnsureBotUserRequest) -> Result:
    return {"bot_user_id": c.store.directory.ensure_bot(required(r.bot, "bot"), c.plugin_id)}


# Preferences

@rpc("GetPreferencesForUser")
def _get_preferences_for_user(c: ApiContext, r: pb.GetPreferencesForUserRequest) -> Result:
    return {"preferences": c.store.directory.get_preferences(r.user_id)}


@rpc("GetPreferenceForUser")
def _get_preference_for_user(c: ApiContext, r: pb.GetPreferenceForUserRequest) -> Result:
    return {"preference": c.store.directory.get_preference(r.user_id, r.category, r.name)}


@rpc("UpdatePreferencesForUser")
def _update_preferences_for_user(c: ApiContext, r: pb.UpdatePreferencesForUserRequest) -> Result:
    c.store.directory.update_preferences(r.user_id, list(r.preferences))
    return None


@rpc("DeletePreferencesForUser")
def _delete_preferences_for_user(c: ApiContext, r: pb.DeletePreferencesForUserRequest) -> Result:
    c.store.directory.update_preferences(r.user_id, list(r.preferences), delete=True)
    return None


# Slash commands

@rpc("RegisterCommand")
def _register_command(c: ApiContext, r: pb.RegisterCommandRequest) -> Result:
    c.store.commands.register(c.plugin_id, required(r.command, "command"))
    return None


@rpc("UnregisterCommand")
def _unregister_command(c: ApiContext, r: pb.UnregisterCommandRequest) -> Result:
    c.store.commands.unregister(c.plugin_id, r.team_id, r.trigger)
    return None


__all__ = ["HANDLERS", "ApiContext", "Result", "rpc"]
