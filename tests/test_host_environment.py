"""Several real plugin processes in one environment: the post chain, broadcasts, reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from host_support import FAST, alive, make_plugin, starts

from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.errors import PluginNotFound
from mmplugin.host.supervisor import PluginState
from mmplugin.proto import pb


@pytest.fixture
async def env() -> AsyncIterator[Environment]:
    environment = Environment(InMemoryApi(Store()), FAST)
    try:
        yield environment
    finally:
        await environment.shutdown()


async def test_chain_modifies_then_rejects_and_stops(tmp_path: Path, env: Environment) -> None:
    make_plugin(tmp_path, "com.example.a", {"append": " [A]"})
    make_plugin(tmp_path, "com.example.b", {"reject_if": "[A]"})
    make_plugin(tmp_path, "com.example.c", {"append": " [C]"})
    for plugin_id in ("com.example.c", "com.example.a", "com.example.b"):
        env.load(tmp_path / plugin_id)
        await env.activate(plugin_id)
    assert env.plugin_ids == ["com.example.a", "com.example.b", "com.example.c"]

    post, rejection = await env.message_will_be_posted(pb.Post(message="hello"))
    assert rejection == "rejected by com.example.b: hello [A]", "B must see A's modification"
    assert env.timings.get("com.example.c", "MessageWillBePosted").count == 0, "the chain stops at a rejection"

    await env.deactivate("com.example.b")
    assert env.hooks_for_plugin("com.example.b") is None
    post, rejection = await env.message_will_be_posted(pb.Post(message="hello"))
    assert (post.message, rejection) == ("hello [A] [C]", "")


async def test_broadcast_reaches_each_plugin_and_its_own_kv(tmp_path: Path, env: Environment) -> None:
    store = env.api.store  # type: ignore[attr-defined]
    for plugin_id in ("com.example.x", "com.example.y"):
        make_plugin(tmp_path, plugin_id)
        env.load(tmp_path / plugin_id)
        await env.activate(plugin_id)
    await env.broadcast("MessageHasBeenPosted", post=pb.Post(message="posted"))
    assert store.kv.get("com.example.x", "last_post") == b"posted"
    assert store.kv.get("com.example.y", "last_post") == b"posted"


async def test_reload_and_unknown_plugins(tmp_path: Path, env: Environment) -> None:
    directory = make_plugin(tmp_path, "com.example.reload")
    env.load(directory)
    await env.activate("com.example.reload")
    first = env.supervisor("com.example.reload")
    assert first is not None
    assert first.pid is not None
    first_pid = first.pid
    await env.reload("com.example.reload")
    assert env.is_active("com.example.reload")
    assert starts(directory) == [first_pid, env.supervisor("com.example.reload").pid]  # type: ignore[union-attr]
    assert not alive(first_pid)
    with pytest.raises(PluginNotFound):
        await env.activate("com.example.nothere")
    assert env.hooks_for_plugin("com.example.nothere") is None
    await env.shutdown()
    assert env.state("com.example.reload") is PluginState.STOPPED
    assert all(not alive(pid) for pid in starts(directory))
