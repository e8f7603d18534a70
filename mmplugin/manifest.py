"""``plugin.json``: the plugin manifest, loaded and checked the way the Mattermost server does.

:func:`load_manifest` reads a plugin directory's manifest and raises :class:`ManifestError` naming
the offending field (``settings_schema.settings[2].type``) for anything the server would refuse at
upload (SEMANTICS §8). :meth:`Manifest.default_configuration` gives the configuration a plugin sees
before any value is saved: every setting's default under its lower-cased key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

MANIFEST_NAME = "plugin.json"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9-_\.]+$")
SETTING_TYPES = ("bool", "dropdown", "generated", "radio", "text", "longtext", "number", "username", "custom")
DEPENDENCY_MODES = ("system", "venv", "bundled")
_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


class ManifestError(ValueError):
    """A manifest the server would refuse; the message names the file and the field."""


@dataclass(frozen=True)
class SettingOption:
    display_name: str
    value: str


@dataclass(frozen=True)
class Setting:
    """One entry of ``settings_schema.settings``."""

    key: str
    type: str
    display_name: str = ""
    help_text: str = ""
    regenerate_help_text: str = ""
    placeholder: str = ""
    default: Any = None
    options: tuple[SettingOption, ...] = ()
    hosting: str = ""


@dataclass(frozen=True)
class Manifest:
    """The parts of ``plugin.json`` that a Python plugin, its host and its bundle care about."""

    id: str
    name: str
    version: str = ""
    min_server_version: str = ""
    description: str = ""
    executable: str = ""
    executables: dict[str, str] = field(default_factory=dict)
    runtime: str = ""
    python_version: str = ""
    dependency_mode: str = ""
    settings: tuple[Setting, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole document as read, for fields this class does not model (``props``, ``webapp``)."""

    @property
    def is_python(self) -> bool:
        """True for a Python plugin: ``server.runtime == "python"`` or a ``.py`` executable."""
        return self.runtime == "python" or self.executable.endswith(".py")

    def default_configuration(self) -> dict[str, Any]:
        """Every setting's default, keyed by the lower-cased setting key (SEMANTICS §8)."""
        return {s.key.lower(): s.default for s in self.settings if s.default is not None}


def load_manifest(plugin_dir: str | Path) -> Manifest:
    """Read and validate ``plugin.json`` in ``plugin_dir``."""
    path = Path(plugin_dir) / MANIFEST_NAME
    if not path.is_file():
        for other in ("plugin.yaml", "plugin.yml"):
            if (Path(plugin_dir) / other).is_file():
                raise ManifestError(f"{Path(plugin_dir) / other}: YAML manifests are unsupported, use {MANIFEST_NAME}")
        raise ManifestError(f"{path}: no manifest (expected {MANIFEST_NAME} in the plugin directory)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    return parse_manifest(document, source=str(path))


def parse_manifest(document: Any, source: str = MANIFEST_NAME) -> Manifest:
    """Validate a decoded manifest document; ``source`` prefixes every error message."""
    check = _Checker(source)
    doc = check.obj(document, "")
    plugin_id = check.text(doc, "id", required=True)
    if not 3 <= len(plugin_id) <= 190 or not ID_PATTERN.match(plugin_id):
        check.fail("id", f"{plugin_id!r} must be 3-190 characters of letters, digits, '-', '_' and '.'")
    version = check.text(doc, "version")
    if version and not _SEMVER.match(version):
        check.fail("version", f"{version!r} is not a semantic version like 1.2.3")
    min_server = check.text(doc, "min_server_version")
    if min_server and not _SEMVER.match(min_server):
        check.fail("min_server_version", f"{min_server!r} is not a semantic version like 9.5.0")
    server = check.obj(doc.get("server", {}), "server")
    executables = check.obj(server.get("executables", {}), "server.executables")
    for platform, exe in executables.items():
        if not isinstance(exe, str) or not exe:
            check.fail(f"server.executables.{platform}", "must be a non-empty path")
    python = check.obj(server.get("python", {}), "server.python")
    mode = check.text(python, "dependency_mode", prefix="server.python.")
    if mode and mode not in DEPENDENCY_MODES:
        check.fail("server.python.dependency_mode", f"{mode!r} is not one of {', '.join(DEPENDENCY_MODES)}")
    schema = check.obj(doc.get("settings_schema", {}), "settings_schema")
    raw_settings = schema.get("settings", [])
    if not isinstance(raw_settings, list):
        check.fail("settings_schema.settings", "must be a list")
    settings = tuple(_parse_setting(check, item, i) for i, item in enumerate(raw_settings))
    keys = [s.key.lower() for s in settings]
    for key in {k for k in keys if keys.count(k) > 1}:
        check.fail("settings_schema.settings", f"key {key!r} appears more than once (keys are case-insensitive)")
    return Manifest(
        id=plugin_id.lower(),
        name=check.text(doc, "name"),
        version=version,
        min_server_version=min_server,
        description=check.text(doc, "description"),
        executable=check.text(server, "executable", prefix="server."),
        executables=dict(executables),
        runtime=check.text(server, "runtime", prefix="server."),
        python_version=check.text(server, "python_version", prefix="server."),
        dependency_mode=mode,
        settings=settings,
        raw=doc,
    )


def _parse_setting(check: _Checker, item: Any, index: int) -> Setting:
    where = f"settings_schema.settings[{index}]"
    obj = check.obj(item, where)
    key = check.text(obj, "key", prefix=where + ".", required=True)
    kind = check.text(obj, "type", prefix=where + ".", required=True)
    if kind not in SETTING_TYPES:
        check.fail(f"{where}.type", f"{kind!r} is not one of {', '.join(SETTING_TYPES)}")
    options_raw = obj.get("options", [])
    if options_raw and kind not in ("radio", "dropdown"):
        check.fail(f"{where}.options", f"only radio and dropdown settings take options, not {kind}")
    if not isinstance(options_raw, list):
        check.fail(f"{where}.options", "must be a list")
    options = tuple(
        SettingOption(
            check.text(check.obj(o, f"{where}.options[{i}]"), "display_name", prefix=f"{where}.options[{i}]."),
            check.text(o, "value", prefix=f"{where}.options[{i}]."),
        )
        for i, o in enumerate(options_raw)
    )
    placeholder = check.text(obj, "placeholder", prefix=where + ".")
    if placeholder and kind not in ("text", "longtext", "number", "username", "generated"):
        check.fail(f"{where}.placeholder", f"only text-like settings take a placeholder, not {kind}")
    regenerate = check.text(obj, "regenerate_help_text", prefix=where + ".")
    if regenerate and kind != "generated":
        check.fail(f"{where}.regenerate_help_text", f"only generated settings take it, not {kind}")
    hosting = check.text(obj, "hosting", prefix=where + ".")
    if hosting and hosting not in ("cloud", "on-prem"):
        check.fail(f"{where}.hosting", f"{hosting!r} is not 'cloud' or 'on-prem'")
    return Setting(
        key=key, type=kind, display_name=check.text(obj, "display_name", prefix=where + "."),
        help_text=check.text(obj, "help_text", prefix=where + "."), regenerate_help_text=regenerate,
        placeholder=placeholder, default=obj.get("default"), options=options, hosting=hosting,
    )


class _Checker:
    """Small type checks that raise ManifestError naming ``source`` and the field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ManifestError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"must be a JSON object, not {type(value).__name__}")
        return cast(dict[str, Any], value)

    def text(self, obj: dict[str, Any], name: str, *, prefix: str = "", required: bool = False) -> str:
        value = obj.get(name)
        if value is None:
            if required:
                self.fail(prefix + name, "is required")
            return ""
        if not isinstance(value, str):
            self.fail(prefix + name, f"must be a string, not {type(value).__name__}")
        if required and not value.strip():
            self.fail(prefix + name, "must not be empty")
        return value
