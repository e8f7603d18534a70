"""plugin.json is checked as the server checks it, and errors name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmplugin.manifest import ManifestError, load_manifest, parse_manifest

GOOD: dict[str, Any] = {
    "id": "Com.Example.Demo",
    "name": "Demo",
    "version": "1.2.3",
    "min_server_version": "9.5.0",
    "server": {"executable": "plugin.py", "runtime": "python", "python": {"dependency_mode": "bundled"}},
    "settings_schema": {
        "settings": [
            {"key": "Greeting", "type": "text", "default": "hi", "placeholder": "say"},
            {"key": "Mode", "type": "dropdown", "default": "a",
             "options": [{"display_name": "A", "value": "a"}, {"display_name": "B", "value": "b"}]},
            {"key": "Enabled", "type": "bool"},
        ]
    },
}


def test_a_good_manifest_loads(tmp_path: Path) -> None:
    (tmp_path / "plugin.json").write_text(json.dumps(GOOD))
    manifest = load_manifest(tmp_path)
    assert manifest.id == "com.example.demo"
    assert manifest.is_python
    assert manifest.executable == "plugin.py"
    assert manifest.default_configuration() == {"greeting": "hi", "mode": "a"}
    assert manifest.settings[1].options[1].value == "b"


def _with(path: str, value: Any) -> dict[str, Any]:
    doc: Any = json.loads(json.dumps(GOOD))
    target = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(keys[-1])] = value
    else:
        target[keys[-1]] = value
    return dict(doc)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_with("id", "ab"), "id: 'ab' must be 3-190 characters"),
        (_with("id", "has space"), "id: 'has space'"),
        (_with("id", 42), "id: must be a string, not int"),
        ({"name": "x"}, "id: is required"),
        (_with("version", "one"), "version: 'one' is not a semantic version"),
        (_with("server.python.dependency_mode", "conda"), "server.python.dependency_mode: 'conda' is not one of"),
        (_with("settings_schema.settings.0.type", "checkbox"), "settings_schema.settings[0].type: 'checkbox'"),
        (_with("settings_schema.settings.2.options", [{"display_name": "x", "value": "y"}]),
         "settings_schema.settings[2].options: only radio and dropdown"),
        (_with("settings_schema.settings.2.placeholder", "p"), "settings_schema.settings[2].placeholder"),
        (_with("settings_schema.settings.1.key", "GREETING"), "key 'greeting' appears more than once"),
        (_with("settings_schema.settings", {"a": 1}), "settings_schema.settings: must be a list"),
        ([1, 2], "must be a JSON object, not list"),
    ],
)
def test_bad_manifests_name_the_field(doc: Any, message: str) -> None:
    with pytest.raises(ManifestError, match=r"^plugin\.json: ") as info:
        parse_manifest(doc)
    assert message in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no manifest"):
        load_manifest(tmp_path)
    (tmp_path / "plugin.json").write_text("{nope")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path)
    (tmp_path / "plugin.json").unlink()
    (tmp_path / "plugin.yaml").write_text("id: x")
    with pytest.raises(ManifestError, match="YAML manifests are unsupported"):
        load_manifest(tmp_path)
