"""mmplugin.testing: the streaming ASGI transport, PluginHost over real plugin processes, the fixtures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from host_support import alive

from mmplugin.host import HandshakeFailed
from mmplugin.proto import pb
from mmplugin.testing import PluginHost, StreamingASGITransport

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

KIT_PLUGIN = '''
import dataclasses

import mmplugin
from mmplugin import Plugin
from mmplugin.proto import pb, wkt


@dataclasses.dataclass
class Config:
    motto: str = ""


class Kit(Plugin):
    async def on_configuration_change(self) -> None:
        config = await self.api.load_plugin_configuration(Config)
        await self.api.log_info("configured", motto=config.motto)

    async def on_activate(self) -> None:
        await self.api.register_command(command=pb.Command(trigger="kit"))

    async def execute_command(self, plugin_context, args):
        word = args.command.split()[1]
        if word == "post":
            await self.api.create_post(post=pb.Post(channel_id=args.channel_id, user_id=args.user_id,
                                                    message="from the plugin"))
        elif word == "kv":
            await self.api.kv_set_json("state", {"by": args.user_id})
        elif word == "ephemeral":
            await self.api.send_ephemeral_post(user_id=args.user_id,
                                               post=pb.Post(channel_id=args.channel_id, message="only you"))
        elif word == "save":
            await self.api.save_plugin_config(config=wkt.Struct.from_dict({"Motto": "saved by the plugin"}))
        return pb.CommandResponse(text=f"did {word}")


if __name__ == "__main__":
    mmplugin.run(Kit)
'''


def _kit_plugin(root: Path) -> Path:
    directory = root / "kit"
    directory.mkdir()
    (directory / "plugin.py").write_text(KIT_PLUGIN)
    (directory / "plugin.json").write_text(json.dumps({
        "id": "com.example.kit", "name": "Kit", "version": "0.1.0",
        "server": {"executable": "plugin.py", "runtime": "python"},
        "settings_schema": {"settings": [{"key": "Motto", "type": "text", "default": "be kind"}]},
    }))
    return directory


# The transport, with plain ASGI apps

async def test_transport_streams_before_the_app_finishes_and_reports_the_disconnect() -> None:
    release, events = asyncio.Event(), []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while (message := await receive())["type"] == "http.request":
            body += message["body"]
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-got", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await release.wait()  # httpx.ASGITransport would return only after this, i.e. never
        events.append((await receive())["type"])

    async def chunks() -> Any:
        for _ in range(3):
            yield b"x" * 1000

    async def exchange() -> None:
        async with httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://test") as client, \
                client.stream("POST", "/up", content=chunks()) as response:
            assert (response.status_code, response.headers["x-got"]) == (201, "3000")
            assert await anext(response.aiter_raw()) == b"first"
            release.set()

    await asyncio.wait_for(exchange(), 10)
    assert events == ["http.disconnect"]


async def test_transport_raises_the_apps_error_and_times_out_a_silent_app() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("no route")

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.Event().wait()

    async with httpx.AsyncClient(transport=StreamingASGITransport(failing), base_url="http://test") as client:
        with pytest.raises(LookupError, match="no route"):
            await client.get("/")
    async with httpx.AsyncClient(transport=StreamingASGITransport(silent), base_url="http://test",
                                 timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout, match="for the response to start"):
            await client.get("/")


# PluginHost over examples/hello: hooks, HTTP, logs, cleanup

async def test_plugin_host_drives_the_hello_example() -> None:
    async with PluginHost(EXAMPLES / "hello") as host:
        pid = host.pid
        assert pid is not None
        assert alive(pid)
        assert {"OnActivate", "MessageWillBePosted", "ExecuteCommand", "ServeHTTP"} <= host.implemented
        assert host.commands == ["hello"]

        unchanged = await host.message_will_be_posted("hi there")
        assert (unchanged.modified, unchanged.rejected, unchanged.post.message) == (False, False, "hi there")
        shouted = await host.message_will_be_posted("shout: quiet")
        assert (shouted.modified, shouted.post.message) == (True, "QUIET")
        refused = await host.message_will_be_posted("buy spam")
        assert (refused.rejected, refused.dismissed) == (True, False)
        assert "not allowed" in refused.rejection_reason
        assert (await host.message_will_be_posted("/dev/null gone")).dismissed

        saved = await host.create_post("shout: saved")
        assert saved.post is not None
        assert saved.post.message == "SAVED"
        assert [p.message for p in host.posts()] == ["SAVED"]

        assert (await host.execute_command("/hello Ann")).text == "Hello, Ann!"
        with pytest.raises(LookupError, match=r"has not registered /bye \(registered: /hello\)"):
            await host.execute_command("/bye")

        await host.hook("user_has_logged_in", user=pb.User(id="u1", username="ann"))
        line = await host.wait_for_log("user logged in")
        assert (line.level, line.fields["username"]) == ("info", "ann")
        with pytest.raises(KeyError, match="no hook named 'UserLoggedIn'"):
            await host.hook("UserLoggedIn")

        assert (await host.http.get("/hello")).text == "Hello, admin!"
        bob = host.create_user("bob")
        assert (await host.client(bob).get("/hello")).text == "Hello, bob!"
        assert (await host.client(anonymous=True).get("/hello")).status_code == 401

        async with host.http.stream("GET", "/ticks?n=100") as events:
            lines = events.aiter_lines()
            assert await anext(lines) == "data: tick 0"
        await host.wait_for_log("ServeHTTP was cancelled")  # leaving the block reset the plugin's stream
    assert not alive(pid)
    with pytest.raises(AssertionError, match=r"no line containing 'never logged' within 0\.1 s"):
        await host.wait_for_log("never logged", timeout=0.1)


async def test_a_plugin_that_cannot_start_is_reported_with_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "plugin.json").write_text(json.dumps({
        "id": "com.example.broken", "name": "Broken", "server": {"executable": "plugin.py"}}))
    (tmp_path / "plugin.py").write_text("raise SystemExit('missing configuration file')\n")
    with pytest.raises(HandshakeFailed, match=r"(?s)exited before printing its handshake line.*missing configuration"):
        await PluginHost(tmp_path, handshake_timeout=20).start()


# The fixtures, settings and what the plugin did through the API

async def test_fixture_settings_and_api_effects(mmplugin_host: Callable[..., Awaitable[PluginHost]],
                                                tmp_path: Path) -> None:
    host = await mmplugin_host(_kit_plugin(tmp_path), settings={"motto": "hi"})
    assert host.configuration == {"motto": "hi"}
    await host.wait_for_log("configured motto='hi'")

    assert (await host.execute_command("/kit post")).text == "did post"
    assert [(p.message, p.user_id) for p in host.posts(host.channel)] == [("from the plugin", host.user.id)]
    bob = host.create_user("bob")
    await host.execute_command("/kit kv", user=bob)
    assert host.kv_get_json("state") == {"by": bob.id}
    assert host.kv_keys() == ["state"]
    await host.execute_command("/kit ephemeral")
    assert [p.message for p in host.ephemeral_posts(host.user)] == ["only you"]
    assert host.ephemeral_posts(bob) == []

    await host.configure(Motto="from the console")
    assert host.logs[-1].message == "configured motto='from the console'"
    await host.execute_command("/kit save")  # SavePluginConfig by the plugin runs OnConfigurationChange too
    await host.wait_for_log("configured motto='saved by the plugin'")
    with pytest.raises(ValueError, match=r"'mood' is not a setting of plugin 'com.example.kit' \(settings_schema: "
                                         r"Motto\)"):
        await host.configure(mood="grumpy")


def test_the_plugin_directory_is_found_above_the_test(tmp_path: Path) -> None:
    from mmplugin.testing.pytest_plugin import find_plugin_dir

    plugin = _kit_plugin(tmp_path)
    (plugin / "tests" / "unit").mkdir(parents=True)
    test_file = plugin / "tests" / "unit" / "test_x.py"
    test_file.write_text("")
    assert find_plugin_dir(test_file) == plugin
    with pytest.raises(pytest.UsageError, match=r"no plugin\.json in"):
        find_plugin_dir(tmp_path)


def test_public_names_resolve() -> None:
    import mmplugin.testing

    assert sorted(mmplugin.testing.__all__) == mmplugin.testing.__all__
    for name in mmplugin.testing.__all__:
        assert getattr(mmplugin.testing, name).__name__ == name
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = mmplugin.testing.Nope  # type: ignore[attr-defined]
