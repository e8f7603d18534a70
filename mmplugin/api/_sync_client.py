"""The blocking PluginAPI client: the async client's calls, run on an event loop from another thread."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any, TypeVar, overload

import betterproto2

from mmplugin.proto import pb
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT

from ._async_client import AsyncPluginAPI, log_pairs
from ._config import configuration_from_json
from ._convert import json_bytes, json_value
from ._methods import SyncMethods
from ._transport import ResponseT

T = TypeVar("T")


class PluginAPI(SyncMethods):
    """The host's PluginAPI for blocking code: ``api.get_user(user_id=...)``.

    The same methods, conveniences and errors as :class:`AsyncPluginAPI`, which does the work:
    each call runs on an event loop and this thread waits for it.

    - In a plugin, sync handlers run in worker threads: ``PluginAPI.from_async(api, loop)`` runs
      calls on the plugin's loop (sharing its connection), or pass ``loop=`` for a connection of
      its own on that loop. A call from that loop's own thread would wait for itself forever, so it
      raises RuntimeError instead: async code uses the async client.
    - Standalone (scripts, no ``loop``): calls run on a private loop in a daemon thread, started by
      the first call and stopped by :meth:`close`.

    Example::

        with PluginAPI("127.0.0.1:50051") as api:
            print(api.kv_get_json("greeting"))
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        plugin_id: str | None = None,
        timeout: float | None = None,
        max_response_size: int = FILE_RECEIVE_LIMIT,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._api = AsyncPluginAPI(target, plugin_id=plugin_id, timeout=timeout, max_response_size=max_response_size)
        self._owns_api = True
        self._loop = loop
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_async(cls, api: AsyncPluginAPI, loop: asyncio.AbstractEventLoop) -> PluginAPI:
        """A blocking view of ``api``, whose calls run on ``loop`` (closing it leaves ``api`` open)."""
        client = cls(loop=loop)
        client._api, client._owns_api = api, False
        return client

    def _call(self, rpc: str, request: betterproto2.Message, response_type: type[ResponseT]) -> ResponseT:
        loop = self._event_loop(rpc)
        future = asyncio.run_coroutine_threadsafe(self._api._call(rpc, request, response_type), loop)
        try:
            return future.result()
        finally:
            future.cancel()  # only has an effect when this thread stopped waiting (KeyboardInterrupt)

    def _event_loop(self, rpc: str) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="mmplugin-api")
                self._thread.daemon = True
                self._thread.start()
        loop = self._loop
        if loop.is_closed():
            raise RuntimeError(f"{rpc}: this PluginAPI client is closed (or its event loop is)")
        if _running_loop() is loop:
            raise RuntimeError(
                f"{rpc}: the blocking PluginAPI was called on its event loop's own thread, where it would "
                "wait for itself forever; in async code use AsyncPluginAPI (await api.method(...)), "
                "or run blocking code in a worker thread (asyncio.to_thread)"
            )
        if self._thread is None and not loop.is_running():
            raise RuntimeError(f"{rpc}: the event loop given to PluginAPI is not running")
        return loop

    def close(self) -> None:
        """Close the connection (unless it belongs to the AsyncPluginAPI given to
        :meth:`from_async`) and stop the private loop, if any. Idempotent."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._owns_api:
            if _running_loop() is loop:
                self._api._close()
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(self._api.close(), loop).result()
        if self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            loop.close()

    def __enter__(self) -> PluginAPI:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.close()

    def get_plugin_id(self) -> str:
        """The plugin's id, answered locally: the Go host answers ``GetPluginID`` with UNIMPLEMENTED."""
        return self._api._local_plugin_id()

    def log_debug(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at debug level in the server log, with ``fields`` as structured fields."""
        super().log_debug(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    def log_info(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at info level in the server log, with ``fields`` as structured fields."""
        super().log_info(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    def log_warn(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at warn level in the server log, with ``fields`` as structured fields."""
        super().log_warn(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    def log_error(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at error level in the server log, with ``fields`` as structured fields."""
        super().log_error(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    def kv_set_json(self, key: str, value: object, *, expire_in_seconds: int | None = None) -> None:
        """Store ``value`` as JSON under ``key`` (``KVSet``, or ``KVSetWithExpiry`` with an expiry)."""
        data = json_bytes("kv_set_json", key, value)
        if expire_in_seconds is None:
            self.kv_set(key=key, value=data)
        else:
            self.kv_set_with_expiry(key=key, value=data, expire_in_seconds=expire_in_seconds)

    def kv_get_json(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default`` when there is none."""
        return json_value("kv_get_json", key, self.kv_get(key=key), default)

    @overload
    def load_plugin_configuration(self) -> bytes: ...
    @overload
    def load_plugin_configuration(self, config_type: type[T]) -> T: ...
    def load_plugin_configuration(self, config_type: type[T] | None = None) -> bytes | T:
        """The plugin's configuration: JSON bytes, or an instance of the dataclass ``config_type``
        whose fields match the setting keys case-insensitively (underscores ignored)."""
        data = super().load_plugin_configuration()
        return data if config_type is None else configuration_from_json(config_type, data)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
