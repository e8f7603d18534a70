"""The ``PluginAPI`` gRPC service of the in-memory host, for one plugin.

All 236 methods answer: those in :mod:`~mmplugin.host.apiserver.handlers` from the store, the rest
with UNIMPLEMENTED ``"not implemented by the mmplugin in-memory host: <Method>"``. Errors take
the Go server's two shapes (SEMANTICS §4): a gRPC status for most methods, an embedded AppError
with OK status for posts, KV and files. ``GetPluginID`` answers UNIMPLEMENTED, as on the Go server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from mmplugin.host.apiserver.errors import ApiError, MissingField
from mmplugin.host.apiserver.handlers import HANDLERS, ApiContext
from mmplugin.proto import pb

SERVICE = "mattermost.pluginapi.v1.PluginAPI"
UNIMPLEMENTED_MESSAGE = "not implemented by the mmplugin in-memory host: {}"

POST_METHODS = frozenset({
    "CreatePost", "AddReaction", "RemoveReaction", "GetReactions", "SendEphemeralPost", "UpdateEphemeralPost",
    "DeleteEphemeralPost", "DeletePost", "GetPostThread", "GetPost", "GetPostsSince", "GetPostsAfter",
    "GetPostsBefore", "GetPostsForChannel", "UpdatePost", "SearchPostsInTeam", "SearchPostsInTeamForUser",
})
FILE_METHODS = frozenset({
    "CopyFileInfos", "GetFileInfo", "SetFileSearchableContent", "GetFileInfos", "GetFile", "GetFileLink",
    "ReadFile", "UploadFile", "CreateUploadSession", "UploadData", "GetUploadSession",
})


def embeds_errors(method: str) -> bool:
    """True where the Go server returns errors in the response's ``error`` field with an OK status."""
    return method in POST_METHODS or method in FILE_METHODS or method.startswith("KV")


class PluginApiService:
    """A grpclib servable answering every PluginAPI method for ``context.plugin_id``."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context

    def __mapping__(self) -> dict[str, Handler]:
        generated = pb.PluginApiBase().__mapping__()
        return {path: Handler(self._handler(path.rsplit("/", 1)[1], h.reply_type), Cardinality.UNARY_UNARY,
                              h.request_type, h.reply_type)
                for path, h in generated.items()}

    def _handler(self, method: str, reply_type: Any) -> Callable[[Stream[Any, Any]], Any]:
        handler = HANDLERS.get(method)

        async def handle(stream: Stream[Any, Any]) -> None:
            request = await stream.recv_message()
            if handler is None:
                raise GRPCError(Status.UNIMPLEMENTED, UNIMPLEMENTED_MESSAGE.format(method))
            try:
                result = handler(self.context, request)
            except GRPCError:
                raise
            except MissingField as exc:
                raise GRPCError(Status.INVALID_ARGUMENT, str(exc)) from None
            except ApiError as exc:
                if not embeds_errors(method):
                    raise GRPCError(exc.grpc_status, f"{exc.id}: {exc.message}") from None
                exc.where = exc.where or method
                result = {"error": exc.to_proto()}
            except Exception as exc:
                self.context.logger.exception("PluginAPI %s failed", method)
                raise GRPCError(Status.INTERNAL, f"{method}: {type(exc).__name__}: {exc}") from None
            await stream.send_message(reply_type(**(result or {})))
        return handle


__all__ = ["PluginApiService", "embeds_errors"]
