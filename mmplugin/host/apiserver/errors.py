"""Errors of the in-memory PluginAPI, and the two ways the Go server returns them (SEMANTICS §4).

Store methods raise :class:`ApiError` with a Mattermost-style id and HTTP status. The service
returns it either as a gRPC status (``"<id>: <message>"``, code mapped from the HTTP status) or,
for posts, KV and files, embedded in the response's ``error`` field with an OK status.
"""

from __future__ import annotations

from grpclib.const import Status

from mmplugin.proto import pb

_HTTP_TO_GRPC = {
    400: Status.INVALID_ARGUMENT, 401: Status.UNAUTHENTICATED, 403: Status.PERMISSION_DENIED,
    404: Status.NOT_FOUND, 409: Status.ALREADY_EXISTS, 413: Status.RESOURCE_EXHAUSTED,
    429: Status.RESOURCE_EXHAUSTED, 501: Status.UNIMPLEMENTED, 503: Status.UNAVAILABLE,
}


class ApiError(Exception):
    """An AppError as the Mattermost server would build it."""

    def __init__(self, id: str, message: str, status_code: int = 400, *, where: str = "",
                 detailed_error: str = "") -> None:
        super().__init__(f"{id}: {message}")
        self.id = id
        self.message = message
        self.status_code = status_code
        self.where = where
        self.detailed_error = detailed_error

    @property
    def grpc_status(self) -> Status:
        """The gRPC status the Go server maps this error's HTTP status to."""
        return _HTTP_TO_GRPC.get(self.status_code, Status.INTERNAL)

    def to_proto(self) -> pb.AppError:
        return pb.AppError(id=self.id, message=self.message, detailed_error=self.detailed_error,
                           status_code=self.status_code, where=self.where)


class MissingField(ApiError):
    """A required sub-message is unset: always INVALID_ARGUMENT as a status, whatever the method."""

    def __init__(self, field: str) -> None:
        super().__init__("api.context.invalid_body_param.app_error", f"{field} is required", 400)


def not_found(what: str, id: str, key: str = "") -> ApiError:
    """404 with the server's id for ``what`` (user, team, channel, post, bot, ...)."""
    return ApiError(key or f"app.{what}.get.app_error", f"Unable to find the {what} {id!r}.", 404)


__all__ = ["ApiError", "MissingField", "not_found"]
