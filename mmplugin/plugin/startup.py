"""What a plugin process checks and prepares before serving (SEMANTICS §1): each step raises
:class:`StartupError` naming what to fix."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from mmplugin.plugin.errors import StartupError
from mmplugin.wire.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, MAX_PORT_ENV, MIN_PORT_ENV

HOST = "127.0.0.1"


def check_cookie(environ: Mapping[str, str]) -> None:
    """Refuse to run unless started by a plugin host (go-plugin's magic cookie is in the env)."""
    if environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise StartupError(
            "This is a Mattermost server plugin: it must be launched by a Mattermost server, "
            f"or locally with `mmplugin run`, not run directly ({MAGIC_COOKIE_KEY} is not set "
            "to the plugin handshake cookie)."
        )


def port_range(environ: Mapping[str, str]) -> range:
    """The ports to try: PLUGIN_MIN_PORT..PLUGIN_MAX_PORT when the host sets them, else any (port 0)."""
    texts = {name: environ.get(name, "").strip() for name in (MIN_PORT_ENV, MAX_PORT_ENV)}
    if not any(texts.values()):
        return range(0, 1)
    for name, text in texts.items():
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise StartupError(f"{name}={text!r} is not a port number (1-65535); "
                               f"set both {MIN_PORT_ENV} and {MAX_PORT_ENV}, or neither")
    low, high = (int(text) for text in texts.values())
    if low > high:
        raise StartupError(f"{MIN_PORT_ENV}={low} is above {MAX_PORT_ENV}={high}")
    return range(low, high + 1)


def bind_listener(ports: range) -> socket.socket:
    """A TCP socket bound to the first free port of ``ports`` on 127.0.0.1, not yet listening.

    Created with ``IPPROTO_TCP`` so asyncio disables Nagle on accepted connections (SEMANTICS §7).
    """
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind((HOST, port))
        except OSError:
            sock.close()
            continue
        return sock
    raise StartupError(f"no free port on {HOST} in {MIN_PORT_ENV}..{MAX_PORT_ENV} = "
                       f"{ports.start}..{ports.stop - 1}")
