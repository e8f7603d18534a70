"""From an incoming HTTP request to the ``ServeHTTPRequestInit`` a plugin receives (SEMANTICS §3), no IO.

The host strips ``/plugins/<id>`` and the ``access_token`` query parameter from the URL it passes
on, removes ``Authorization``, ``Referer`` and the session cookie, drops any client-supplied
``Mattermost-User-Id`` and sets it only from its own authentication (:class:`TokenAuth`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from mmplugin.host.ids import new_id
from mmplugin.proto import pb

PLUGIN_PREFIX = "/plugins/"
SESSION_COOKIE = "MMAUTHTOKEN"
USER_ID_HEADER = "Mattermost-User-Id"
#: Never forwarded: credentials, the referrer, a spoofable identity, and Host (a field of its own).
DROPPED_HEADERS = frozenset({"authorization", "referer", "mattermost-user-id", "host"})
_PLUGIN_ID = re.compile(r"^[A-Za-z0-9_\-.]+$")


def split_plugin_path(raw_path: str) -> tuple[str, str] | None:
    """``/plugins/<id>/rest`` → ``(id, "/rest")``; ``/plugins/<id>`` → ``(id, "")``; anything else None.

    A path with a ``.`` or ``..`` segment, percent-encoded or not, is not routed: a plugin never
    sees one (the Mattermost server redirects such a path to its cleaned form before routing it).
    """
    if not raw_path.startswith(PLUGIN_PREFIX):
        return None
    if any(segment in (".", "..") for segment in unquote(raw_path).split("/")):
        return None
    plugin_id, slash, rest = raw_path[len(PLUGIN_PREFIX):].partition("/")
    plugin_id = unquote(plugin_id)
    if not _PLUGIN_ID.match(plugin_id):
        return None
    return plugin_id, slash + rest


def without_query_param(query: str, name: str) -> str:
    """``query`` without any ``name=...`` parameter; the other parameters keep their order and encoding."""
    return "&".join(part for part in query.split("&") if part and unquote(part.split("=", 1)[0]) != name)


def query_param(query: str, name: str) -> str:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if unquote(key) == name:
            return unquote(value.replace("+", " "))
    return ""


def canonical_header(name: str) -> str:
    """Go's canonical form of a header name: ``content-type`` → ``Content-Type``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def without_session_cookie(cookie_header: str) -> str:
    """A ``Cookie`` header value without the Mattermost session cookie."""
    cookies = [c.strip() for c in cookie_header.split(";")]
    return "; ".join(c for c in cookies if c and c.split("=", 1)[0].strip() != SESSION_COOKIE)


@dataclass
class TokenAuth:
    """The host's own authentication for local use: access tokens mapped to user ids.

    A token is read from ``Authorization: Bearer <token>`` (or ``Token <token>``) or from the
    ``access_token`` query parameter.
    """

    tokens: dict[str, str] = field(default_factory=dict)

    def user_for(self, headers: Mapping[str, list[str]], query: str) -> str | None:
        """The user id of the request's token (``headers`` keyed by lower-case name), or None."""
        for value in headers.get("authorization", []):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() in ("bearer", "token") and token.strip() in self.tokens:
                return self.tokens[token.strip()]
        token = query_param(query, "access_token")
        return self.tokens.get(token) if token else None


@dataclass(frozen=True)
class IncomingRequest:
    """The parts of an HTTP request the host forwards (decoded from ASGI or any other server)."""

    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    http_version: str = "1.1"
    client: str = ""
    """``host:port`` of the caller."""
    server_host: str = ""

    def header_map(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for name, value in self.headers:
            grouped.setdefault(name.lower(), []).append(value)
        return grouped

    @property
    def content_length(self) -> int:
        """As Go's ``Request.ContentLength``: the header's value, -1 if unknown (chunked), else 0."""
        headers = self.header_map()
        for value in headers.get("content-length", []):
            if value.strip().isdigit():
                return int(value)
        return -1 if headers.get("transfer-encoding") else 0

    @property
    def has_body(self) -> bool:
        return self.content_length != 0


def build_request_init(request: IncomingRequest, rest: str, user_id: str | None) -> pb.ServeHttpRequestInit:
    """The init message for a request routed to a plugin, ``rest`` being the path after ``/plugins/<id>``."""
    query = without_query_param(request.query, "access_token")
    forwarded: dict[str, list[str]] = {}
    for name, value in request.headers:
        lower = name.lower()
        if lower in DROPPED_HEADERS:
            continue
        if lower == "cookie":
            value = without_session_cookie(value)
            if not value:
                continue
        forwarded.setdefault(canonical_header(name), []).append(value)
    if user_id:
        forwarded[USER_ID_HEADER] = [user_id]
    headers = request.header_map()
    major, _, minor = request.http_version.partition(".")
    uri = request.raw_path + (f"?{request.query}" if request.query else "")
    context = pb.PluginContext(
        request_id=new_id(), ip_address=request.client.rpartition(":")[0] or request.client,
        accept_language=_first(headers.get("accept-language")), user_agent=_first(headers.get("user-agent")))
    return pb.ServeHttpRequestInit(
        plugin_context=context, method=request.method, url=rest + (f"?{query}" if query else ""),
        proto=f"HTTP/{request.http_version}", proto_major=int(major or 1), proto_minor=int(minor or 0),
        headers=[pb.HttpHeader(key=k, values=v) for k, v in forwarded.items()],
        host=_first(headers.get("host")) or request.server_host, remote_addr=request.client,
        request_uri=uri, content_length=request.content_length)


def _first(values: Iterable[str] | None) -> str:
    return next(iter(values or ()), "")


__all__ = [
    "DROPPED_HEADERS", "SESSION_COOKIE", "USER_ID_HEADER", "IncomingRequest", "TokenAuth", "build_request_init",
    "canonical_header", "split_plugin_path", "without_query_param", "without_session_cookie",
]
