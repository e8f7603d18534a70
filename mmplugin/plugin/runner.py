"""Calls a plugin's handlers: each call under its timeout, ``def`` handlers in a bounded thread pool.

Every outcome becomes the hook's response: a return value through :func:`to_response`, an
exception or a timeout through :func:`error_response`, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import betterproto2

from mmplugin.hooks import HOOKS_BY_NAME, Hook
from mmplugin.plugin.dispatch import arguments, describe, error_response, fill, to_response
from mmplugin.plugin.errors import HookError
from mmplugin.plugin.plugin import Plugin, timeout_for

_log = logging.getLogger("mmplugin")
_CONFIGURE = HOOKS_BY_NAME["OnConfigurationChange"]


class HookRunner:
    """Answers hook requests for one plugin instance."""

    def __init__(self, plugin: Plugin, executor: concurrent.futures.Executor) -> None:
        self._plugin = plugin
        self._handlers = type(plugin)._hook_handlers
        self._executor = executor
        self._threads: set[concurrent.futures.Future[Any]] = set()

    @property
    def busy_threads(self) -> int:
        """``def`` handlers still running in a thread (including abandoned ones)."""
        return sum(not future.done() for future in list(self._threads))

    async def answer(self, hook: Hook, request: betterproto2.Message,
                     budget: float | None = None) -> betterproto2.Message:
        """Run ``hook``'s handler and return the response to send.

        ``budget`` (seconds) shortens the configured timeout, so that the negative answer reaches a
        host whose own deadline would otherwise expire first.
        """
        seconds = timeout_for(type(self._plugin), hook)
        if budget is not None:
            seconds = max(0.0, min(seconds, budget))
        try:
            return to_response(hook, await _within(seconds, self._call(hook, request), hook))
        except _Expired:
            handler = self._handlers.get(hook.name)
            abandoned = handler is not None and not inspect.iscoroutinefunction(handler)
            _log.error("%s did not answer within %.3g s%s", hook.method, seconds,
                       "; its thread cannot be stopped and is abandoned" if abandoned else "; cancelled",
                       extra={"hook": hook.name})
            return error_response(hook, HookError(f"{hook.method} did not answer within {seconds:.3g} s"))
        except Exception as exc:
            _log.error("%s failed: %s", hook.method, describe(exc), exc_info=exc, extra={"hook": hook.name})
            return error_response(hook, exc)

    async def _call(self, hook: Hook, request: betterproto2.Message) -> Any:
        if hook.name == "OnActivate" and _CONFIGURE.name in self._handlers:
            configured = await self._configure()
            if configured.error is not None:
                return fill(hook, "error", configured.error)
        handler = self._handlers.get(hook.name)
        return None if handler is None else await self._invoke(handler, arguments(hook, request))

    async def _configure(self) -> Any:
        # Go plugins see OnConfigurationChange just before OnActivate; the Go host does not do it
        # for gRPC plugins, so the runtime does (SEMANTICS §2).
        try:
            value = await self._invoke(self._handlers[_CONFIGURE.name], ())
        except HookError:
            raise
        except Exception as exc:
            raise HookError(f"on_configuration_change failed before activation: {describe(exc)}",
                            id="plugin.on_configuration_change.error") from exc
        return to_response(_CONFIGURE, value)

    async def _invoke(self, handler: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if inspect.iscoroutinefunction(handler):
            return await handler(self._plugin, *args)
        result = await self._in_thread(handler, self._plugin, *args)
        if inspect.isawaitable(result):  # a sync wrapper (e.g. a decorator) around an async handler
            result = await result
        return result

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        context = contextvars.copy_context()
        future = self._executor.submit(context.run, function, *args)
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.wrap_future(future)


class _Expired(Exception):
    """The handler did not answer within its time (its own TimeoutError stays a handler failure)."""


if sys.version_info >= (3, 11):

    async def _within(seconds: float, call: Coroutine[Any, Any, Any], hook: Hook) -> Any:
        """``await call`` in this task, cancelled after ``seconds``: a fast handler costs no extra task."""
        try:
            async with asyncio.timeout(seconds) as scope:
                return await call
        except TimeoutError:
            if scope.expired():
                raise _Expired from None
            raise

else:  # Python 3.10: no asyncio.timeout; run the call as its own task and wait for it

    async def _within(seconds: float, call: Coroutine[Any, Any, Any], hook: Hook) -> Any:
        """``await call`` as a task, cancelled (and left to log a late failure) after ``seconds``."""
        task = asyncio.ensure_future(call)
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
        finally:
            if not task.done():
                task.cancel()
                task.add_done_callback(_log_late_failure(hook))
        if not done:
            raise _Expired
        return task.result()


def _log_late_failure(hook: Hook) -> Callable[[asyncio.Future[Any]], None]:
    def retrieve(call: asyncio.Future[Any]) -> None:
        if not call.cancelled() and call.exception() is not None:
            _log.error("%s failed after its timeout", hook.method, exc_info=call.exception(),
                       extra={"hook": hook.name})
    return retrieve
