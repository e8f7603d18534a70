"""The host side's exceptions, one tree::

    HostError
    ├── PluginStartError        the plugin process could not be started or connected
    │   └── HandshakeFailed     no valid handshake line (timeout, malformed, wrong protocol, early exit)
    ├── ActivationError         Implemented or OnActivate failed; the plugin was stopped
    ├── HookAppError            a hook answered with an AppError (or its RPC failed, for hooks
    │                           whose failure is an error, SEMANTICS §2)
    └── PluginNotFound          no plugin with that id is loaded

Every message names the plugin and what went wrong.
"""

from __future__ import annotations

from mmplugin.proto import pb


class HostError(Exception):
    """Base of every error raised by :mod:`mmplugin.host`."""


class PluginStartError(HostError):
    """The plugin process could not be started, or its gRPC server could not be reached."""


class HandshakeFailed(PluginStartError):
    """The plugin did not print a valid go-plugin handshake line in time.

    ``stderr_tail`` holds the plugin's last stderr lines (also quoted in the message).
    """

    def __init__(self, message: str, stderr_tail: tuple[str, ...] = ()) -> None:
        if stderr_tail:
            message += "\nlast stderr lines:\n" + "\n".join(f"  {line}" for line in stderr_tail)
        super().__init__(message)
        self.stderr_tail = stderr_tail


class ActivationError(HostError):
    """``Implemented`` or ``OnActivate`` failed; the plugin process has been stopped."""


class HookAppError(HostError):
    """A hook answered with an ``AppError`` (``app_error`` holds it as received or as built by the host).

    For hooks whose RPC failure counts as an error (SEMANTICS §2: ExecuteCommand, OnActivate, ...)
    the host builds the AppError itself: id ``plugin.grpc.<hook_method>.error``, status 500.
    """

    def __init__(self, plugin_id: str, hook: str, app_error: pb.AppError) -> None:
        text = app_error.detailed_error or app_error.message
        super().__init__(f"plugin {plugin_id!r}: {hook} failed: {app_error.id}" + (f": {text}" if text else ""))
        self.plugin_id = plugin_id
        self.hook = hook
        self.app_error = app_error

    @property
    def id(self) -> str:
        return self.app_error.id

    @property
    def status_code(self) -> int:
        return self.app_error.status_code or 500


class PluginNotFound(HostError):
    """No plugin with that id is loaded in the environment."""


__all__ = ["ActivationError", "HandshakeFailed", "HookAppError", "HostError", "PluginNotFound", "PluginStartError"]
