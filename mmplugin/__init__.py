"""Mattermost server plugins in pure Python."""

from mmplugin.plugin import DISMISS_POST, HookError, Plugin, Reject, run

__version__ = "0.1.0"

__all__ = ["DISMISS_POST", "HookError", "Plugin", "Reject", "run"]
