"""``mattermost.pluginapi.v1.PluginHooks`` for grpclib, built from the hook table.

Every unary row gets a route. A hook the plugin did not list in ``Implemented`` answers the row's
default response, which is what the host assumes for an unlisted hook, so a host that calls one
anyway sees no difference. Streaming rows (ServeHTTP) are served only when a handler is mounted
for them in ``streams``; otherwise the path answers UNIMPLEMENTED. A hook's route names its
message classes only when used, so a plugin's start (up to the handshake line the host waits for)
builds none of them; after it, :mod:`mmplugin.plugin.warmup` prepares the implemented hooks' in the
background, and the classes of the other hooks are built only if the host calls one anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from mmplugin.hooks import HOOKS, IMPLEMENTED, Hook
from mmplugin.plugin.lifecycle import Lifecycle
from mmplugin.plugin.runner import HookRunner
from mmplugin.proto import pb

#: A handler for a streaming hook row, given the raw grpclib stream.
StreamHandler = Callable[[Stream[Any, Any]], Awaitable[None]]

# Time kept back from the host's deadline so that a timed-out handler's negative answer still
# reaches the host before the host gives up on the call (and fails open).
DEADLINE_MARGIN = 0.25


class _RouteOnDemand(Handler):
    """A grpclib route holding the hook in place of its message classes, which it names on use."""

    __slots__ = ()

    def __new__(cls, func: Callable[[Stream[Any, Any]], Awaitable[None]], cardinality: Cardinality,
                hook: Hook) -> _RouteOnDemand:
        return super().__new__(cls, func, cardinality, hook, hook)

    @property
    def request_type(self) -> type:
        hook: Hook = self[2]
        return hook.request

    @property
    def reply_type(self) -> type:
        hook: Hook = self[3]
        return hook.response


class HookService:
    """The grpclib handler object (``__mapping__``) for PluginHooks."""

    def __init__(self, runner: HookRunner, lifecycle: Lifecycle, implemented: Sequence[str],
                 streams: Mapping[str, StreamHandler]) -> None:
        self._runner = runner
        self._lifecycle = lifecycle
        self._implemented = [*implemented, *(hook.name for hook in HOOKS if hook.name in streams)]
        self._answered = frozenset(self._implemented)
        self._streams = streams

    @property
    def implemented(self) -> list[Hook]:
        """The hooks the plugin answers (listed in ``Implemented``, or streams mounted), in table order."""
        return [hook for hook in HOOKS if hook.name in self._answered]

    def __mapping__(self) -> dict[str, Handler]:
        routes = {IMPLEMENTED: Handler(self._answer_implemented, Cardinality.UNARY_UNARY,
                                       pb.ImplementedRequest, pb.ImplementedResponse)}
        for hook in HOOKS:
            if hook.streaming:
                if hook.name in self._streams:
                    routes[hook.path] = _RouteOnDemand(partial(self._streaming, hook, self._streams[hook.name]),
                                                       Cardinality.STREAM_STREAM, hook)
            else:
                routes[hook.path] = _RouteOnDemand(partial(self._unary, hook), Cardinality.UNARY_UNARY, hook)
        return routes

    async def _answer_implemented(self, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call("Implemented"):
            await stream.recv_message()
            await stream.send_message(pb.ImplementedResponse(hooks=self._implemented))
            await stream.send_trailing_metadata()

    async def _unary(self, hook: Hook, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call(hook.name):
            request = await stream.recv_message()
            if request is None:
                raise GRPCError(Status.INVALID_ARGUMENT, f"{hook.name}: the request has no message")
            self._refuse_when_stopping(hook)
            if hook.name in self._answered:
                deadline = stream.deadline
                budget = None if deadline is None else deadline.time_remaining() - DEADLINE_MARGIN
                response = await self._runner.answer(hook, request, budget)
            else:
                response = hook.default_response()
            await stream.send_message(response)
            # Trailers inside the tracked call: the drain must not close the server between the
            # response and its status.
            await stream.send_trailing_metadata()

    async def _streaming(self, hook: Hook, handler: StreamHandler, stream: Stream[Any, Any]) -> None:
        with self._lifecycle.call(hook.name):
            self._refuse_when_stopping(hook)
            await handler(stream)

    def _refuse_when_stopping(self, hook: Hook) -> None:
        if not self._lifecycle.serving:
            raise GRPCError(Status.UNAVAILABLE, f"{hook.name}: the plugin is stopping")
