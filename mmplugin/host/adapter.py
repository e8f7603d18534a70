"""The host's client of one plugin's ``PluginHooks`` service, driven by the hook table.

:meth:`HooksAdapter.invoke` calls any hook by name and applies SEMANTICS §2: a hook the plugin did
not list in ``Implemented`` is answered with the table's default response without an RPC; every
call has a deadline (30 s unless configured); a failed RPC (non-OK status, deadline, lost
connection) of a fail-open hook is logged and answered with the default response, and of any other
hook becomes a negative answer: an ``AppError`` with id ``plugin.grpc.<hook_method>.error`` and
status 500 (e.g. ``plugin.grpc.execute_command.error``), or ``healthy = false`` for
OnSharedChannelsPing. ``invoke`` returns the response message and never raises for an AppError.

The typed wrappers (:meth:`HooksAdapter.on_activate`, :meth:`HooksAdapter.message_will_be_posted`,
...) turn a response's AppError into :class:`~mmplugin.host.errors.HookAppError`: errors are
exceptions on the host side, rejections are plain return values.

Example::

    adapter = HooksAdapter(channel, "com.example.hello")
    await adapter.discover()
    post, rejection = await adapter.message_will_be_posted(pb.Post(message="hi"))
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable
from typing import Any

import betterproto2
from grpclib.client import Channel, UnaryUnaryMethod

from mmplugin.hooks.table import HOOKS_BY_NAME, IMPLEMENTED, Hook, OnError
from mmplugin.host import servehttp_client
from mmplugin.host.counters import PluginCounters
from mmplugin.host.errors import ActivationError, HookAppError
from mmplugin.host.ids import new_id
from mmplugin.host.rpc import RPC_ERRORS, describe
from mmplugin.host.servehttp_client import ResponseSink
from mmplugin.host.timing import HookTimings
from mmplugin.proto import pb

DEFAULT_HOOK_TIMEOUT = 30.0

logger = logging.getLogger("mmplugin.host.hooks")


class HooksAdapter:
    """Calls one plugin's hooks over ``channel`` (a grpclib Channel with ``MessageCodec``)."""

    def __init__(self, channel: Channel, plugin_id: str, *, timeout: float = DEFAULT_HOOK_TIMEOUT,
                 timings: HookTimings | None = None, counters: PluginCounters | None = None) -> None:
        self.channel = channel
        self.plugin_id = plugin_id
        self.timeout = timeout
        self.timings = timings if timings is not None else HookTimings()
        self.counters = counters if counters is not None else PluginCounters()
        """Where ServeHTTP streams and bytes are counted."""
        self.implemented: frozenset[str] = frozenset()
        """Hooks the plugin listed in ``Implemented`` that the table knows; set by :meth:`discover`."""

    async def discover(self) -> frozenset[str]:
        """Ask the plugin which hooks it implements (once, at start); unknown names are ignored."""
        method = UnaryUnaryMethod(self.channel, IMPLEMENTED, pb.ImplementedRequest, pb.ImplementedResponse)
        try:
            response = await method(pb.ImplementedRequest(), timeout=self.timeout)
        except RPC_ERRORS as exc:
            raise ActivationError(f"plugin {self.plugin_id!r}: Implemented failed: {describe(exc)}") from None
        if response.error and response.error.id:
            raise ActivationError(f"plugin {self.plugin_id!r}: Implemented answered {response.error.id}: "
                                  f"{response.error.detailed_error or response.error.message}")
        unknown = sorted(set(response.hooks) - HOOKS_BY_NAME.keys())
        if unknown:
            logger.debug("plugin %s lists hooks this host does not know: %s", self.plugin_id, ", ".join(unknown))
        self.implemented = frozenset(response.hooks) & HOOKS_BY_NAME.keys()
        return self.implemented

    def implements(self, hook: str) -> bool:
        return hook in self.implemented

    async def invoke(self, hook: str, request: betterproto2.Message | None = None, **fields: Any) -> Any:
        """Call unary hook ``hook`` with ``request`` (or a request built from ``fields``); returns the response.

        Where the hook takes a ``plugin_context`` and none is given, one with a fresh request id is sent.
        """
        row = _unary_row(hook)
        if hook not in self.implemented:
            return row.default_response()
        if request is None:
            if "plugin_context" in row.params and fields.get("plugin_context") is None:
                fields["plugin_context"] = pb.PluginContext(request_id=new_id())
            request = row.request(**fields)
        method = UnaryUnaryMethod(self.channel, row.path, row.request, row.response)
        started = time.perf_counter()
        try:
            response = await method(request, timeout=self.timeout)
        except RPC_ERRORS as exc:
            self.timings.observe(self.plugin_id, hook, time.perf_counter() - started, failed=True)
            return self._failed(row, describe(exc))
        elapsed = time.perf_counter() - started
        error = getattr(response, "error", None)
        self.timings.observe(self.plugin_id, hook, elapsed, failed=bool(error and error.id))
        logger.debug("plugin %s: %s answered in %.2f ms", self.plugin_id, hook, elapsed * 1000)
        return response

    def _failed(self, row: Hook, reason: str) -> Any:
        if row.fail_open:
            logger.warning("plugin %s: %s failed (%s); continuing as if it were not implemented",
                           self.plugin_id, row.name, reason)
            return row.default_response()
        logger.error("plugin %s: %s failed: %s", self.plugin_id, row.name, reason)
        if row.on_error is OnError.UNHEALTHY:
            return row.response(**{OnError.UNHEALTHY.value: False})
        error = pb.AppError(id=f"plugin.grpc.{row.method}.error", message=f"The plugin's {row.name} call failed.",
                            detailed_error=reason, status_code=500, where=row.name)
        return row.response(**{OnError.APP_ERROR.value: error})

    def _raise_for_error(self, hook: str, response: Any) -> None:
        error = response.error
        if error is not None and error.id:
            raise HookAppError(self.plugin_id, hook, error)

    async def serve_http(self, init: pb.ServeHttpRequestInit, body: AsyncIterable[bytes] | None,
                         sink: ResponseSink) -> int:
        """Stream one HTTP request through the plugin's ServeHTTP (404 if it has none); returns the status."""
        if "ServeHTTP" not in self.implemented:
            await sink.start(404, [("Content-Type", "text/plain; charset=utf-8")])
            await sink.write(b"plugin does not serve HTTP\n")
            return 404
        started = time.perf_counter()
        status = 0  # stays 0 if the HTTP client goes away (cancellation): a call, but not a failure
        try:
            status = await servehttp_client.serve_http(self.channel, self.plugin_id, init, body, sink,
                                                       self.counters)
        finally:
            self.timings.observe(self.plugin_id, "ServeHTTP", time.perf_counter() - started, failed=status >= 500)
        return status

    # Typed wrappers of the hooks a host calls most; every other hook goes through invoke().

    async def on_activate(self) -> None:
        self._raise_for_error("OnActivate", await self.invoke("OnActivate"))

    async def on_deactivate(self) -> None:
        self._raise_for_error("OnDeactivate", await self.invoke("OnDeactivate"))

    async def on_configuration_change(self) -> None:
        self._raise_for_error("OnConfigurationChange", await self.invoke("OnConfigurationChange"))

    async def message_will_be_posted(self, post: pb.Post, plugin_context: pb.PluginContext | None = None
                                     ) -> tuple[pb.Post | None, str]:
        """``(modified post or None for unchanged, rejection reason or "")``."""
        response = await self.invoke("MessageWillBePosted", post=post, plugin_context=plugin_context)
        return response.modified_post, response.rejection_reason

    async def message_will_be_updated(self, new_post: pb.Post, old_post: pb.Post,
                                      plugin_context: pb.PluginContext | None = None) -> tuple[pb.Post | None, str]:
        """``(modified post or None for unchanged, rejection reason or "")``."""
        response = await self.invoke("MessageWillBeUpdated", new_post=new_post, old_post=old_post,
                                     plugin_context=plugin_context)
        return response.modified_post, response.rejection_reason

    async def message_has_been_posted(self, post: pb.Post, plugin_context: pb.PluginContext | None = None) -> None:
        await self.invoke("MessageHasBeenPosted", post=post, plugin_context=plugin_context)

    async def execute_command(self, args: pb.CommandArgs, plugin_context: pb.PluginContext | None = None
                              ) -> pb.CommandResponse | None:
        """The plugin's CommandResponse (None if it gave none); raises HookAppError on an error."""
        response = await self.invoke("ExecuteCommand", args=args, plugin_context=plugin_context)
        self._raise_for_error("ExecuteCommand", response)
        result: pb.CommandResponse | None = response.response
        return result

    async def user_will_log_in(self, user: pb.User, plugin_context: pb.PluginContext | None = None) -> str:
        """The rejection reason ("" allows the login)."""
        response = await self.invoke("UserWillLogIn", user=user, plugin_context=plugin_context)
        reason: str = response.rejection_reason
        return reason

    async def on_shared_channels_ping(self, remote_cluster: Any = None) -> bool:
        response = await self.invoke("OnSharedChannelsPing", remote_cluster=remote_cluster)
        healthy: bool = response.healthy
        return healthy


def _unary_row(hook: str) -> Hook:
    row = HOOKS_BY_NAME.get(hook)
    if row is None:
        raise KeyError(f"unknown hook {hook!r}")
    if row.streaming:
        raise TypeError(f"{hook} is a stream; use serve_http()")
    return row


__all__ = ["DEFAULT_HOOK_TIMEOUT", "HooksAdapter"]
