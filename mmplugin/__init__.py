"""Mattermost server plugins in pure Python."""

import gc
import importlib
from types import ModuleType

# Everything imported below lives as long as the process, so the cyclic collector has no reason to
# scan it: a collection during these imports finds nothing to free yet costs a plugin process
# about 6 ms of its start (some 50 passes over the young objects). So collection pauses while they
# load, and CPython's gc.freeze() (PyPy has none) moves them out of the collector's view for good.
_collecting = gc.isenabled()
gc.disable()
try:
    from mmplugin import _betterproto2_version

    _betterproto2_version.install()

    from mmplugin.plugin import DISMISS_POST, HookError, Plugin, Reject, run
finally:
    if hasattr(gc, "freeze"):
        gc.freeze()
    if _collecting:
        gc.enable()

__version__ = "0.1.0"

__all__ = ["DISMISS_POST", "HookError", "Plugin", "Reject", "run"]


def __getattr__(name: str) -> ModuleType:
    # ``mmplugin.api`` loads when a plugin first uses its client; the name works before that too.
    if name == "api":
        return importlib.import_module("mmplugin.api")
    raise AttributeError(f"module 'mmplugin' has no attribute {name!r}")
