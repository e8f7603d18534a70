"""The ``/_mmplugin/`` admin endpoints refuse a body they cannot act on, naming what is wrong, and run nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from host_support import FAST, make_plugin, serve_asgi

from mmplugin.host.admin import AdminApp
from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.front import HostFront


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Environment]]:
    store = Store()
    env = Environment(InMemoryApi(store), FAST)
    await env.activate(env.load(make_plugin(tmp_path, "com.example.admin")).id)
    try:
        async with serve_asgi(HostFront(env, admin=AdminApp(env, store, store.seed()))) as url, \
                httpx.AsyncClient(base_url=url, timeout=20) as client:
            yield client, env
    finally:
        await env.shutdown()


@pytest.mark.parametrize(("path", "body", "message"), [
    ("posts", b"{not json", "the request body is not JSON: Expecting property name enclosed in double quotes"),
    ("posts", b'["hi"]', "expected a JSON object as the request body"),
    ("posts", b"", "the request body is not JSON: Expecting value"),
    ("posts", b'{"message": "' + b"x" * (1 << 20) + b'"}', "the request body is larger than 1,048,576 bytes"),
    ("posts", b'{"mesage": "hi"}', "unknown field 'mesage' (the fields are message, channel_id, user_id, root_id)"),
    ("posts", b'{"message": 7}', "field 'message' must be a string, not a number"),
    ("posts", b'{"message": "hi", "channel_id": ["c"]}', "field 'channel_id' must be a string, not an array"),
    ("posts", b'{"message": null}', "field 'message' is required"),
    ("posts", b'{"user_id": "u"}', "field 'message' is required"),
    ("commands", b'{"comand": "/hello"}',
     "unknown field 'comand' (the fields are command, channel_id, team_id, user_id, root_id)"),
    ("commands", b'{"command": true}', "field 'command' must be a string, not a boolean"),
    ("commands", b"{}", "field 'command' is required"),
])
async def test_a_bad_body_is_a_400_naming_what_is_wrong(admin: tuple[httpx.AsyncClient, Environment], path: str,
                                                       body: bytes, message: str) -> None:
    client, env = admin
    before = _calls(env)
    response = await client.post(f"/_mmplugin/{path}", content=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert _calls(env) == before  # no hook was called


async def test_null_and_empty_optional_fields_take_the_seeded_ones(
        admin: tuple[httpx.AsyncClient, Environment]) -> None:
    client, env = admin
    before = _calls(env)
    posted = await client.post("/_mmplugin/posts", json={"message": "hi", "channel_id": None, "user_id": ""})
    assert posted.status_code == 201
    seeded = await client.post("/_mmplugin/posts", json={"message": "again"})
    assert (posted.json()["channel_id"], posted.json()["user_id"]) == (
        seeded.json()["channel_id"], seeded.json()["user_id"])
    after = _calls(env)
    assert after["MessageWillBePosted"] - before.get("MessageWillBePosted", 0) == 2


def _calls(env: Environment) -> dict[str, int]:
    return {hook: stats.count for (_, hook), stats in env.timings.snapshot().items()}


async def test_lifecycle_actions_answer_the_status_and_404_for_an_unknown_plugin(
        admin: tuple[httpx.AsyncClient, Environment]) -> None:
    client, _ = admin
    response = await client.post("/_mmplugin/plugins/com.example.nope/reload")
    assert response.status_code == 404
    assert response.json() == {"message": "no plugin 'com.example.nope' is loaded"}
    deactivated = await client.post("/_mmplugin/plugins/com.example.admin/deactivate")
    assert (deactivated.status_code, deactivated.json()["state"], deactivated.json()["pid"]) == (200, "stopped", None)
    for action in ("activate", "reload"):
        answer = await client.post(f"/_mmplugin/plugins/com.example.admin/{action}")
        assert (answer.status_code, answer.json()["state"]) == (200, "running")
        assert answer.json()["pid"] is not None
