"""The plugin key-value store with the Mattermost server's semantics, in memory or in SQLite.

Each plugin has its own namespace. An empty value deletes (Go sends ``nil``); an expired key reads
as absent; ``set_with_options`` with ``atomic`` is a compare-and-set against ``old_value``, where an
empty ``old_value`` means "only if the key does not exist" and an empty new value means
compare-and-delete. Every operation runs to completion without awaiting, so each is atomic on the
event loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from mmplugin.host.apiserver.errors import ApiError

KEY_MAX_RUNES = 150


class KVBackend(Protocol):
    """Raw rows ``(plugin_id, key) -> (value, expire_at ms or 0)``; expiry is the store's business."""

    def get(self, plugin_id: str, key: str) -> tuple[bytes, int] | None: ...
    def put(self, plugin_id: str, key: str, value: bytes, expire_at: int) -> None: ...
    def delete(self, plugin_id: str, key: str) -> None: ...
    def delete_all(self, plugin_id: str) -> None: ...
    def live_keys(self, plugin_id: str, now: int, offset: int, limit: int) -> list[str]: ...


class MemoryBackend:
    def __init__(self) -> None:
        self._rows: dict[str, dict[str, tuple[bytes, int]]] = {}

    def get(self, plugin_id: str, key: str) -> tuple[bytes, int] | None:
        return self._rows.get(plugin_id, {}).get(key)

    def put(self, plugin_id: str, key: str, value: bytes, expire_at: int) -> None:
        self._rows.setdefault(plugin_id, {})[key] = (value, expire_at)

    def delete(self, plugin_id: str, key: str) -> None:
        self._rows.get(plugin_id, {}).pop(key, None)

    def delete_all(self, plugin_id: str) -> None:
        self._rows.pop(plugin_id, None)

    def live_keys(self, plugin_id: str, now: int, offset: int, limit: int) -> list[str]:
        rows = self._rows.get(plugin_id, {})
        return sorted(k for k, (_, exp) in rows.items() if not exp or exp > now)[offset:offset + limit]


class SqliteBackend:
    """KV rows in an SQLite file, so a local host keeps plugin data across runs."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        try:
            self._db.execute("CREATE TABLE IF NOT EXISTS plugin_kv (plugin_id TEXT NOT NULL, key TEXT NOT NULL, "
                             "value BLOB NOT NULL, expire_at INTEGER NOT NULL, PRIMARY KEY (plugin_id, key))")
        except sqlite3.Error:  # not a database, or a place it cannot be created
            self._db.close()
            raise

    def get(self, plugin_id: str, key: str) -> tuple[bytes, int] | None:
        row = self._db.execute("SELECT value, expire_at FROM plugin_kv WHERE plugin_id = ? AND key = ?",
                               (plugin_id, key)).fetchone()
        return (bytes(row[0]), int(row[1])) if row else None

    def put(self, plugin_id: str, key: str, value: bytes, expire_at: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO plugin_kv VALUES (?, ?, ?, ?)", (plugin_id, key, value, expire_at))

    def delete(self, plugin_id: str, key: str) -> None:
        self._db.execute("DELETE FROM plugin_kv WHERE plugin_id = ? AND key = ?", (plugin_id, key))

    def delete_all(self, plugin_id: str) -> None:
        self._db.execute("DELETE FROM plugin_kv WHERE plugin_id = ?", (plugin_id,))

    def live_keys(self, plugin_id: str, now: int, offset: int, limit: int) -> list[str]:
        rows = self._db.execute("SELECT key FROM plugin_kv WHERE plugin_id = ? AND (expire_at = 0 OR expire_at > ?) "
                                "ORDER BY key LIMIT ? OFFSET ?", (plugin_id, now, limit, offset)).fetchall()
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        self._db.close()


class KVStore:
    """KV operations of the PluginAPI for every plugin; ``clock`` returns seconds since the epoch."""

    def __init__(self, backend: KVBackend | None = None, clock: Callable[[], float] = time.time) -> None:
        self.backend: KVBackend = backend if backend is not None else MemoryBackend()
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def _live(self, plugin_id: str, key: str) -> bytes | None:
        row = self.backend.get(plugin_id, key)
        if row is None:
            return None
        value, expire_at = row
        if expire_at and expire_at <= self._now():
            self.backend.delete(plugin_id, key)
            return None
        return value

    def get(self, plugin_id: str, key: str) -> bytes | None:
        _check_key(key)
        return self._live(plugin_id, key)

    def set(self, plugin_id: str, key: str, value: bytes) -> None:
        self.set_with_options(plugin_id, key, value)

    def set_with_expiry(self, plugin_id: str, key: str, value: bytes, expire_in_seconds: int) -> None:
        self.set_with_options(plugin_id, key, value, expire_in_seconds=expire_in_seconds)

    def set_with_options(self, plugin_id: str, key: str, value: bytes, *, atomic: bool = False,
                         old_value: bytes = b"", expire_in_seconds: int = 0) -> bool:
        """Set (or, for an empty value, delete) ``key``; with ``atomic`` only if it holds ``old_value``."""
        _check_key(key)
        if old_value and not atomic:
            raise ApiError("model.plugin_kvset_options.is_valid.old_value.app_error",
                           "old_value can only be used with atomic operations.", 400, where="KVSetWithOptions")
        if expire_in_seconds < 0:
            raise ApiError("model.plugin_kvset_options.is_valid.expire_in_seconds.app_error",
                           "expire_in_seconds must not be negative.", 400, where="KVSetWithOptions")
        if atomic and not value:
            return self.compare_and_delete(plugin_id, key, old_value)
        if atomic and self._live(plugin_id, key) != (old_value or None):
            return False
        if not value:
            self.backend.delete(plugin_id, key)
            return True
        expire_at = self._now() + expire_in_seconds * 1000 if expire_in_seconds else 0
        self.backend.put(plugin_id, key, value, expire_at)
        return True

    def compare_and_set(self, plugin_id: str, key: str, old_value: bytes, new_value: bytes) -> bool:
        return self.set_with_options(plugin_id, key, new_value, atomic=True, old_value=old_value)

    def compare_and_delete(self, plugin_id: str, key: str, old_value: bytes) -> bool:
        _check_key(key)
        if not old_value or self._live(plugin_id, key) != old_value:
            return False
        self.backend.delete(plugin_id, key)
        return True

    def delete(self, plugin_id: str, key: str) -> None:
        _check_key(key)
        self.backend.delete(plugin_id, key)

    def delete_all(self, plugin_id: str) -> None:
        self.backend.delete_all(plugin_id)

    def list(self, plugin_id: str, page: int, per_page: int) -> list[str]:
        """Live keys in key order, ``per_page`` at a time."""
        if page < 0 or per_page < 0:
            raise ApiError("app.plugin.list_keys.app_error", "page and per_page must not be negative.", 400,
                           where="KVList")
        return self.backend.live_keys(plugin_id, self._now(), page * per_page, per_page)


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX_RUNES:
        raise ApiError("model.plugin_key_value.is_valid.key.app_error",
                       f"Invalid key, must be 1 to {KEY_MAX_RUNES} characters.", 400, where="KVSet")


__all__ = ["KEY_MAX_RUNES", "KVBackend", "KVStore", "MemoryBackend", "SqliteBackend"]
