"""Every PluginAPI RPC of the wire contract has a typed method on both clients, derived by generation."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

import mmplugin.api
from mmplugin.api import AsyncPluginAPI, PluginAPI, errors
from mmplugin.api._generate import snake_case
from mmplugin.api._methods import AsyncMethods, SyncMethods
from mmplugin.proto import message_class

ROOT = Path(__file__).resolve().parent.parent
# ../shared from the project root; from a git worktree, the nearest ancestor that has it.
CONTRACT = next(p / "shared" for p in ROOT.parents if (p / "shared" / "contract").is_dir()) / "contract" / \
    "pluginapi_v1.json"
SCALARS: dict[str, type] = {
    "string": str, "bytes": bytes, "bool": bool, "double": float, "float": float,
    **dict.fromkeys(["int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
                     "sfixed32", "sfixed64"], int),
}
# Their requests flatten a Go options struct; every parameter has a zero default (see _generate.py).
OPTIONS_RPCS = {"GetUsers", "SearchUsers"}


def _load() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    contract = json.loads(CONTRACT.read_text())
    messages = {m["full_name"]: m for f in contract["files"] for m in f["messages"]}
    services = {s["full_name"]: s for f in contract["files"] for s in f["services"]}
    return services["mattermost.pluginapi.v1.PluginAPI"]["methods"], messages


RPCS, MESSAGES = _load()


def _type(name: str) -> Any:
    return SCALARS.get(name) or message_class(name)


def python_type(field: dict[str, Any], *, required: bool) -> Any:
    """The Python type a contract field should have as a parameter (required) or a result."""
    if field["map"]:
        return dict[_type(field["map"]["key"]), _type(field["map"]["value"])]  # type: ignore[misc]
    base = _type(field["type"])
    if field["label"] == "repeated":
        return list[base]  # type: ignore[valid-type]
    return base if required or field["type"] in SCALARS else base | None


def test_the_contract_has_236_rpcs_and_each_has_a_uniquely_named_method() -> None:
    assert len(RPCS) == 236
    names = [snake_case(rpc["name"]) for rpc in RPCS]
    assert len(set(names)) == 236
    assert all(name.isidentifier() for name in names)
    for cls in (AsyncMethods, SyncMethods, AsyncPluginAPI, PluginAPI):
        missing = [name for name in names if not callable(getattr(cls, name, None))]
        assert not missing, f"{cls.__name__} lacks {missing}"


@pytest.mark.parametrize(
    ("rpc", "method"),
    [("KVSetWithOptions", "kv_set_with_options"), ("GetPluginID", "get_plugin_id"),
     ("CreateOAuthApp", "create_oauth_app"), ("SetUserStatusTimedDND", "set_user_status_timed_dnd"),
     ("GetLDAPUserAttributes", "get_ldap_user_attributes"), ("PluginHTTP", "plugin_http"),
     ("GetUsersByIds", "get_users_by_ids"), ("LogInfo", "log_info")],
)
def test_snake_case_names(rpc: str, method: str) -> None:
    assert snake_case(rpc) == method


@pytest.mark.parametrize("rpc", RPCS, ids=[rpc["name"] for rpc in RPCS])
def test_generated_signature_matches_the_request_and_response(rpc: dict[str, Any]) -> None:
    request = MESSAGES[rpc["input"]]["fields"]
    response = MESSAGES[rpc["output"]]["fields"]
    assert (response[0]["name"], response[0]["number"]) == ("error", 1)
    payload = response[1:]
    for cls in (AsyncMethods, SyncMethods):
        method = getattr(cls, snake_case(rpc["name"]))
        assert inspect.iscoroutinefunction(method) is (cls is AsyncMethods)
        params = list(inspect.signature(method).parameters.values())[1:]
        hints = typing.get_type_hints(method)
        assert [p.name for p in params] == [f["name"] for f in request]
        for param, field in zip(params, request, strict=True):
            assert param.kind is inspect.Parameter.KEYWORD_ONLY
            expected = python_type(field, required=True)
            if rpc["name"] in OPTIONS_RPCS:
                assert param.default is not inspect.Parameter.empty
                is_scalar = field["type"] in SCALARS and field["label"] != "repeated"
                expected = expected if is_scalar else expected | None
            else:
                assert param.default is inspect.Parameter.empty, f"{param.name} should be required"
            assert hints[param.name] == expected, param.name
        returns = hints["return"]
        if not payload:
            assert returns is type(None)
        elif len(payload) == 1:
            assert returns == python_type(payload[0], required=False)
        else:
            assert returns._fields == tuple(f["name"] for f in payload)
            result_hints = typing.get_type_hints(returns)
            expected_results = [python_type(f, required=False) for f in payload]
            assert [result_hints[f["name"]] for f in payload] == expected_results
        assert rpc["name"] in (method.__doc__ or "")


@pytest.mark.parametrize("cls", [AsyncPluginAPI, PluginAPI])
def test_public_clients_accept_every_request_field_as_a_keyword(cls: type) -> None:
    for rpc in RPCS:
        method = getattr(cls, snake_case(rpc["name"]))
        assert inspect.iscoroutinefunction(method) is (cls is AsyncPluginAPI), rpc["name"]
        inspect.signature(method).bind(None, **{f["name"]: None for f in MESSAGES[rpc["input"]]["fields"]})


def test_generated_methods_are_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mmplugin.api._generate", "--check"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_exist_and_include_the_whole_error_tree() -> None:
    for module in (mmplugin.api, errors):
        assert len(set(module.__all__)) == len(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)
    exceptions = {name for name in errors.__all__ if isinstance(getattr(errors, name), type)}
    assert exceptions <= set(mmplugin.api.__all__)
    for name in exceptions:
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in errors.py's docstring"
