"""What ``import mmplugin`` loads: the plugin runtime, not the API client until a plugin uses it."""

from __future__ import annotations

import subprocess
import sys


def test_the_api_client_loads_on_first_use_and_its_name_works_before() -> None:
    code = ("import sys, mmplugin, mmplugin.http\n"
            "print('mmplugin.api' in sys.modules)\n"
            "print(mmplugin.api.NotFoundError.__module__, 'mmplugin.api' in sys.modules)\n"
            "try:\n"
            "    mmplugin.nope\n"
            "except AttributeError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert done.stdout.splitlines() == ["False", "mmplugin.api.errors True",
                                        "module 'mmplugin' has no attribute 'nope'"]
