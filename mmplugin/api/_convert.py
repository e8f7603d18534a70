"""Python values to and from what the conveniences send: log fields and JSON KV values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mmplugin.proto import pb, wkt


def _plain(value: object) -> object:
    """``value`` as JSON-like data; anything else becomes its ``str()`` (a log field never fails)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def key_value_pairs(fields: Mapping[str, object]) -> list[pb.KeyValuePair]:
    """Log fields as the Log* RPCs carry them: ``KeyValuePair(key, google.protobuf.Value)``."""
    return [pb.KeyValuePair(key=k, value=wkt.Value.from_dict(_plain(v))) for k, v in fields.items()]


def json_bytes(method: str, key: str, value: object) -> bytes:
    """``value`` as compact UTF-8 JSON, the way Go's ``json.Marshal`` stores KV values."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{method}(key={key!r}): the value is not JSON-serialisable: {exc}") from exc
    return text.encode()


def json_value(method: str, key: str, data: bytes, default: Any) -> Any:
    """A KV value decoded from JSON; ``default`` when the key is absent (the host sends no bytes)."""
    if not data:
        return default
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ValueError(f"{method}(key={key!r}): the stored value is not JSON: {exc}") from exc
