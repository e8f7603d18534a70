"""Test a plugin as it runs in production: its own process, under a host, against an in-memory Mattermost.

With ``pip install 'mmplugin[testing]'`` pytest gets two fixtures (see
:mod:`mmplugin.testing.pytest_plugin`): ``plugin_host``, the plugin whose directory holds the test,
and ``mmplugin_host``, a factory for any plugin directory. Both give a :class:`PluginHost`::

    async def test_greets(plugin_host):
        response = await plugin_host.execute_command("/hello Ann")
        assert response.text == "Hello, Ann!"

See ``docs/testing.md``. The names below are imported on first use, so that loading the pytest
plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmplugin.host.actions import PostOutcome
    from mmplugin.testing.host import PluginHost, PostResult
    from mmplugin.testing.logs import LogLine
    from mmplugin.testing.transport import StreamingASGITransport

_HOMES = {
    "LogLine": "mmplugin.testing.logs",
    "PluginHost": "mmplugin.testing.host",
    "PostOutcome": "mmplugin.host.actions",
    "PostResult": "mmplugin.testing.host",
    "StreamingASGITransport": "mmplugin.testing.transport",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'mmplugin.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


__all__ = ["LogLine", "PluginHost", "PostOutcome", "PostResult", "StreamingASGITransport"]
