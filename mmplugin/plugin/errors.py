"""Exceptions of the plugin runtime.

::

    Exception
     ├── HookError      raised by a handler: choose the negative answer the host gets
     └── StartupError   run() cannot start the plugin (printed or logged, exit status 1)

Mistakes in a :class:`~mmplugin.Plugin` subclass (a misspelt hook, a handler with the wrong
parameters) raise :class:`TypeError` when the class is defined.
"""

from __future__ import annotations


class HookError(Exception):
    """Raise in a hook handler to control the hook's negative answer (SEMANTICS §2).

    For hooks whose response carries an ``AppError`` the fields go into it (``id`` defaults to
    ``plugin.<handler>.error``, ``status_code`` to 500, ``detailed_error`` to ``message``); for
    reject-style hooks ``message`` becomes the rejection reason; OnSharedChannelsPing answers
    unhealthy; hooks without a negative answer log it.

    Example::

        def execute_command(self, ctx, args):
            if not args.user_id:
                raise HookError("log in first", id="com.example.hello.login", status_code=401)
    """

    def __init__(self, message: str, *, id: str | None = None, status_code: int = 500,
                 detailed_error: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.id = id
        self.status_code = status_code
        self.detailed_error = detailed_error if detailed_error is not None else message


class StartupError(Exception):
    """The plugin process cannot start; the message says what to fix."""
