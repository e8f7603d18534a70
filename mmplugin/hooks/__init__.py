"""The hook table shared by the plugin runtime, the host adapter and the docs."""

from mmplugin.hooks.table import DISMISS_POST, HOOKS, HOOKS_BY_METHOD, HOOKS_BY_NAME, IMPLEMENTED, Hook, OnError

__all__ = ["DISMISS_POST", "HOOKS", "HOOKS_BY_METHOD", "HOOKS_BY_NAME", "IMPLEMENTED", "Hook", "OnError"]
