"""Mattermost server plugins in pure Python."""

import importlib
from types import ModuleType

from mmplugin import _betterproto2_version

_betterproto2_version.install()

from mmplugin.plugin import DISMISS_POST, HookError, Plugin, Reject, run  # noqa: E402

__version__ = "0.1.0"

__all__ = ["DISMISS_POST", "HookError", "Plugin", "Reject", "run"]


def __getattr__(name: str) -> ModuleType:
    # ``mmplugin.api`` loads when a plugin first uses its client; the name works before that too.
    if name == "api":
        return importlib.import_module("mmplugin.api")
    raise AttributeError(f"module 'mmplugin' has no attribute {name!r}")
