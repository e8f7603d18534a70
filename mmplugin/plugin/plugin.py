"""The :class:`Plugin` base class and the checks run when a subclass is defined."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from mmplugin.hooks import HOOKS, HOOKS_BY_METHOD, HOOKS_BY_NAME, Hook
from mmplugin.http import ASGIApp, ASGIHandler, HTTPHandler, NativeHandler, Request, Response, StreamingResponse
from mmplugin.manifest import Manifest
from mmplugin.proto import pb
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT

if TYPE_CHECKING:
    # Imported on first use of ``api``: a plugin that never calls the host does not load the client.
    from mmplugin.api import AsyncPluginAPI, PluginAPI

_UNARY = tuple(hook for hook in HOOKS if not hook.streaming)
_METHODS = tuple(hook.method for hook in _UNARY)
_SQUASHED = {method.replace("_", ""): method for method in _METHODS}
_FIRST_WORDS = {method.split("_")[0] for method in _METHODS}


class Plugin:
    """Base class of a Mattermost server plugin: define hook handlers as methods.

    A handler is named after its hook in snake_case (MessageWillBePosted → ``message_will_be_posted``),
    may be ``def`` or ``async def``, and receives the hook's request fields as typed messages, e.g.
    ``message_will_be_posted(self, plugin_context, post)``. ``def`` handlers run in a thread pool of
    :attr:`max_workers` threads so they never block other calls. The host is told about exactly the
    hooks a class defines (plus OnActivate when it defines ``on_configuration_change``, which runs
    just before activation, as for Go plugins).

    Example::

        class Hello(Plugin):
            hook_timeout = 10.0
            timeouts = {"message_will_be_posted": 2.0}

            async def message_will_be_posted(self, plugin_context, post):
                if "spam" in post.message:
                    return Reject("no spam here")
                return None  # allow unchanged

        if __name__ == "__main__":
            mmplugin.run(Hello)

    ``id`` (lower-cased) and ``manifest`` (the checked ``plugin.json``, a
    :class:`~mmplugin.manifest.Manifest`) are set by :func:`mmplugin.run` after the instance is
    created and before any hook runs.
    """

    hook_timeout: ClassVar[float] = 30.0
    """Seconds a handler may take before the hook gets its negative answer (the host waits 30 s)."""
    timeouts: ClassVar[Mapping[str, float]] = {}
    """Per-handler timeouts overriding :attr:`hook_timeout`, keyed by handler name."""
    max_workers: ClassVar[int] = 8
    """Threads running ``def`` handlers; more concurrent sync calls queue."""
    max_receive_size: ClassVar[int] = FILE_RECEIVE_LIMIT
    """Largest message (bytes, encoded) the plugin accepts from the host: 128 MiB, enough for
    FileWillBeUploaded with a file of Mattermost's default ``MaxFileSize`` (100 MiB). A larger one
    fails its call with RESOURCE_EXHAUSTED before it is read, and the host treats the hook as failed."""
    warm_up: ClassVar[bool] = True
    """Prepare the message classes and codec functions of the implemented hooks in the background
    once the plugin is serving, so that no hook's first call pays for them (about 15 ms for
    MessageWillBePosted). It holds the event loop for 10 ms at most at a time; for a plugin
    implementing every hook it is about 0.2 s of CPU and 6 MiB in all. False leaves that to each
    hook's first call: less work and memory at start for a plugin whose hooks are seldom called."""
    shutdown_grace: ClassVar[float] = 1.5
    """Seconds running hooks get to finish when the plugin is asked to stop. go-plugin kills a
    plugin that has not exited 2 s after its Shutdown call, so a longer grace only helps under
    SIGTERM from other hosts."""

    id: str
    manifest: Manifest
    _loop: asyncio.AbstractEventLoop | None = None

    @functools.cached_property
    def api(self) -> AsyncPluginAPI:
        """The host's PluginAPI for ``async def`` handlers: ``await self.api.get_user(user_id=uid)``.

        Connects on first use to ``$MATTERMOST_PLUGIN_API_TARGET`` and is closed when the plugin stops.
        """
        from mmplugin.api import AsyncPluginAPI

        return AsyncPluginAPI(plugin_id=getattr(self, "id", None))

    @functools.cached_property
    def sync_api(self) -> PluginAPI:
        """The blocking twin of :attr:`api` for ``def`` handlers (they run in worker threads); it
        shares :attr:`api`'s connection. Calling it from the event loop's thread raises."""
        if self._loop is None:
            raise RuntimeError("sync_api is available once the plugin is running (inside hook handlers)")
        from mmplugin.api import PluginAPI

        return PluginAPI.from_async(self.api, self._loop)

    _hook_handlers: ClassVar[dict[str, Callable[..., Any]]] = {}

    async def serve_http(self, plugin_context: pb.PluginContext, request: Request) -> Response | StreamingResponse:
        """Answer an HTTP request to ``/plugins/<id>/...`` (ServeHTTP), body streamed both ways.

        Define this (``async def``) or :meth:`asgi_app`, not both. ``request.stream()`` yields the
        body as it arrives; return a :class:`~mmplugin.http.Response` or a
        :class:`~mmplugin.http.StreamingResponse`. See ``docs/http.md``.
        """
        raise NotImplementedError

    def asgi_app(self) -> ASGIApp | None:
        """Return an ASGI 3 app (Starlette, FastAPI, ...) to serve ``/plugins/<id>/...`` with.

        Called once, after ``id`` and ``manifest`` are set and before the first request.
        """
        return None

    def http_handler(self) -> HTTPHandler | None:
        """The handler ServeHTTP is served with, or None when the plugin serves no HTTP."""
        if type(self).serve_http is not Plugin.serve_http:
            return NativeHandler(self.serve_http)
        app = self.asgi_app()
        return ASGIHandler(app) if app is not None else None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            _check_attribute(cls, name, value)
        _check_settings(cls)
        cls._hook_handlers = {
            hook.name: handler for hook in _UNARY
            if inspect.isfunction(handler := getattr(cls, hook.method, None))
        }


def implemented_hooks(plugin_class: type[Plugin]) -> list[str]:
    """The hook names a plugin class answers ``Implemented`` with, in table order."""
    handlers = plugin_class._hook_handlers
    return [
        hook.name for hook in _UNARY
        if hook.name in handlers or (hook.name == "OnActivate" and "OnConfigurationChange" in handlers)
    ]


def timeout_for(plugin_class: type[Plugin], hook: Hook) -> float:
    """The configured timeout of ``hook``'s handler, in seconds."""
    return plugin_class.timeouts.get(hook.method, plugin_class.hook_timeout)


def _where(cls: type, name: str) -> str:
    return f"{cls.__qualname__}.{name}"


def _check_attribute(cls: type, name: str, value: object) -> None:
    hook = HOOKS_BY_METHOD.get(name)
    if hook is not None:
        if hook.streaming:
            _check_http_handler(cls, name, value)
        else:
            _check_handler(cls, name, value, hook)
        return
    if name.startswith("_") or not (callable(value) or isinstance(value, (staticmethod, classmethod))):
        return
    if name in HOOKS_BY_NAME:
        raise TypeError(f"{_where(cls, name)}: handlers are named in snake_case; "
                        f"define {HOOKS_BY_NAME[name].method} for the {name} hook")
    match = _SQUASHED.get(name.replace("_", "").lower())
    if match is None and name.split("_")[0] in _FIRST_WORDS:
        match = _closest_handler(name, cutoff=0.8)
    if match is not None:
        raise TypeError(f"{_where(cls, name)} is not a hook handler; did you mean {match}? "
                        "(names this close to a hook are refused as typos: rename the method or "
                        "start it with '_')")


def _check_handler(cls: type, name: str, value: object, hook: Hook) -> None:
    if not inspect.isfunction(value):
        raise TypeError(f"{_where(cls, name)} must be a method (def or async def) handling the {hook.name} "
                        f"hook, not {type(value).__name__}; hook handlers are: {', '.join(_METHODS)}")
    signature = inspect.signature(value)
    try:
        signature.bind("self", *hook.params)
    except TypeError:
        wanted = ", ".join(("self", *hook.params))
        raise TypeError(f"{_where(cls, name)} handles {hook.name} and is called as {name}({wanted}); "
                        f"its signature is {name}{signature}") from None


def _check_http_handler(cls: type, name: str, value: object) -> None:
    if not inspect.iscoroutinefunction(value):
        raise TypeError(f"{_where(cls, name)} must be an async def serve_http(self, plugin_context, request)")
    try:
        inspect.signature(value).bind("self", "plugin_context", "request")
    except TypeError:
        raise TypeError(f"{_where(cls, name)} is called as serve_http(self, plugin_context, request); "
                        f"its signature is {name}{inspect.signature(value)}") from None
    if "asgi_app" in vars(cls):
        raise TypeError(f"{cls.__qualname__} defines both serve_http and asgi_app; keep one")


def _closest_handler(name: str, cutoff: float) -> str | None:
    """The handler name ``name`` is most likely a misspelling of, if any is close enough."""
    import difflib  # loaded only when a name looks mistyped

    close = difflib.get_close_matches(name, _METHODS, n=1, cutoff=cutoff)
    return close[0] if close else None


def _check_settings(cls: type[Plugin]) -> None:
    _check_seconds(cls, "hook_timeout", cls.hook_timeout, positive=True)
    _check_seconds(cls, "shutdown_grace", cls.shutdown_grace, positive=False)
    if not isinstance(cls.timeouts, Mapping):
        raise TypeError(f"{_where(cls, 'timeouts')} must be a dict of handler name to seconds")
    for key, seconds in cls.timeouts.items():
        if key not in _METHODS:
            close = _closest_handler(str(key), cutoff=0.6)
            hint = f"did you mean {close}?" if close else f"handler names are: {', '.join(_METHODS)}"
            raise TypeError(f"{_where(cls, 'timeouts')}: {key!r} is not a hook handler name; {hint}")
        _check_seconds(cls, f"timeouts[{key!r}]", seconds, positive=True)
    if not isinstance(cls.warm_up, bool):
        raise TypeError(f"{_where(cls, 'warm_up')} must be True or False, got {cls.warm_up!r}")
    workers = cls.max_workers
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise TypeError(f"{_where(cls, 'max_workers')} must be a positive int, got {workers!r}")
    size = cls.max_receive_size
    if not isinstance(size, int) or isinstance(size, bool) or size < 1024:
        raise TypeError(f"{_where(cls, 'max_receive_size')} must be a number of bytes (at least 1024), got {size!r}")


def _check_seconds(cls: type, name: str, value: object, *, positive: bool) -> None:
    valid = False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        valid = value > 0 or (value == 0 and not positive)
    if not valid:
        raise TypeError(f"{_where(cls, name)} must be a number of seconds {'> 0' if positive else '>= 0'}, "
                        f"got {value!r}")
