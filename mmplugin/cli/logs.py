"""``mmplugin logs ID [--follow]``: the plugin's lines of the server log, optionally as they come.

The server's log endpoint answers with its latest lines, a window that slides as the log grows;
:func:`new_lines` finds what a later answer adds to an earlier one, so following prints each line
once. :func:`render` makes a JSON log line readable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from mmplugin.cli.connection import server
from mmplugin.cli.output import EXIT_OK, say

#: Fields every line has, shown in the line's head or implied by the command.
_HEAD_FIELDS = ("timestamp", "level", "msg", "caller", "plugin_id")


def logs_command(args: argparse.Namespace) -> int:
    with server() as client:
        seen = client.logs(args.plugin_id)
        for line in seen:
            say(render(line, raw=args.json))
        if not args.follow:
            if not seen:
                print(f"no lines from {args.plugin_id} in the server's latest log page", file=sys.stderr)
            return EXIT_OK
        polls = 0
        try:
            while args.max_polls is None or polls < args.max_polls:
                time.sleep(args.interval)
                current = client.logs(args.plugin_id)
                for line in new_lines(seen, current):
                    say(render(line, raw=args.json))
                seen, polls = current, polls + 1
        except KeyboardInterrupt:
            pass  # Ctrl-C is how following ends
    return EXIT_OK


def new_lines(previous: Sequence[str], current: Sequence[str]) -> list[str]:
    """The lines ``current`` adds after the end of ``previous``.

    ``current`` is taken to be ``previous`` minus some lines dropped at the front plus new lines at
    the end; the smallest such drop wins, so no line is printed twice. When the windows do not
    overlap at all (a log rotation), every line of ``current`` is new.
    """
    for dropped in range(len(previous) + 1):
        kept = len(previous) - dropped
        if kept <= len(current) and (kept == 0 or current[0] == previous[dropped]) \
                and list(current[:kept]) == list(previous[dropped:]):
            return list(current[kept:])
    return list(current)


def render(line: str, *, raw: bool = False) -> str:
    """``2024-05-01 10:00:00.000 Z info  message key=value ...`` from a JSON log line (others as they are)."""
    if raw:
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    head = f"{record.get('timestamp', '')} {record.get('level', '')!s:5} {record.get('msg', '')}".strip()
    fields = " ".join(f"{key}={_value(value)}" for key, value in record.items() if key not in _HEAD_FIELDS)
    return f"{head} {fields}" if fields else head


def _value(value: object) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"=" for c in value):
        return value
    return json.dumps(value)


__all__ = ["logs_command", "new_lines", "render"]
