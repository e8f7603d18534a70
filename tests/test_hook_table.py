"""The hook table covers PluginHooks exactly, and its rows agree with the generated messages."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mmplugin.hooks import HOOKS, HOOKS_BY_NAME, Hook, OnError
from mmplugin.hooks.reference import render_reference

CONTRACT = Path(__file__).resolve().parent.parent.parent / "shared" / "contract" / "pluginapi_v1.json"


def _hook_methods() -> list[dict[str, object]]:
    contract = json.loads(CONTRACT.read_text())
    for file in contract["files"]:
        for service in file["services"]:
            if service["full_name"] == "mattermost.pluginapi.v1.PluginHooks":
                return list(service["methods"])
    raise AssertionError("PluginHooks not in the contract")


def test_every_contract_hook_has_one_row() -> None:
    names = [m["name"] for m in _hook_methods() if m["name"] != "Implemented"]
    assert len(names) == 41
    assert sorted(names) == sorted(h.name for h in HOOKS)
    assert len({h.method for h in HOOKS}) == len(HOOKS)


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h.name)
def test_row_matches_the_messages(hook: Hook) -> None:
    request_fields = [f.name for f in dataclasses.fields(hook.request)]
    response_fields = {f.name for f in dataclasses.fields(hook.response)}
    if hook.streaming:
        assert hook.name == "ServeHTTP"
        return
    assert request_fields[0] == "context"
    assert list(hook.params) == request_fields[1:], "handler params must be the request fields after context"
    if hook.result is not None:
        assert hook.result in response_fields
    if hook.on_error is not OnError.LOG:
        assert hook.on_error.value in response_fields
    assert set(hook.unimplemented) <= response_fields
    assert HOOKS_BY_NAME[hook.name].path == f"/mattermost.pluginapi.v1.PluginHooks/{hook.name}"


def test_streaming_flags_match_the_contract() -> None:
    streaming = {m["name"] for m in _hook_methods() if m["client_streaming"] or m["server_streaming"]}
    assert streaming == {h.name for h in HOOKS if h.streaming}


def test_unimplemented_ping_is_healthy() -> None:
    assert HOOKS_BY_NAME["OnSharedChannelsPing"].default_response().healthy is True
    assert HOOKS_BY_NAME["MessageWillBePosted"].default_response().modified_post is None


def test_hook_reference_docs_are_current() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
    assert docs.read_text(encoding="utf-8") == render_reference(), (
        "docs/hooks.md is stale: run `python -m mmplugin.hooks.reference docs/hooks.md`"
    )


def test_reference_shows_typed_signatures() -> None:
    text = render_reference()
    assert "def message_will_be_posted(self, plugin_context: PluginContext | None, post: Post | None)" in text
    assert "-> Post | None | Reject" in text
    assert "def run_data_retention(self, now_time: int, batch_size: int) -> int | None" in text
