"""go-plugin's process contract as values: the environment a host sets and the handshake line.

A plugin prints ``Handshake(...).line()`` as its first stdout line; a host reads that line back
with :meth:`Handshake.parse`, which names what is wrong with a malformed one (SEMANTICS §1).
"""

from __future__ import annotations

from typing import NamedTuple

MAGIC_COOKIE_KEY = "MATTERMOST_PLUGIN"
MAGIC_COOKIE_VALUE = "Securely message teams, anywhere."
API_TARGET_ENV = "MATTERMOST_PLUGIN_API_TARGET"
MIN_PORT_ENV = "PLUGIN_MIN_PORT"
MAX_PORT_ENV = "PLUGIN_MAX_PORT"
PROTOCOL_VERSIONS_ENV = "PLUGIN_PROTOCOL_VERSIONS"

CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 1


class HandshakeError(ValueError):
    """A handshake line that a go-plugin host would refuse; the message says why."""


class Handshake(NamedTuple):
    """``CORE|APP|NETWORK|ADDRESS|PROTOCOL``, e.g. ``1|1|tcp|127.0.0.1:4242|grpc``."""

    host: str
    port: int
    core_version: int = CORE_PROTOCOL_VERSION
    app_version: int = APP_PROTOCOL_VERSION
    network: str = "tcp"
    protocol: str = "grpc"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def line(self) -> str:
        """The handshake line, without its newline."""
        fields = (self.core_version, self.app_version, self.network, self.address, self.protocol)
        return "|".join(str(f) for f in fields)

    @classmethod
    def parse(cls, line: str) -> Handshake:
        """Parse and validate a handshake line as Mattermost's go-plugin host would."""
        text = line.strip()
        parts = text.split("|")
        if len(parts) != 5:
            raise HandshakeError(f"handshake line must have 5 '|'-separated fields, got {len(parts)}: {text!r}")
        core, app, network, address, protocol = parts
        if core != str(CORE_PROTOCOL_VERSION):
            raise HandshakeError(f"unsupported core protocol version {core!r} (expected {CORE_PROTOCOL_VERSION})")
        if app != str(APP_PROTOCOL_VERSION):
            raise HandshakeError(f"unsupported app protocol version {app!r} (expected {APP_PROTOCOL_VERSION})")
        if network != "tcp":
            raise HandshakeError(f"unsupported network {network!r} (only tcp is supported)")
        if protocol != "grpc":
            raise HandshakeError(f"unsupported plugin protocol {protocol!r} (expected grpc)")
        host, sep, port_text = address.rpartition(":")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise HandshakeError(f"malformed address {address!r} (expected HOST:PORT)")
        return cls(host=host, port=int(port_text))
