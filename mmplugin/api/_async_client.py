"""The asyncio PluginAPI client, and the conveniences it adds to the generated methods."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

import betterproto2

from mmplugin.proto import pb
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT

from ._config import configuration_from_json, read_plugin_id
from ._convert import json_bytes, json_value, key_value_pairs
from ._methods import AsyncMethods
from ._transport import Connection, ResponseT, parse_target

T = TypeVar("T")


def log_pairs(pairs: list[pb.KeyValuePair] | None, fields: dict[str, object]) -> list[pb.KeyValuePair]:
    """The ``key_value_pairs`` of a Log* request: explicit pairs, then ``**fields``."""
    return [*(pairs or ()), *key_value_pairs(fields)]


class AsyncPluginAPI(AsyncMethods):
    """The host's PluginAPI for async code: ``await api.get_user(user_id=...)``.

    One method per RPC of ``mattermost.pluginapi.v1.PluginAPI`` (snake_case names, the request's
    fields as keyword arguments, the response's payload as the result), plus the conveniences
    ``log_*(msg, **fields)``, ``kv_set_json``/``kv_get_json`` and
    ``load_plugin_configuration(DataclassType)``. Errors raise :mod:`mmplugin.api.errors`.

    ``target`` is ``"127.0.0.1:PORT"``, by default ``$MATTERMOST_PLUGIN_API_TARGET``. The
    connection opens on the first call, on that call's event loop, and is shared by all calls
    (they may run concurrently); ``timeout`` bounds each call (default: none, like the Go host).
    ``plugin_id`` answers :meth:`get_plugin_id`, by default the ``id`` of ``./plugin.json``.
    Close with ``await api.close()`` or ``async with AsyncPluginAPI() as api: ...``.

    Requests over 4 MiB encoded raise :class:`TooLargeError` before anything is sent (the Go host's
    receive limit); so do responses over ``max_response_size`` bytes (128 MiB by default), before
    they are read. Keepalive pings stay off.

    Example::

        async with AsyncPluginAPI("127.0.0.1:50051") as api:
            await api.kv_set_json("greeting", {"text": "hello"})
            await api.log_info("greeting stored", key="greeting")
    """

    def __init__(
        self, target: str | None = None, *, plugin_id: str | None = None, timeout: float | None = None,
        max_response_size: int = FILE_RECEIVE_LIMIT,
    ) -> None:
        self._target = target
        self._timeout = timeout
        self._max_response_size = max_response_size
        self._plugin_id = plugin_id
        self._directory = Path.cwd()
        self._connection: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def _call(
        self, rpc: str, request: betterproto2.Message, response_type: type[ResponseT]
    ) -> ResponseT:
        return await self._connect(rpc).call(rpc, request, response_type)

    def _connect(self, rpc: str) -> Connection:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError(f"{rpc}: this PluginAPI client is closed")
        if self._connection is None:
            host, port = parse_target(self._target)
            self._connection = Connection(host, port, self._timeout, self._max_response_size)
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError(
                f"{rpc}: this AsyncPluginAPI belongs to the event loop of its first call; from another "
                "thread use PluginAPI.from_async(api, loop)"
            )
        return self._connection

    def _close(self) -> None:
        """Close the connection; call it on the connection's loop thread."""
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection; later calls raise RuntimeError."""
        self._close()

    async def __aenter__(self) -> AsyncPluginAPI:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _local_plugin_id(self) -> str:
        """The plugin id given at construction, else the ``id`` in ./plugin.json (lower-cased)."""
        if self._plugin_id is None:
            self._plugin_id = read_plugin_id(self._directory)
        return self._plugin_id

    async def get_plugin_id(self) -> str:
        """The plugin's id, answered locally: the Go host answers ``GetPluginID`` with UNIMPLEMENTED."""
        return self._local_plugin_id()

    async def log_debug(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at debug level in the server log, with ``fields`` as structured fields."""
        await super().log_debug(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    async def log_info(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at info level in the server log, with ``fields`` as structured fields."""
        await super().log_info(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    async def log_warn(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at warn level in the server log, with ``fields`` as structured fields."""
        await super().log_warn(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    async def log_error(
        self, msg: str, key_value_pairs: list[pb.KeyValuePair] | None = None, **fields: object
    ) -> None:
        """Log ``msg`` at error level in the server log, with ``fields`` as structured fields."""
        await super().log_error(msg=msg, key_value_pairs=log_pairs(key_value_pairs, fields))

    async def kv_set_json(self, key: str, value: object, *, expire_in_seconds: int | None = None) -> None:
        """Store ``value`` as JSON under ``key`` (``KVSet``, or ``KVSetWithExpiry`` with an expiry)."""
        data = json_bytes("kv_set_json", key, value)
        if expire_in_seconds is None:
            await self.kv_set(key=key, value=data)
        else:
            await self.kv_set_with_expiry(key=key, value=data, expire_in_seconds=expire_in_seconds)

    async def kv_get_json(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default`` when there is none."""
        return json_value("kv_get_json", key, await self.kv_get(key=key), default)

    @overload
    async def load_plugin_configuration(self) -> bytes: ...
    @overload
    async def load_plugin_configuration(self, config_type: type[T]) -> T: ...
    async def load_plugin_configuration(self, config_type: type[T] | None = None) -> bytes | T:
        """The plugin's configuration: JSON bytes, or an instance of the dataclass ``config_type``
        whose fields match the setting keys case-insensitively (underscores ignored)."""
        data = await super().load_plugin_configuration()
        return data if config_type is None else configuration_from_json(config_type, data)
