"""protos/ must match ../shared/contract/pluginapi_v1.json on the wire, field by field."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT.parent / "shared" / "contract"
PACKAGE = "mattermost.pluginapi.v1"


def compile_contract(proto_dir: Path, tmp: Path) -> dict[str, Any]:
    """Compile the pluginapi protos of ``proto_dir`` and render them with make_contract.py."""
    files = sorted(p.name for p in proto_dir.glob("*.proto"))
    descriptor = tmp / "set.binpb"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", "--include_imports",
         f"--descriptor_set_out={descriptor}", *files],
        check=True, cwd=proto_dir, capture_output=True, text=True,
    )
    rendered = tmp / "contract.json"
    subprocess.run(
        [sys.executable, str(CONTRACT_DIR / "make_contract.py"), str(descriptor), "-o", str(rendered)],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, Any] = json.loads(rendered.read_text())
    return result


def _index(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def _compare_items(where: str, expected: dict[str, Any], actual: dict[str, Any], out: list[str]) -> None:
    for name in sorted(expected.keys() - actual.keys()):
        out.append(f"{where}: missing {name}")
    for name in sorted(actual.keys() - expected.keys()):
        out.append(f"{where}: unexpected {name}")


def contract_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Every wire-relevant difference between two contract documents, one line each."""
    out: list[str] = []
    exp_files = _index(expected["files"], "name")
    act_files = _index(actual["files"], "name")
    _compare_items("files", exp_files, act_files, out)
    exp_msgs = {m["full_name"]: m for f in expected["files"] for m in f["messages"]}
    act_msgs = {m["full_name"]: m for f in actual["files"] for m in f["messages"]}
    _compare_items("messages", exp_msgs, act_msgs, out)
    for name in sorted(exp_msgs.keys() & act_msgs.keys()):
        exp_fields = {f["name"]: f for f in exp_msgs[name]["fields"]}
        act_fields = {f["name"]: f for f in act_msgs[name]["fields"]}
        _compare_items(f"{name} fields", exp_fields, act_fields, out)
        for field in sorted(exp_fields.keys() & act_fields.keys()):
            e, a = exp_fields[field], act_fields[field]
            for attr in sorted(e.keys() | a.keys()):
                if e.get(attr) != a.get(attr):
                    out.append(f"{name}.{field}: {attr} is {a.get(attr)!r}, contract says {e.get(attr)!r}")
        if exp_msgs[name].get("oneofs") != act_msgs[name].get("oneofs"):
            out.append(f"{name}: oneofs differ")
    exp_enums = {e["full_name"]: e for f in expected["files"] for e in f["enums"]}
    act_enums = {e["full_name"]: e for f in actual["files"] for e in f["enums"]}
    _compare_items("enums", exp_enums, act_enums, out)
    for name in sorted(exp_enums.keys() & act_enums.keys()):
        if exp_enums[name]["values"] != act_enums[name]["values"]:
            exp_v, act_v = exp_enums[name]["values"], act_enums[name]["values"]
            out.append(f"{name}: values are {act_v}, contract says {exp_v}")
    exp_svcs = {s["full_name"]: s for f in expected["files"] for s in f["services"]}
    act_svcs = {s["full_name"]: s for f in actual["files"] for s in f["services"]}
    _compare_items("services", exp_svcs, act_svcs, out)
    for name in sorted(exp_svcs.keys() & act_svcs.keys()):
        exp_m = _index(exp_svcs[name]["methods"], "name")
        act_m = _index(act_svcs[name]["methods"], "name")
        _compare_items(f"{name} methods", exp_m, act_m, out)
        for method in sorted(exp_m.keys() & act_m.keys()):
            for attr in ("input", "output", "client_streaming", "server_streaming"):
                if exp_m[method][attr] != act_m[method][attr]:
                    out.append(f"{name}/{method}: {attr} is {act_m[method][attr]!r}, "
                               f"contract says {exp_m[method][attr]!r}")
    return out


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CONTRACT_DIR / "pluginapi_v1.json").read_text())
    return result


def test_protos_match_the_shared_contract(expected: dict[str, Any], tmp_path: Path) -> None:
    actual = compile_contract(ROOT / "protos", tmp_path)
    differences = contract_differences(expected, actual)
    assert not differences, "protos/ differ from the contract:\n" + "\n".join(differences)
    assert actual["summary"] == expected["summary"]


def test_a_changed_field_number_is_named(expected: dict[str, Any], tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", protos, ignore=shutil.ignore_patterns("goplugin"))
    post = protos / "post.proto"
    text, count = re.subn(r"string message = 11;", "string message = 99;", post.read_text())
    assert count == 1
    post.write_text(text)
    differences = contract_differences(expected, compile_contract(protos, tmp_path))
    assert differences == [f"{PACKAGE}.Post.message: number is 99, contract says 11"]


def test_a_changed_type_and_a_missing_method_are_named(expected: dict[str, Any], tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", protos, ignore=shutil.ignore_patterns("goplugin"))
    post = protos / "post.proto"
    post.write_text(post.read_text().replace("int64 create_at = 2;", "int32 create_at = 2;", 1))
    hooks = protos / "hooks.proto"
    hooks.write_text(re.sub(r"\s*rpc OnInstall\(.*?\);", "", hooks.read_text()))
    differences = contract_differences(expected, compile_contract(protos, tmp_path))
    assert f"{PACKAGE}.Post.create_at: type is 'int32', contract says 'int64'" in differences
    assert f"{PACKAGE}.PluginHooks methods: missing OnInstall" in differences
