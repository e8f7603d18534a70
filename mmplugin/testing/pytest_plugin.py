"""pytest fixtures for plugin tests; pytest loads this module by itself (entry point ``pytest11``).

- ``plugin_host``: the plugin whose directory holds the test file (the nearest ``plugin.json`` at
  or above it), started for the test and stopped after it. A :class:`~mmplugin.testing.PluginHost`.
- ``mmplugin_host``: a factory for other plugins or settings:
  ``host = await mmplugin_host("path/to/plugin", settings={"Greeting": "Hi"})``. Every host it
  started is stopped after the test.

Both are async fixtures for pytest-asyncio. This module imports nothing heavy, so it costs other
test suites in the same environment nothing; the host is imported when a fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from mmplugin.manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from mmplugin.testing.host import PluginHost

HostFactory = Callable[..., Awaitable["PluginHost"]]

_NEEDS = "mmplugin's test fixtures need httpx and pytest-asyncio: pip install 'mmplugin[testing]'"


def find_plugin_dir(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a ``plugin.json``."""
    start = start if start.is_dir() else start.parent
    for directory in (start, *start.parents):
        if (directory / MANIFEST_NAME).is_file():
            return directory
    raise pytest.UsageError(f"no {MANIFEST_NAME} in {start} or any directory above it; "
                            "use the mmplugin_host fixture with the plugin's path instead")


def _fixture_decorator() -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # pytest then says itself that async fixtures need a plugin
        return pytest.fixture
    return pytest_asyncio.fixture


_FIXTURE = _fixture_decorator()
F = TypeVar("F", bound=Callable[..., Any])


def _async_fixture(function: F) -> F:
    return cast(F, _FIXTURE(function))


@_async_fixture
async def mmplugin_host() -> AsyncIterator[HostFactory]:
    """Start plugins: ``host = await mmplugin_host(path, settings=..., hook_timeout=...)``."""
    try:
        from mmplugin.testing.host import PluginHost
    except ImportError as exc:
        pytest.fail(f"{_NEEDS} ({exc})", pytrace=False)
    started: list[PluginHost] = []

    async def start(plugin_dir: str | Path = ".", **options: Any) -> PluginHost:
        host = PluginHost(plugin_dir, **options)
        started.append(host)
        return await host.start()

    try:
        yield start
    finally:
        for host in reversed(started):
            await host.close()


@_async_fixture
async def plugin_host(request: pytest.FixtureRequest, mmplugin_host: HostFactory) -> PluginHost:
    """The plugin of the directory holding this test, running for the test's duration."""
    return await mmplugin_host(find_plugin_dir(request.path))


__all__ = ["HostFactory", "find_plugin_dir", "mmplugin_host", "plugin_host"]
