"""Everything the PluginAPI client raises about a call, as one tree::

    APIError                     a PluginAPI call failed (catch this for "any failure")
    ├── PluginAPIError           the host answered, and the answer is an error
    │   ├── InvalidInputError        HTTP 400 / INVALID_ARGUMENT
    │   ├── PermissionDeniedError    HTTP 401, 403 / UNAUTHENTICATED, PERMISSION_DENIED
    │   ├── NotFoundError            HTTP 404 / NOT_FOUND
    │   ├── ConflictError            HTTP 409 / ALREADY_EXISTS
    │   ├── TooLargeError            HTTP 413 / RESOURCE_EXHAUSTED; also a request over 4 MiB,
    │   │                            refused by the client before anything is sent
    │   ├── RateLimitedError         HTTP 429 (only seen in an embedded error: over a gRPC
    │   │                            status a 429 is indistinguishable from a 413)
    │   ├── UnimplementedError       HTTP 501 / UNIMPLEMENTED
    │   └── UnavailableError         HTTP 503 / UNAVAILABLE
    └── APIConnectionError       no answer: host unreachable, connection refused or lost mid-call
        └── APITimeoutError          no answer within the client's ``timeout``

    ConfigurationError (a ValueError, not an APIError): local data does not fit what the code asked
    for: the plugin configuration against a dataclass, a missing plugin.json, a bad target.

The host reports an error in one of two ways (SEMANTICS §4), and both become the same exception:

- a gRPC status whose message is ``"<id>: <message>"``: ``grpc_status`` is that status and
  ``status_code`` is derived from it (:func:`http_status_for_grpc`);
- an ``AppError`` with a non-empty ``id`` in the response's ``error`` field under an OK status:
  ``status_code`` is the AppError's and ``grpc_status`` is what the Go server would have sent
  for it (:func:`grpc_status_for_http`).

The subclass is chosen from ``status_code``, so both conventions raise the same class. Any other
status code (500 and the rest) raises :class:`PluginAPIError` itself.
"""

from __future__ import annotations

import re

from grpclib.const import Status

from mmplugin.proto import pb

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ConfigurationError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginAPIError",
    "RateLimitedError",
    "TooLargeError",
    "UnavailableError",
    "UnimplementedError",
    "error_from_app_error",
    "error_from_status",
    "grpc_status_for_http",
    "http_status_for_grpc",
]

# The Go API server's mapping of an AppError's HTTP status to a gRPC code (SEMANTICS §4).
_GRPC_FOR_HTTP: dict[int, Status] = {
    400: Status.INVALID_ARGUMENT,
    401: Status.UNAUTHENTICATED,
    403: Status.PERMISSION_DENIED,
    404: Status.NOT_FOUND,
    409: Status.ALREADY_EXISTS,
    413: Status.RESOURCE_EXHAUSTED,
    429: Status.RESOURCE_EXHAUSTED,
    501: Status.UNIMPLEMENTED,
    503: Status.UNAVAILABLE,
}
# Its inverse. RESOURCE_EXHAUSTED reads as 413, not 429: grpc-go's own 4 MiB receive limit is by far
# the most likely source of it.
_HTTP_FOR_GRPC: dict[Status, int] = {status: code for code, status in _GRPC_FOR_HTTP.items() if code != 429}

# A Mattermost error id: dotted words such as "app.user.get.app_error".
_ERROR_ID = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def grpc_status_for_http(status_code: int) -> Status:
    """The gRPC status the Go API server sends for an AppError with this HTTP status."""
    return _GRPC_FOR_HTTP.get(status_code, Status.INTERNAL)


def http_status_for_grpc(status: Status) -> int:
    """The HTTP status an error with this gRPC status stands for (500 when the table has none)."""
    return _HTTP_FOR_GRPC.get(status, 500)


class APIError(Exception):
    """A PluginAPI call failed; ``method`` is the RPC name (``"GetUser"``)."""

    def __init__(self, method: str, description: str) -> None:
        super().__init__(f"{method}: {description}")
        self.method = method


class APIConnectionError(APIError):
    """The host could not be reached or went away before answering; the call may or may not
    have taken effect."""


class APITimeoutError(APIConnectionError):
    """The host did not answer within the client's ``timeout``."""


class PluginAPIError(APIError):
    """The host answered the call with an error.

    Attributes: ``id`` (Mattermost's error id, ``""`` when the status carried none), ``message``,
    ``detailed_error``, ``status_code`` (HTTP), ``grpc_status`` (:class:`grpclib.const.Status`),
    ``where`` (the Go function that failed, when known) and ``method``.
    """

    def __init__(
        self,
        method: str,
        *,
        id: str,
        message: str,
        status_code: int,
        grpc_status: Status,
        detailed_error: str = "",
        where: str = "",
    ) -> None:
        text = message or detailed_error or "(no message)"
        label = f"{id} " if id else ""
        super().__init__(method, f"{label}[{status_code} {grpc_status.name}] {text}")
        self.id = id
        self.message = message
        self.detailed_error = detailed_error
        self.status_code = status_code
        self.grpc_status = grpc_status
        self.where = where


class InvalidInputError(PluginAPIError):
    """HTTP 400 / INVALID_ARGUMENT, including a missing required sub-message."""


class PermissionDeniedError(PluginAPIError):
    """HTTP 401 or 403 / UNAUTHENTICATED or PERMISSION_DENIED."""


class NotFoundError(PluginAPIError):
    """HTTP 404 / NOT_FOUND."""


class ConflictError(PluginAPIError):
    """HTTP 409 / ALREADY_EXISTS."""


class TooLargeError(PluginAPIError):
    """HTTP 413 / RESOURCE_EXHAUSTED, or a request the client refused to send because its
    encoded size exceeds the host's 4 MiB receive limit."""


class RateLimitedError(PluginAPIError):
    """HTTP 429."""


class UnimplementedError(PluginAPIError):
    """HTTP 501 / UNIMPLEMENTED: this host does not provide the method."""


class UnavailableError(PluginAPIError):
    """HTTP 503 / UNAVAILABLE."""


class ConfigurationError(ValueError):
    """Local data does not fit what the code asked for; the message names the key and field."""


_CLASS_FOR_HTTP: dict[int, type[PluginAPIError]] = {
    400: InvalidInputError,
    401: PermissionDeniedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    429: RateLimitedError,
    501: UnimplementedError,
    503: UnavailableError,
}


def _make(
    method: str, *, id: str, message: str, status_code: int, grpc_status: Status,
    detailed_error: str = "", where: str = "",
) -> PluginAPIError:
    cls = _CLASS_FOR_HTTP.get(status_code, PluginAPIError)
    return cls(
        method, id=id, message=message, status_code=status_code, grpc_status=grpc_status,
        detailed_error=detailed_error, where=where,
    )


def error_from_status(method: str, status: Status, status_message: str | None) -> PluginAPIError:
    """The exception for a non-OK gRPC status; ``"<id>: <message>"`` is split when the part
    before ``": "`` looks like a Mattermost error id."""
    text = status_message or ""
    id_part, sep, rest = text.partition(": ")
    if sep and _ERROR_ID.fullmatch(id_part):
        error_id, message = id_part, rest
    else:
        error_id, message = "", text
    return _make(
        method, id=error_id, message=message, status_code=http_status_for_grpc(status), grpc_status=status,
    )


def error_from_app_error(method: str, error: pb.AppError) -> PluginAPIError:
    """The exception for an AppError embedded in an OK response (status 0 reads as 500)."""
    status_code = error.status_code or 500
    return _make(
        method, id=error.id, message=error.message, status_code=status_code,
        grpc_status=grpc_status_for_http(status_code), detailed_error=error.detailed_error,
        where=error.where,
    )
