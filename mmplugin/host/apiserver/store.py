"""Everything the in-memory host knows, shared by the PluginAPI servers of all plugins."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mmplugin.host.apiserver.directory import Directory
from mmplugin.host.apiserver.kv import KVBackend, KVStore
from mmplugin.host.apiserver.plugins import Commands, PluginConfigs
from mmplugin.host.apiserver.posts import Posts
from mmplugin.proto import pb

SERVER_VERSION = "10.5.0"


@dataclass(frozen=True)
class Seed:
    """The team, channel and user a fresh local host starts with."""

    team: pb.Team
    channel: pb.Channel
    user: pb.User


class Store:
    """Users, teams, channels, posts, KV, plugin configurations and commands, in memory.

    ``kv_backend`` may be a :class:`~mmplugin.host.apiserver.kv.SqliteBackend` to keep KV data on disk.
    """

    def __init__(self, clock: Callable[[], float] = time.time, kv_backend: KVBackend | None = None,
                 site_url: str = "http://127.0.0.1:8065") -> None:
        self.directory = Directory(clock)
        self.posts = Posts(self.directory)
        self.kv = KVStore(kv_backend, clock)
        self.configs = PluginConfigs()
        self.commands = Commands()
        self.site_url = site_url
        self.server_version = SERVER_VERSION

    def seed(self, username: str = "admin") -> Seed:
        """Create a team ``local``, its channel ``town-square`` and an admin user who is a member of both."""
        user = self.directory.create_user(pb.User(username=username, email=f"{username}@localhost",
                                                  roles="system_admin system_user"))
        team = self.directory.create_team(pb.Team(name="local", display_name="Local"))
        self.directory.create_team_member(team.id, user.id)
        channel = self.directory.create_channel(pb.Channel(team_id=team.id, name="town-square",
                                                           display_name="Town Square", creator_id=user.id))
        return Seed(team, channel, user)

    def server_config(self) -> dict[str, object]:
        """The slice of the server configuration a plugin typically reads (GetConfig)."""
        return {"ServiceSettings": {"SiteURL": self.site_url}, "PluginSettings": {"Enable": True}}


__all__ = ["SERVER_VERSION", "Seed", "Store"]
