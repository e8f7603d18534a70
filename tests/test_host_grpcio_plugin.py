"""A plugin written with grpcio (not our plugin side) hosted by our host: hooks, ServeHTTP, clean exit."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from host_support import FAST, GRPCIO_PLUGIN, alive, make_plugin, serve_asgi

from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.front import HostFront
from mmplugin.proto import pb


async def test_grpcio_plugin_is_hosted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_plugin(tmp_path, "com.example.grpcio", script=GRPCIO_PLUGIN)
    env = Environment(InMemoryApi(Store()), FAST)
    await env.activate(env.load(tmp_path / "com.example.grpcio").id)
    supervisor = env.supervisor("com.example.grpcio")
    assert supervisor is not None
    assert supervisor.pid is not None
    pid = supervisor.pid
    try:
        hooks = env.hooks_for_plugin("com.example.grpcio")
        assert hooks is not None
        assert hooks.implemented == {"OnActivate", "MessageWillBePosted", "ExecuteCommand", "ServeHTTP"}
        post, rejection = await env.message_will_be_posted(pb.Post(message="hi"))
        assert (post.message, rejection) == ("hi [grpcio]", "")
        response = await hooks.execute_command(pb.CommandArgs(command="/go"))
        assert response is not None
        assert response.text == "grpcio ran /go"
        async with serve_asgi(HostFront(env)) as url, httpx.AsyncClient(base_url=url) as client:
            answer = await client.post("/plugins/com.example.grpcio/up?q=1", content=b"payload" * 20_000)
            assert answer.status_code == 201
            assert answer.content == b"grpcio /up?q=1 " + b"payload" * 20_000
    finally:
        with caplog.at_level(logging.WARNING):
            await env.shutdown()
    assert not alive(pid)
    assert not any("failed to exit gracefully" in r.getMessage() for r in caplog.records)
