"""Stop the plugin when its host is gone.

A go-plugin host (the Mattermost server, ``mmplugin run``) starts the plugin as its child process
(SEMANTICS §1) and stops it with ``GRPCController/Shutdown``. A host that dies without doing so
(SIGKILL, a crash) leaves the plugin orphaned: the system hands it to another parent, and nobody
will call a hook or Shutdown again. The plugin checks its parent process id every
:data:`CHECK_INTERVAL` seconds and, when it changes, stops as if Shutdown had been called.

Stdin is no signal: go-plugin hands the plugin the server's own stdin (which may never close), and
``mmplugin run`` gives it ``/dev/null``.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import suppress

from mmplugin.plugin.lifecycle import Lifecycle

#: Seconds between two looks at the parent process id.
CHECK_INTERVAL = 1.0


async def stop_when_orphaned(lifecycle: Lifecycle, interval: float = CHECK_INTERVAL) -> None:
    """Call ``lifecycle.stop`` once the parent process changes; return when stopping starts."""
    host = os.getppid()
    while lifecycle.serving:
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(lifecycle.stopping.wait(), interval)
        if lifecycle.serving and os.getppid() != host:
            lifecycle.stop(f"the host process (pid {host}) is gone")
