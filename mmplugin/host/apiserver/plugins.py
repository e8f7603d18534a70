"""What the in-memory host keeps per plugin: its configuration and the slash commands it registered."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mmplugin.host.apiserver.errors import ApiError
from mmplugin.manifest import Manifest
from mmplugin.proto import pb


def lower_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys lower-cased, as the server stores plugin settings (SEMANTICS §8)."""
    return {str(key).lower(): value for key, value in config.items()}


@dataclass
class PluginConfigs:
    """Each plugin's configuration: its manifest's setting defaults overlaid by the saved values."""

    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: list[Callable[[str], None]] = field(default_factory=list)
    """Called with the plugin id after SavePluginConfig (the host then runs OnConfigurationChange)."""

    def register(self, manifest: Manifest, local: Mapping[str, Any] | None = None) -> None:
        """Take the defaults from ``manifest``; ``local`` (e.g. from a config file) is the saved overlay
        unless the plugin saved a configuration already."""
        self.defaults[manifest.id] = manifest.default_configuration()
        if local is not None and manifest.id not in self.saved:
            self.saved[manifest.id] = lower_keys(local)

    def get(self, plugin_id: str) -> dict[str, Any]:
        """The configuration the plugin sees (a copy)."""
        return copy.deepcopy({**self.defaults.get(plugin_id, {}), **self.saved.get(plugin_id, {})})

    def save(self, plugin_id: str, config: Mapping[str, Any]) -> None:
        self.saved[plugin_id] = lower_keys(copy.deepcopy(dict(config)))
        for listener in self.listeners:
            listener(plugin_id)


@dataclass
class Commands:
    """Slash commands registered through RegisterCommand, by ``(team_id, trigger)``."""

    registered: dict[tuple[str, str], tuple[str, pb.Command]] = field(default_factory=dict)

    def register(self, plugin_id: str, command: pb.Command) -> None:
        trigger = command.trigger.strip().lstrip("/").lower()
        if not trigger or " " in trigger:
            raise ApiError("model.command.is_valid.trigger.app_error",
                           f"Invalid trigger {command.trigger!r}: one word without spaces is required.", 400)
        owner = self.registered.get((command.team_id, trigger))
        if owner is not None and owner[0] != plugin_id:
            raise ApiError("app.command.register_plugin_command.duplicate.app_error",
                           f"The trigger {trigger!r} is already registered by plugin {owner[0]!r}.", 400)
        command = copy.deepcopy(command)
        command.trigger, command.plugin_id = trigger, plugin_id
        self.registered[(command.team_id, trigger)] = (plugin_id, command)

    def unregister(self, plugin_id: str, team_id: str, trigger: str) -> None:
        key = (team_id, trigger.lstrip("/").lower())
        if key in self.registered and self.registered[key][0] == plugin_id:
            del self.registered[key]

    def remove_plugin(self, plugin_id: str) -> None:
        for key in [k for k, (owner, _) in self.registered.items() if owner == plugin_id]:
            del self.registered[key]

    def owner(self, trigger: str, team_id: str = "") -> str | None:
        """The plugin that registered ``trigger`` for ``team_id`` (or for every team)."""
        trigger = trigger.lstrip("/").lower()
        for key in ((team_id, trigger), ("", trigger)):
            if key in self.registered:
                return self.registered[key][0]
        return None


__all__ = ["Commands", "PluginConfigs", "lower_keys"]
