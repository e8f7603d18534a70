"""An in-memory Mattermost ``PluginAPI`` for running plugins locally and in tests."""

from mmplugin.host.apiserver.errors import ApiError
from mmplugin.host.apiserver.kv import KVStore, MemoryBackend, SqliteBackend
from mmplugin.host.apiserver.server import ApiServer, InMemoryApi
from mmplugin.host.apiserver.service import PluginApiService, embeds_errors
from mmplugin.host.apiserver.store import Seed, Store

__all__ = [
    "ApiError", "ApiServer", "InMemoryApi", "KVStore", "MemoryBackend", "PluginApiService", "Seed",
    "SqliteBackend", "Store", "embeds_errors",
]
