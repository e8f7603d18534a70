"""Whether a directory the author tools are told to write into can be made there."""

from __future__ import annotations

import os
from pathlib import Path


def why_not_writable(target: Path) -> str | None:
    """Why directory ``target`` cannot be created or written into, or None when it looks possible.

    Looks at the nearest part of the path that exists; the write itself can still fail (a
    read-only file system), and callers turn that ``OSError`` into their own error.
    """
    existing = target
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None
