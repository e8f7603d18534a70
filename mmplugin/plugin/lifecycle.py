"""Serving → stopping → drained: the plugin process state shared by the services.

grpclib's ``Server.close()`` cancels running handlers and has no drain (SEMANTICS §7), so stopping
is ours: :meth:`Lifecycle.stop` flips health to NOT_SERVING and ends the long-lived streams, new hook
calls are refused, and :meth:`Lifecycle.drained` waits for the calls still running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

_log = logging.getLogger("mmplugin")


class Lifecycle:
    """Counts running calls and signals the stop request."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._running = 0

    @property
    def serving(self) -> bool:
        return not self.stopping.is_set()

    @property
    def running(self) -> int:
        """Calls started through :meth:`call` that have not finished."""
        return self._running

    def stop(self, reason: str) -> None:
        """Ask the process to stop (idempotent)."""
        if self.serving:
            _log.info("stopping: %s", reason)
            self.stopping.set()

    @contextmanager
    def call(self, name: str, *, long_lived: bool = False) -> Iterator[None]:
        """Track one call for the drain, and turn its cancellation into one log line.

        ``long_lived`` streams (health Watch, stdio, broker) end on their own when stopping starts;
        the host hanging up on them is normal, so their cancellation is logged at debug level.
        """
        self._running += 1
        self._idle.clear()
        try:
            yield
        except asyncio.CancelledError:
            # grpclib cancels a handler when the host resets the call or its deadline passes, and
            # when the server closes; without this it logs a traceback per call.
            if long_lived:
                _log.debug("%s was closed by the host", name)
            else:
                _log.warning("%s was cancelled before it answered (the host gave up, or the plugin stopped)",
                             name)
            raise
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def drained(self, grace: float) -> bool:
        """Wait up to ``grace`` seconds for running calls to finish; True when none is left."""
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except asyncio.TimeoutError:
            return False
        return True
