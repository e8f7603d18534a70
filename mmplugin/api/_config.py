"""What the plugin knows locally: its id from plugin.json, and its configuration as a dataclass."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigurationError

T = TypeVar("T")


def read_plugin_id(directory: Path) -> str:
    """The ``id`` of ``plugin.json`` in ``directory``, lower-cased as the server does (SEMANTICS §8)."""
    path = directory / "plugin.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot tell the plugin id: {path} is unreadable ({exc}); pass plugin_id= to the client"
        ) from exc
    plugin_id = manifest.get("id") if isinstance(manifest, dict) else None
    if not isinstance(plugin_id, str) or not plugin_id:
        raise ConfigurationError(f"cannot tell the plugin id: {path} has no string 'id'")
    return plugin_id.lower()


def fold_key(name: str) -> str:
    """Setting keys match field names case-insensitively and ignoring underscores, so the field
    ``enable_foo`` reads the setting ``EnableFoo`` (stored by the server as ``enablefoo``)."""
    return name.replace("_", "").lower()


def configuration_from_json(config_type: type[T], data: bytes) -> T:
    """Build ``config_type`` (a dataclass) from the JSON of ``LoadPluginConfiguration``.

    Like Go's ``json.Unmarshal`` into a struct: keys match fields case-insensitively, unknown keys
    are ignored. Unlike Go, a value of the wrong type is an error naming the key and the field, and
    a field without a default must be present.
    """
    try:
        settings = json.loads(data) if data else {}
    except ValueError as exc:
        raise ConfigurationError(f"the plugin configuration is not JSON: {exc}") from exc
    return _build(config_type, {} if settings is None else settings, "configuration")


def _build(cls: type[T], settings: object, where: str) -> T:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"load_plugin_configuration() needs a dataclass type, got {cls!r}")
    if not isinstance(settings, dict):
        raise ConfigurationError(f"{where} is {_describe(settings)}, but {cls.__name__} expects an object")
    hints = typing.get_type_hints(cls)
    by_key = {fold_key(key): key for key in settings}
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        key = field.name if field.name in settings else by_key.get(fold_key(field.name))
        if key is None:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigurationError(f"no setting for {cls.__name__}.{field.name}, which has no default")
            continue
        label = f"setting {key!r} (field {cls.__name__}.{field.name})"
        values[field.name] = _convert(hints[field.name], settings[key], label)
    return cls(**values)


def _convert(hint: Any, value: object, label: str) -> Any:
    """``value`` checked against ``hint``; raises ConfigurationError naming ``label``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, label)
            except ConfigurationError:
                pass
    elif origin is typing.Literal and value in args:
        return value
    elif origin is list and isinstance(value, list):
        return [_convert(args[0] if args else Any, item, f"{label}[{i}]") for i, item in enumerate(value)]
    elif origin is dict and isinstance(value, dict):
        item_type = args[1] if args else Any
        return {k: _convert(item_type, v, f"{label}[{k!r}]") for k, v in value.items()}
    elif dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, label)
    elif hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    elif hint in (str, int, bool) and type(value) is hint:
        return value
    raise ConfigurationError(f"{label} is {_describe(value)}, which does not fit {_type_name(hint)}")


def _describe(value: object) -> str:
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return f"{kind.get(type(value), 'a number')} ({json.dumps(value)[:60]})"


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) and not typing.get_args(hint) else str(hint)
