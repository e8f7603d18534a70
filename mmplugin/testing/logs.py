"""What a plugin logged, as the host received it: stderr lines and ``Log*`` API calls."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LogLine:
    """One line of the plugin's log.

    ``level`` is Python's level name in lower case (``"info"``, ``"warning"``, ...); ``message``
    is the text as the host logged it, structured fields appended as ``key='value'``; ``fields``
    holds those fields.
    """

    level: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


class LogCapture(logging.Handler):
    """Collects the records of logger ``mmplugin.host.plugin.<plugin_id>`` that came from the plugin.

    The host relays stderr asynchronously, so a line the plugin wrote during a hook may arrive just
    after the hook's answer: :meth:`wait_for` waits for it.
    """

    def __init__(self, plugin_id: str) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[LogLine] = []
        self._logger = logging.getLogger(f"mmplugin.host.plugin.{plugin_id}")
        self._saved_level = self._logger.level
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived = asyncio.Event()

    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._logger.addHandler(self)
        if not self._logger.isEnabledFor(logging.DEBUG):
            self._logger.setLevel(logging.DEBUG)

    def detach(self) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved_level)

    def emit(self, record: logging.LogRecord) -> None:
        if not hasattr(record, "plugin_id"):
            return  # the host's own lines about the plugin (state changes, restarts)
        fields = getattr(record, "plugin_fields", None) or {}
        self.lines.append(LogLine(record.levelname.lower(), record.getMessage(), dict(fields)))
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._arrived.set)

    async def wait_for(self, text: str, timeout: float) -> LogLine:
        """The first line containing ``text``, waiting up to ``timeout`` seconds for it to arrive."""
        async def arrival() -> LogLine:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if text in line.message:
                        return line
                seen = len(self.lines)
                self._arrived.clear()
                await self._arrived.wait()

        try:
            return await asyncio.wait_for(arrival(), timeout)
        except asyncio.TimeoutError:
            logged = "\n".join(f"  [{line.level}] {line.message}" for line in self.lines[-20:]) or "  (nothing)"
            raise AssertionError(f"the plugin logged no line containing {text!r} within {timeout:g} s; "
                                 f"its last lines:\n{logged}") from None


__all__ = ["LogCapture", "LogLine"]
