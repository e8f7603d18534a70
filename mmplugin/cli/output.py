"""How every command talks to the terminal: progress on stdout, errors as one line on stderr.

An error is ``mmplugin: error: <what went wrong>``, further lines of detail indented, then an
optional ``hint: <what to do>``. Exit statuses: :data:`EXIT_OK`, :data:`EXIT_FAILURE`,
:data:`EXIT_USAGE` (argparse's own), :data:`EXIT_INTERRUPTED`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure to report: ``str()`` is the problem (first line) and its detail; ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def say(text: str) -> None:
    """One line of progress or result on stdout, flushed at once."""
    print(text, flush=True)


def report(error: Exception) -> None:
    """Write ``error`` to stderr as ``mmplugin: error: ...`` (plus detail lines and a hint)."""
    first, *rest = str(error).splitlines() or [type(error).__name__]
    lines = [f"mmplugin: error: {first}", *(f"  {line}" for line in rest)]
    hint = getattr(error, "hint", "")
    if hint:
        lines.append(f"hint: {hint}")
    print("\n".join(lines), file=sys.stderr, flush=True)


def format_size(size: int) -> str:
    """``512 bytes``, ``3.4 KiB``, ``2.1 MiB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(absolute)


def debugging() -> bool:
    """True when ``MMPLUGIN_TRACEBACK=1`` asks for tracebacks of unexpected errors."""
    return os.environ.get("MMPLUGIN_TRACEBACK", "") not in ("", "0")


__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CliError", "debugging", "display_path",
           "format_size", "report", "say"]
