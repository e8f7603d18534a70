"""KV Counter under a local host (``plugin_host`` from mmplugin.testing): the real plugin process,
its commands, HTTP route, settings and KV data."""

from __future__ import annotations

import asyncio

import pytest

from mmplugin.host import HookAppError
from mmplugin.testing import PluginHost


async def test_count_adds_the_configured_step(plugin_host: PluginHost) -> None:
    assert plugin_host.commands == ["count"]
    assert (await plugin_host.execute_command("/count")).text == "Count: 1"
    assert (await plugin_host.execute_command("/count")).text == "Count: 2"
    assert plugin_host.kv_get("count") == b"2"

    await plugin_host.configure(step=5, label="Total")
    assert (await plugin_host.execute_command("/count")).text == "Total: 7"
    response = await plugin_host.http.get("/count")
    assert response.json() == {"count": 7, "label": "Total"}


async def test_concurrent_commands_lose_no_increment(plugin_host: PluginHost) -> None:
    answers = await asyncio.gather(*(plugin_host.execute_command("/count") for _ in range(20)))
    assert sorted(int(answer.text.split()[-1]) for answer in answers) == list(range(1, 21))
    assert plugin_host.kv_get("count") == b"20"


async def test_count_survives_a_restart_and_resets(plugin_host: PluginHost) -> None:
    plugin_host.kv_set("count", b"41")
    assert (await plugin_host.execute_command("/count")).text == "Count: 42"
    await plugin_host.restart()
    assert (await plugin_host.http.get("/count")).json()["count"] == 42

    assert (await plugin_host.execute_command("/count reset")).text == "Count reset."
    assert plugin_host.kv_get("count") is None
    assert (await plugin_host.http.get("/count")).json()["count"] == 0


async def test_an_invalid_step_is_refused_and_the_old_one_kept(plugin_host: PluginHost) -> None:
    with pytest.raises(HookAppError, match="Step must be between 1 and 1000, not 0") as refused:
        await plugin_host.configure(step=0)
    assert refused.value.status_code == 400
    assert (await plugin_host.execute_command("/count")).text == "Count: 1"
