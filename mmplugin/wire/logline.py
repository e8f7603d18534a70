"""Plugin log lines on stderr in the shape go-plugin's host files at the right level.

The host reads the plugin's stderr line by line (SEMANTICS §1.8): an hclog JSON object keeps its
level and fields; otherwise a ``[LEVEL]`` prefix sets the level; anything else lands at debug.
:func:`format_line` writes the JSON form, :func:`parse_line` reads all three back.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, NamedTuple

#: hclog's level names; Python's WARNING is hclog's "warn" and CRITICAL has no equivalent above error.
LEVELS = ("trace", "debug", "info", "warn", "error")

_PREFIXES = {f"[{name.upper()}]": name for name in LEVELS}


def hclog_level(levelno: int) -> str:
    """The hclog level name for a :mod:`logging` level number."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


def python_level(name: str) -> int:
    """The :mod:`logging` level number for an hclog level name (unknown names are debug)."""
    return {
        "trace": 5, "debug": logging.DEBUG, "info": logging.INFO,
        "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR,
    }.get(name.lower(), logging.DEBUG)


def format_line(level: str, message: str, fields: dict[str, Any] | None = None,
                when: datetime | None = None) -> str:
    """One hclog JSON log line (no newline). Values that JSON cannot hold are written as ``str()``."""
    stamp = (when or datetime.now(timezone.utc)).astimezone().isoformat(timespec="microseconds")
    record: dict[str, Any] = {"@level": level, "@message": message, "@timestamp": stamp}
    for key, value in (fields or {}).items():
        record.setdefault(key, value)
    return json.dumps(record, default=str, ensure_ascii=False)


class LogLine(NamedTuple):
    """A stderr line as the host understands it."""

    level: str
    message: str
    fields: dict[str, Any]


def parse_line(line: str) -> LogLine:
    """Classify one stderr line the way go-plugin's host does."""
    text = line.rstrip("\r\n")
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        # go-plugin keeps a JSON line's level only for hclog's exact level names; "warning",
        # say, is filed at debug like any other line.
        if isinstance(record, dict) and record.get("@level") in LEVELS:
            fields = {k: v for k, v in record.items() if not k.startswith("@")}
            return LogLine(record["@level"], str(record.get("@message", "")), fields)
    for prefix, level in _PREFIXES.items():
        if text.startswith(prefix):
            return LogLine(level, text[len(prefix):].strip(), {})
    return LogLine("debug", text, {})
