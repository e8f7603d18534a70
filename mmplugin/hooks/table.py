"""One row per hook of ``mattermost.pluginapi.v1.PluginHooks``: the single source of hook facts.

The plugin runtime builds its servicer and its ``Implemented`` answer from these rows, the host
adapter its methods and failure defaults, and the docs their hook reference. Adding a hook is one
row. The behaviour columns follow SEMANTICS §2.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property

import betterproto2

from mmplugin.proto import message_class

PACKAGE = "mattermost.pluginapi.v1"
SERVICE = f"{PACKAGE}.PluginHooks"

#: The rejection reason with which MessageWillBePosted/Updated dismiss a post silently.
DISMISS_POST = "plugin.message_will_be_posted.dismiss_post"


class OnError(enum.Enum):
    """How a hook says "no": what an exception in a handler becomes in the response."""

    APP_ERROR = "error"
    """The response's ``error`` (AppError) field is set."""
    REJECT = "rejection_reason"
    """The response's ``rejection_reason`` is set: the post, login, upload... is refused."""
    UNHEALTHY = "healthy"
    """OnSharedChannelsPing answers ``healthy = false``."""
    LOG = "log"
    """The hook has no negative answer: the exception is logged and the response is empty."""


@dataclass(frozen=True)
class Hook:
    """Everything the runtime, the host and the docs need to know about one hook."""

    name: str
    """Proto method name, e.g. ``MessageWillBePosted``; also the name ``Implemented`` lists."""
    method: str
    """The Python handler name on a plugin class, e.g. ``message_will_be_posted``."""
    params: tuple[str, ...]
    """Request fields passed to the handler, in order (field 1, the empty RequestContext, never is)."""
    result: str | None
    """Response field a plain (non-None) return value fills; None for hooks that return nothing."""
    on_error: OnError
    """What an exception in the handler becomes."""
    fail_open: bool
    """Host side: a failed RPC (non-OK status, deadline) counts as "not implemented" and is logged;
    otherwise the host turns the failure into an error (or ``healthy = false``)."""
    summary: str
    """When the host calls it (one sentence, for the docs)."""
    streaming: bool = False
    """True only for ServeHTTP, a bidirectional stream; every other hook is unary."""
    unimplemented: dict[str, object] = field(default_factory=dict)
    """Response fields the host assumes when the plugin does not implement the hook."""

    @property
    def path(self) -> str:
        """The gRPC method path, ``/mattermost.pluginapi.v1.PluginHooks/<name>``."""
        return f"/{SERVICE}/{self.name}"

    # Looked up on first use (the generated classes are created lazily), then kept: every call needs them.
    @cached_property
    def request(self) -> type[betterproto2.Message]:
        return message_class(f"{PACKAGE}.{self.name}Request")

    @cached_property
    def response(self) -> type[betterproto2.Message]:
        return message_class(f"{PACKAGE}.{self.name}Response")

    def default_response(self) -> betterproto2.Message:
        """The response the host acts on when the plugin does not implement this hook."""
        return self.response(**self.unimplemented)


def _row(name: str, method: str, params: str, result: str | None, on_error: OnError, fail_open: bool,
         summary: str, **unimplemented: object) -> Hook:
    return Hook(name, method, tuple(params.split()), result, on_error, fail_open, summary,
                unimplemented=unimplemented)


E, R, L = OnError.APP_ERROR, OnError.REJECT, OnError.LOG
PC = "plugin_context"

HOOKS: tuple[Hook, ...] = (
    # Lifecycle
    _row("OnActivate", "on_activate", "", None, E, False,
         "The plugin is being activated; an error stops activation and the plugin."),
    _row("OnDeactivate", "on_deactivate", "", None, E, False,
         "The plugin is being deactivated, before the host asks the process to exit."),
    _row("OnConfigurationChange", "on_configuration_change", "", None, E, False,
         "The plugin's configuration changed; also run once just before OnActivate."),
    _row("OnInstall", "on_install", f"{PC} event", None, E, False,
         "The plugin was installed by a user (event carries who)."),
    _row("OnSendDailyTelemetry", "on_send_daily_telemetry", "", None, L, True,
         "Once a day, when the server sends its telemetry."),
    _row("RunDataRetention", "run_data_retention", "now_time batch_size", "deleted_count", E, False,
         "The data-retention job runs; return how many records were deleted."),
    _row("OnCloudLimitsUpdated", "on_cloud_limits_updated", "limits", None, L, True,
         "The workspace's product limits changed (Cloud)."),
    _row("ConfigurationWillBeSaved", "configuration_will_be_saved", "new_config", "modified_config", E, False,
         "The server configuration is about to be saved; return a replacement, or raise to refuse."),
    # Messages
    _row("MessageWillBePosted", "message_will_be_posted", f"{PC} post", "modified_post", R, True,
         "A post is about to be saved; return a modified post, or a rejection."),
    _row("MessageWillBeUpdated", "message_will_be_updated", f"{PC} new_post old_post", "modified_post", R, True,
         "A post edit is about to be saved; return a modified post, or a rejection."),
    _row("MessageHasBeenPosted", "message_has_been_posted", f"{PC} post", None, L, True,
         "A post was saved."),
    _row("MessageHasBeenUpdated", "message_has_been_updated", f"{PC} new_post old_post", None, L, True,
         "A post edit was saved."),
    _row("MessagesWillBeConsumed", "messages_will_be_consumed", "posts", "posts", L, True,
         "Posts are about to be sent to a client; return the list to send instead."),
    _row("MessageHasBeenDeleted", "message_has_been_deleted", f"{PC} post", None, L, True,
         "A post was deleted."),
    _row("FileWillBeUploaded", "file_will_be_uploaded", f"{PC} file_info file_content", "modified_file_info",
         R, True, "A file is about to be stored; return modified info (or a full response), or a rejection."),
    _row("ReactionHasBeenAdded", "reaction_has_been_added", f"{PC} reaction", None, L, True,
         "A reaction was added to a post."),
    _row("ReactionHasBeenRemoved", "reaction_has_been_removed", f"{PC} reaction", None, L, True,
         "A reaction was removed from a post."),
    _row("NotificationWillBePushed", "notification_will_be_pushed", "push_notification user_id",
         "modified_notification", R, True,
         "A push notification is about to be sent to a user's device; modify or reject it."),
    _row("EmailNotificationWillBeSent", "email_notification_will_be_sent", "email_notification",
         "modified_content", R, True, "An email notification is about to be sent; modify or reject it."),
    _row("PreferencesHaveChanged", "preferences_have_changed", f"{PC} preferences", None, L, True,
         "A user's preferences changed."),
    # Users, channels, teams
    _row("UserHasBeenCreated", "user_has_been_created", f"{PC} user", None, L, True, "A user was created."),
    _row("UserWillLogIn", "user_will_log_in", f"{PC} user", None, R, True,
         "A user is about to log in; a rejection blocks the login."),
    _row("UserHasLoggedIn", "user_has_logged_in", f"{PC} user", None, L, True, "A user logged in."),
    _row("UserHasBeenDeactivated", "user_has_been_deactivated", f"{PC} user", None, L, True,
         "A user was deactivated."),
    _row("OnSAMLLogin", "on_saml_login", f"{PC} user assertion", None, E, False,
         "A user logged in through SAML; an error fails the login."),
    _row("ChannelHasBeenCreated", "channel_has_been_created", f"{PC} channel", None, L, True,
         "A channel was created."),
    _row("UserHasJoinedChannel", "user_has_joined_channel", f"{PC} channel_member actor", None, L, True,
         "A user joined a channel (actor: who added them, if not themselves)."),
    _row("UserHasLeftChannel", "user_has_left_channel", f"{PC} channel_member actor", None, L, True,
         "A user left a channel (actor: who removed them, if not themselves)."),
    _row("UserHasJoinedTeam", "user_has_joined_team", f"{PC} team_member actor", None, L, True,
         "A user joined a team (actor: who added them, if not themselves)."),
    _row("UserHasLeftTeam", "user_has_left_team", f"{PC} team_member actor", None, L, True,
         "A user left a team (actor: who removed them, if not themselves)."),
    # Commands, websocket, cluster, shared channels, support
    _row("ExecuteCommand", "execute_command", f"{PC} args", "response", E, False,
         "A slash command registered by the plugin was run; return its CommandResponse."),
    _row("OnWebSocketConnect", "on_web_socket_connect", "web_conn_id user_id", None, L, True,
         "A user's websocket connected."),
    _row("OnWebSocketDisconnect", "on_web_socket_disconnect", "web_conn_id user_id", None, L, True,
         "A user's websocket disconnected."),
    _row("WebSocketMessageHasBeenPosted", "web_socket_message_has_been_posted", "web_conn_id user_id request",
         None, L, True, "A websocket message addressed to the plugin arrived."),
    _row("OnPluginClusterEvent", "on_plugin_cluster_event", f"{PC} event", None, L, True,
         "Another node of the cluster published an event for this plugin."),
    _row("OnSharedChannelsSyncMsg", "on_shared_channels_sync_msg", "sync_msg remote_cluster", "response", E,
         False, "A shared-channels sync message arrived from a remote cluster."),
    _row("OnSharedChannelsPing", "on_shared_channels_ping", "remote_cluster", "healthy", OnError.UNHEALTHY,
         False, "The shared-channels service checks the plugin's health for a remote.", healthy=True),
    _row("OnSharedChannelsAttachmentSyncMsg", "on_shared_channels_attachment_sync_msg",
         "file_info post remote_cluster", None, E, False, "A shared-channels attachment is being synced."),
    _row("OnSharedChannelsProfileImageSyncMsg", "on_shared_channels_profile_image_sync_msg",
         "user remote_cluster", None, E, False, "A shared-channels profile image is being synced."),
    _row("GenerateSupportData", "generate_support_data", PC, "files", E, False,
         "A support packet is being generated; return files to include."),
    # HTTP
    Hook("ServeHTTP", "serve_http", (), None, OnError.LOG, False,
         "An HTTP request arrived for /plugins/<plugin id>/...; streamed both ways.", streaming=True),
)

#: Not a hook: the RPC with which the host learns which hooks the plugin implements.
IMPLEMENTED = f"/{SERVICE}/Implemented"

HOOKS_BY_NAME: dict[str, Hook] = {hook.name: hook for hook in HOOKS}
HOOKS_BY_METHOD: dict[str, Hook] = {hook.method: hook for hook in HOOKS}

__all__ = ["DISMISS_POST", "HOOKS", "HOOKS_BY_METHOD", "HOOKS_BY_NAME", "IMPLEMENTED", "Hook", "OnError"]

