"""What ``import mmplugin`` loads: the plugin runtime, not the API client until a plugin uses it,
and not importlib.metadata (betterproto2's version comes from its dist-info)."""

from __future__ import annotations

import importlib.metadata
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


def test_importing_mmplugin_leaves_importlib_metadata_alone() -> None:
    code = ("import sys, mmplugin, mmplugin.http, betterproto2; "
            "print('importlib.metadata' in sys.modules, betterproto2.__version__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert done.stdout.split() == ["False", importlib.metadata.version("betterproto2")]
