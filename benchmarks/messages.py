"""The hot messages the codec benchmark times, built the way a Mattermost host fills them."""

from __future__ import annotations

import betterproto2

from mmplugin.proto import pb, wkt

CHUNK_SIZE = 64 * 1024


def _id(seed: str) -> str:
    return (seed * 26)[:26]


def post_props() -> wkt.Struct:
    """Ten props of the kinds Mattermost posts carry (strings, flags, numbers, an attachment list)."""
    return wkt.Struct.from_dict({
        "from_webhook": "true",
        "override_username": "build-bot",
        "override_icon_url": "https://ci.example.com/static/bot.png",
        "disable_group_highlight": True,
        "mentionHighlightDisabled": False,
        "channel_mentions": {"town-square": {"display_name": "Town Square", "team_name": "eng"}},
        "attachments": [{"fallback": "build #4812 passed", "color": "#36a64f", "fields": [
            {"title": "Duration", "value": "4m 12s", "short": True}]}],
        "retry_count": 3,
        "ratio": 0.75,
        "previewed_post": "",
    })


def post() -> pb.Post:
    message = (
        "Deploy of **payments-api** to production finished: 14 services updated, 0 failed. "
        "Release notes: https://wiki.example.com/releases/2024-06-12 — ping @oncall if latency moves. "
    )
    return pb.Post(
        id=_id("p1"), create_at=1718200000123, update_at=1718200000123,
        user_id=_id("u7"), channel_id=_id("c3"), message=message[:200], type="custom_build",
        props=post_props(), hashtags="#deploy #payments", pending_post_id=_id("u7") + ":1718200000",
    )


def message_will_be_posted_request() -> pb.MessageWillBePostedRequest:
    return pb.MessageWillBePostedRequest(
        context=pb.RequestContext(
            plugin_id="com.example.guard", request_id=_id("r5"), session_id=_id("s9"), user_id=_id("u7"),
        ),
        plugin_context=pb.PluginContext(
            session_id=_id("s9"), request_id=_id("r5"), ip_address="10.20.30.40", accept_language="en-US",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Mattermost/9.8",
        ),
        post=post(),
    )


def message_will_be_posted_response() -> pb.MessageWillBePostedResponse:
    return pb.MessageWillBePostedResponse(modified_post=post())


def serve_http_chunk() -> pb.ServeHttpRequest:
    return pb.ServeHttpRequest(body_chunk=bytes(range(256)) * (CHUNK_SIZE // 256))


def kv_set_request() -> pb.KvSetRequest:
    return pb.KvSetRequest(key="user_prefs_" + _id("u7"), value=b'{"theme":"dark","tz":"Europe/Berlin"}' * 8)


def get_user_response() -> pb.GetUserResponse:
    return pb.GetUserResponse(user=pb.User(
        id=_id("u7"), create_at=1600000000000, update_at=1718000000000, username="jane.doe",
        email="jane.doe@example.com", email_verified=True, nickname="Jane", first_name="Jane",
        last_name="Doe", roles="system_user", locale="en",
        notify_props={"desktop": "mention", "email": "true", "push": "mention", "channel": "true"},
        timezone={"automaticTimezone": "Europe/Berlin", "useAutomaticTimezone": "true"},
        last_activity_at=1718200000000,
    ))


def implemented_response() -> pb.ImplementedResponse:
    return pb.ImplementedResponse(hooks=["OnActivate", "OnDeactivate", "MessageWillBePosted", "ServeHTTP",
                                         "OnConfigurationChange", "ExecuteCommand"])


def hot_messages() -> dict[str, betterproto2.Message]:
    """Name -> one instance of each hot message."""
    return {
        "MessageWillBePostedRequest": message_will_be_posted_request(),
        "MessageWillBePostedResponse": message_will_be_posted_response(),
        "ServeHTTPRequest (64 KiB chunk)": serve_http_chunk(),
        "KVSetRequest": kv_set_request(),
        "GetUserResponse": get_user_response(),
        "ImplementedResponse": implemented_response(),
    }


def serve_http_init(method: str, url: str, content_length: int = -1) -> pb.ServeHttpRequestInit:
    """A forwarded request as the Mattermost server builds it (browser headers, user id set)."""
    headers = {
        "Accept": ["*/*"], "Accept-Encoding": ["gzip, deflate, br"], "Accept-Language": ["en-US,en;q=0.9"],
        "User-Agent": ["Mozilla/5.0 (X11; Linux x86_64) Mattermost/9.8"], "Mattermost-User-Id": [_id("u7")],
        "X-Requested-With": ["XMLHttpRequest"],
    }
    if content_length >= 0:
        headers["Content-Type"] = ["application/octet-stream"]
        headers["Content-Length"] = [str(content_length)]
    return pb.ServeHttpRequestInit(
        plugin_context=pb.PluginContext(session_id=_id("s9"), request_id=_id("r5"), ip_address="10.20.30.40",
                                        accept_language="en-US", user_agent="Mozilla/5.0 Mattermost/9.8"),
        method=method, url=url, proto="HTTP/1.1", proto_major=1, proto_minor=1,
        headers=[pb.HttpHeader(key=key, values=values) for key, values in headers.items()],
        host="chat.example.com", remote_addr="10.20.30.40:51234",
        request_uri=f"/plugins/com.example.bench{url}", content_length=content_length,
    )
