"""The server connection of ``deploy``, ``enable``, ``disable``, ``remove`` and ``logs``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mmplugin.cli.output import CliError

if TYPE_CHECKING:
    from mmplugin.deploy import ServerClient


@contextmanager
def server() -> Iterator[ServerClient]:
    """A client of the server the environment points at (see :func:`mmplugin.deploy.connect`);
    every :class:`~mmplugin.deploy.DeployError` inside the block becomes a :class:`CliError`."""
    try:
        from mmplugin.deploy import DeployError, connect
    except ImportError as exc:
        raise CliError(f"talking to a server needs httpx ({exc})", hint="pip install 'mmplugin[host]'") from None
    try:
        with connect() as client:
            yield client
    except DeployError as exc:
        raise CliError(str(exc)) from None


__all__ = ["server"]
