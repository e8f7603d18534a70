"""Run code in a fresh interpreter, for what only a new process shows: its imports, its garbage
collector, the class and codec caches before anything filled them."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    """Run ``code`` (dedented) with this interpreter in a new process and return what it printed."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            cwd="/", check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout
