"""What every stack's benchmark plugin does, written once: paths, the API trigger, the post check.

Imported by the plugin processes of all three stacks, so it uses the standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PLUGIN_ID = "com.example.bench"

# go-plugin's process contract (SEMANTICS §1), spelled out here so that the baseline and limit
# plugins import nothing of mmplugin; tests/test_bench_smoke.py checks them against mmplugin.wire.
MAGIC_COOKIE_KEY = "MATTERMOST_PLUGIN"
MAGIC_COOKIE_VALUE = "Securely message teams, anywhere."
API_TARGET_ENV = "MATTERMOST_PLUGIN_API_TARGET"

ECHO_PATH = "/echo"
DOWNLOAD_PATH = "/download"
SMALL_PATH = "/small"
SMALL_BODY = bytes(range(256)) * 4  # the 1 KiB GET answer
CHUNK_SIZE = 64 * 1024
_CHUNK = bytes(range(256)) * (CHUNK_SIZE // 256)

IMPLEMENTED = ("MessageWillBePosted", "ExecuteCommand", "ServeHTTP")

API_COMMAND = "/bench-api"
API_METHODS = ("GetUser", "KVSet", "KVGet")
KV_KEY = "user_prefs_" + "u7" * 13
KV_VALUE = b'{"theme":"dark","tz":"Europe/Berlin"}' * 8

BLOCKED_WORDS = ("spam", "phishing", "casino")


def check_cookie() -> None:
    """Exit 1 unless started by a host, as every plugin must (SEMANTICS §1.2)."""
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print("benchmark plugin: must be launched by a plugin host", file=sys.stderr)
        raise SystemExit(1)


def handshake_line(port: int) -> str:
    return f"1|1|tcp|127.0.0.1:{port}|grpc\n"


def allows(message: str, from_webhook: str) -> bool:
    """The MessageWillBePosted check of every stack: look at the text and one prop, then allow."""
    text = message.lower()
    return not (any(word in text for word in BLOCKED_WORDS) and from_webhook != "true")


def read_post(post: Any) -> bool:
    """The reads of the MessageWillBePosted handlers (text and one prop), on either stack's message.

    The codec's decode figure includes them: mmplugin decodes a Struct when it is first read and
    upb makes Python objects for fields when they are first read, so parsing alone would not
    compare like with like.
    """
    return allows(post.message, post.props.fields["from_webhook"].string_value)


def pieces(size: int) -> Iterator[bytes]:
    """``size`` body bytes in 64 KiB pieces, as the Mattermost server chunks bodies (SEMANTICS §3)."""
    for start in range(0, size, CHUNK_SIZE):
        yield _CHUNK if size - start >= CHUNK_SIZE else _CHUNK[:size - start]


def download_size(url: str) -> int:
    """The byte count asked for by ``/download?size=N``."""
    _, _, query = url.partition("?")
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "size" and value.isdigit():
            return int(value)
    raise ValueError(f"no size in download URL {url!r}")


@dataclass(frozen=True)
class ApiRun:
    """The host's order to a plugin: time ``calls`` PluginAPI calls of ``method`` after ``warmup``."""

    method: str
    calls: int
    warmup: int
    user_id: str

    def command(self) -> str:
        """The slash command text carried by the ExecuteCommand hook."""
        return f"{API_COMMAND} {self.method} {self.calls} {self.warmup} {self.user_id}"

    @classmethod
    def parse(cls, command: str) -> ApiRun:
        name, method, calls, warmup, user_id = command.split()
        if name != API_COMMAND or method not in API_METHODS:
            raise ValueError(f"not a benchmark API command: {command!r}")
        return cls(method, int(calls), int(warmup), user_id)
