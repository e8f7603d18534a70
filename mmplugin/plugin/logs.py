"""Logging for a plugin process: hclog JSON lines on stderr, and ``print()`` routed into the log.

The host files a plugin's stderr line by line and keeps level and fields only for hclog JSON lines
(SEMANTICS §1.8). stdout carries the handshake and nothing else: before it, stray output would
break the handshake; after it, go-plugin discards or mislabels it.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from datetime import datetime, timezone
from typing import Any, TextIO, cast

from mmplugin.wire.logline import format_line, hclog_level

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class HclogFormatter(logging.Formatter):
    """Formats a record as one hclog JSON line.

    Fields: every ``extra`` attribute, ``logger`` (for named loggers), ``exception`` (the
    formatted traceback, when the record has one) and ``stack``.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            key: value for key, value in record.__dict__.items()
            if key not in _STANDARD and key != "taskName"
        }
        if record.name != "root":
            fields["logger"] = record.name
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        when = datetime.fromtimestamp(record.created, timezone.utc)
        return format_line(hclog_level(record.levelno), record.getMessage(), fields, when=when)


class StdoutLog(io.TextIOBase):
    """A text stream that logs each complete line written to it (``print()`` after the handshake)."""

    def __init__(self, logger: logging.Logger, level: int = logging.INFO) -> None:
        super().__init__()
        self._logger = logger
        self._level = level
        self._pending = ""
        self._lock = threading.RLock()
        self._inside = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            line, self._pending = self._pending, ""
        if line:
            self._emit(line)

    def _emit(self, line: str) -> None:
        # A logging handler writing to sys.stdout would feed its own output back here forever; that
        # output is a copy of a record the stderr handler has already written, so it is dropped.
        if getattr(self._inside, "active", False):
            return
        self._inside.active = True
        try:
            self._logger.log(self._level, line)
        finally:
            self._inside.active = False


_real_stdout: TextIO | None = None


def take_stdout(replacement: TextIO | io.TextIOBase) -> TextIO:
    """Point ``sys.stdout`` at ``replacement``; return the process's real stdout (for the handshake).

    Called once when the runtime is imported in a host-launched process (stray prints go to stderr)
    and again by ``run()`` (prints go to the log).
    """
    global _real_stdout
    if _real_stdout is None:
        _real_stdout = sys.stdout
    sys.stdout = cast(TextIO, replacement)
    return _real_stdout


def install_logging(stream: TextIO, level: int = logging.INFO) -> logging.Handler:
    """Add an hclog handler writing to ``stream`` on the root logger, at ``level``.

    grpclib's own info lines (cancelled requests, deadlines) are raised to warnings only: the
    runtime logs those events itself, once.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("grpclib").setLevel(logging.WARNING)
    return handler
