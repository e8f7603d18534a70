"""The client a plugin uses to call its host: ``mattermost.pluginapi.v1.PluginAPI``.

:class:`AsyncPluginAPI` for async code, :class:`PluginAPI` for blocking code (sync handlers in
worker threads, scripts); both have one typed method per RPC (``get_user``, ``kv_set``,
``create_post``, ...) and raise the exceptions of :mod:`mmplugin.api.errors`.

Example::

    from mmplugin.api import AsyncPluginAPI, NotFoundError

    async with AsyncPluginAPI() as api:          # target from $MATTERMOST_PLUGIN_API_TARGET
        try:
            user = await api.get_user(user_id="u1")
        except NotFoundError as exc:
            await api.log_warn("no such user", user_id="u1", error_id=exc.id)
"""

from ._async_client import AsyncPluginAPI
from ._methods import GetEmojiImageResult, PluginHttpResult
from ._sync_client import PluginAPI
from ._transport import MAX_REQUEST_BYTES, TARGET_ENV
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PluginAPIError,
    RateLimitedError,
    TooLargeError,
    UnavailableError,
    UnimplementedError,
)

__all__ = [
    "MAX_REQUEST_BYTES",
    "TARGET_ENV",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncPluginAPI",
    "ConfigurationError",
    "ConflictError",
    "GetEmojiImageResult",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginAPI",
    "PluginAPIError",
    "PluginHttpResult",
    "RateLimitedError",
    "TooLargeError",
    "UnavailableError",
    "UnimplementedError",
]
