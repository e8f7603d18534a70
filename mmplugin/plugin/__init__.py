"""The plugin side: write a :class:`Plugin` subclass, call :func:`run` from the entry script."""

import os
import sys

from mmplugin.hooks import DISMISS_POST
from mmplugin.plugin.dispatch import Reject
from mmplugin.plugin.errors import HookError, StartupError
from mmplugin.plugin.logs import take_stdout
from mmplugin.plugin.plugin import Plugin
from mmplugin.plugin.server import run
from mmplugin.wire.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

# In a process a host launched, stdout must carry the handshake line first: from the moment the
# runtime is imported, stray prints (say, from the plugin's other imports) go to stderr instead.
if os.environ.get(MAGIC_COOKIE_KEY) == MAGIC_COOKIE_VALUE:
    take_stdout(sys.stderr)

__all__ = ["DISMISS_POST", "HookError", "Plugin", "Reject", "StartupError", "run"]
