"""Mattermost server plugins in pure Python."""

from mmplugin import _betterproto2_version

_betterproto2_version.install()

from mmplugin.plugin import DISMISS_POST, HookError, Plugin, Reject, run  # noqa: E402

__version__ = "0.1.0"

__all__ = ["DISMISS_POST", "HookError", "Plugin", "Reject", "run"]
