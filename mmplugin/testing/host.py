"""A plugin under test: its real process under mmplugin's host, against an in-memory Mattermost.

:class:`PluginHost` starts the plugin directory the way the Mattermost server would (its own
process, the go-plugin handshake, ``OnConfigurationChange`` then ``OnActivate``), fires hooks at
it, sends it HTTP requests, and shows what it did through the API: posts, KV entries, log lines,
registered commands. Everything is torn down by :meth:`PluginHost.close`.

Example::

    async with PluginHost("path/to/plugin", settings={"Greeting": "Hi"}) as host:
        response = await host.execute_command("/hello Ann")
        assert response.text == "Hi, Ann!"
        assert (await host.http.get("/status")).status_code == 200
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import betterproto2
import httpx

from mmplugin.api._config import fold_key
from mmplugin.hooks import DISMISS_POST, HOOKS_BY_METHOD, HOOKS_BY_NAME
from mmplugin.host.actions import PostOutcome, create_post
from mmplugin.host.adapter import HooksAdapter
from mmplugin.host.admin import AdminApp
from mmplugin.host.apiserver import InMemoryApi, Store
from mmplugin.host.environment import Environment
from mmplugin.host.front import HostFront
from mmplugin.host.ids import new_id
from mmplugin.host.routing import TokenAuth
from mmplugin.host.supervisor import SupervisorConfig
from mmplugin.manifest import Manifest, load_manifest
from mmplugin.proto import pb
from mmplugin.testing.logs import LogCapture, LogLine
from mmplugin.testing.transport import StreamingASGITransport

SITE_URL = "http://127.0.0.1:8065"


@dataclass(frozen=True)
class PostResult:
    """The plugin's answer to MessageWillBePosted or MessageWillBeUpdated.

    ``post`` is the post as the plugin left it (the one sent when it changed nothing).
    """

    post: pb.Post
    modified: bool
    rejection_reason: str = ""

    @property
    def rejected(self) -> bool:
        """True when the post would not be saved (dismissed silently or with a reason)."""
        return bool(self.rejection_reason)

    @property
    def dismissed(self) -> bool:
        """True when the plugin dropped the post silently (``Reject(DISMISS_POST)``)."""
        return self.rejection_reason == DISMISS_POST


class PluginHost:
    """One plugin directory running under a local host; use as ``async with`` or call :meth:`start`.

    ``settings`` are saved values of the plugin's ``settings_schema`` (keys as in plugin.json,
    matched case-insensitively, underscores ignored). The plugin runs with ``python`` (default: the
    interpreter running the tests). Hooks get ``hook_timeout`` seconds, as the server's 30 s.

    The local Mattermost has a team (:attr:`team`), its channel :attr:`channel` and the admin
    user :attr:`user`, who makes the hooks' posts and commands and the HTTP requests of
    :attr:`http`. :attr:`store` is the whole in-memory state.
    """

    def __init__(self, plugin_dir: str | Path = ".", *, settings: Mapping[str, Any] | None = None,
                 python: str | None = None, hook_timeout: float = 30.0, handshake_timeout: float = 30.0) -> None:
        self.plugin_dir = Path(plugin_dir).resolve()
        self.manifest: Manifest = load_manifest(self.plugin_dir)
        self.plugin_id = self.manifest.id
        self.store = Store(site_url=SITE_URL)
        seed = self.store.seed()
        self.user, self.team, self.channel = seed.user, seed.team, seed.channel
        local = {self.plugin_id: self._setting_keys(settings)} if settings is not None else None
        config = SupervisorConfig(python=python or sys.executable, hook_timeout=hook_timeout,
                                  handshake_timeout=handshake_timeout)
        self.env = Environment(InMemoryApi(self.store, local), config)
        self._auth = TokenAuth()
        self.front = HostFront(self.env, self._auth, AdminApp(self.env, self.store, seed))
        """The host's ASGI app: ``/plugins/<id>/...`` and the ``/_mmplugin/`` admin endpoints."""
        self._capture = LogCapture(self.plugin_id)
        self._clients: list[httpx.AsyncClient] = []
        self._http: httpx.AsyncClient | None = None
        self._configuring = False
        self._started = False

    async def __aenter__(self) -> PluginHost:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> PluginHost:
        """Start and activate the plugin; raises :class:`~mmplugin.host.HostError` (with its stderr) if it fails."""
        if self._started:
            raise RuntimeError(f"plugin {self.plugin_id!r} was already started by this host")
        self._started = True
        self._capture.attach()
        self.store.configs.listeners.append(self._saved_by_plugin)
        try:
            self.env.load(self.plugin_dir)
            await self.env.activate(self.plugin_id)
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Close the HTTP clients, deactivate the plugin and make sure its process is gone. Idempotent."""
        clients, self._clients, self._http = self._clients, [], None
        for client in clients:
            await client.aclose()
        await self.env.shutdown()
        self._capture.detach()

    async def restart(self) -> None:
        """Stop the plugin process and start it again; the store (KV, posts, settings) is kept."""
        await self.env.reload(self.plugin_id)

    @property
    def hooks(self) -> HooksAdapter:
        """The host's adapter of the running plugin's hooks (raises if the plugin is not running)."""
        hooks = self.env.hooks_for_plugin(self.plugin_id)
        if hooks is None:
            supervisor = self.env.supervisor(self.plugin_id)
            reason = f": {supervisor.last_failure}" if supervisor and supervisor.last_failure else ""
            raise RuntimeError(f"plugin {self.plugin_id!r} is not running "
                               f"({self.env.state(self.plugin_id).value}{reason})")
        return hooks

    @property
    def implemented(self) -> frozenset[str]:
        """The hooks the plugin listed in ``Implemented`` (``{"OnActivate", "ExecuteCommand", ...}``)."""
        return self.hooks.implemented

    @property
    def pid(self) -> int | None:
        """The plugin's process id while it runs."""
        supervisor = self.env.supervisor(self.plugin_id)
        return supervisor.pid if supervisor else None

    # Hooks

    async def message_will_be_posted(self, post: pb.Post | str) -> PostResult:
        """Run MessageWillBePosted; a string is posted by :attr:`user` in :attr:`channel`."""
        post = self._post(post)
        modified, reason = await self.hooks.message_will_be_posted(post)
        return PostResult(modified or post, modified is not None, reason)

    async def message_will_be_updated(self, new_post: pb.Post | str, old_post: pb.Post) -> PostResult:
        """Run MessageWillBeUpdated with the edited ``new_post`` (a string edits ``old_post``'s text)."""
        if isinstance(new_post, str):
            new_post = pb.Post(id=old_post.id, channel_id=old_post.channel_id, user_id=old_post.user_id,
                               root_id=old_post.root_id, message=new_post)
        modified, reason = await self.hooks.message_will_be_updated(new_post, old_post)
        return PostResult(modified or new_post, modified is not None, reason)

    async def create_post(self, post: pb.Post | str) -> PostOutcome:
        """Post as a user does: MessageWillBePosted, save, then MessageHasBeenPosted.

        ``outcome.post`` is the saved post, or None with ``outcome.rejection_reason`` set.
        """
        return await create_post(self.env, self.store, self._post(post))

    async def execute_command(self, command: str, *, user: pb.User | None = None,
                              channel: pb.Channel | None = None, root_id: str = "") -> pb.CommandResponse:
        """Run a slash command the plugin registered, as ``user`` in ``channel`` (default: the admin
        in town-square); returns its CommandResponse (an empty one when it returned none).

        Raises :class:`LookupError` if the plugin did not register the trigger (the server would
        not route the command to it) and :class:`~mmplugin.host.HookAppError` if it answered with
        an error.
        """
        trigger = command.split()[0].lstrip("/") if command.split() else ""
        channel = channel or self.channel
        if self.store.commands.owner(trigger, channel.team_id) != self.plugin_id:
            registered = ", ".join(f"/{t}" for t in self.commands) or "none"
            raise LookupError(f"plugin {self.plugin_id!r} has not registered /{trigger} (registered: {registered}); "
                              "register it with self.api.register_command() in on_activate")
        args = pb.CommandArgs(command=command, user_id=(user or self.user).id, channel_id=channel.id,
                              team_id=channel.team_id, root_id=root_id, site_url=self.store.site_url)
        return await self.hooks.execute_command(args) or pb.CommandResponse()

    async def hook(self, name: str, request: betterproto2.Message | None = None, **fields: Any) -> Any:
        """Call any hook by name (``"UserHasLoggedIn"`` or ``"user_has_logged_in"``) with the request's
        fields; returns the response message. A hook the plugin does not implement gets the answer
        the server assumes, without a call."""
        row = HOOKS_BY_NAME.get(name) or HOOKS_BY_METHOD.get(name)
        if row is None:
            raise KeyError(f"no hook named {name!r}; see docs/hooks.md for the names")
        return await self.hooks.invoke(row.name, request, **fields)

    # HTTP

    @property
    def http(self) -> httpx.AsyncClient:
        """An HTTP client for ``/plugins/<id>/`` as :attr:`user`: ``await host.http.get("/status")``."""
        if self._http is None:
            self._http = self.client()
        return self._http

    def client(self, user: pb.User | None = None, *, anonymous: bool = False,
               timeout: float = 30.0) -> httpx.AsyncClient:
        """A new HTTP client for ``/plugins/<id>/``: requests reach the plugin with
        ``Mattermost-User-Id`` of ``user`` (default :attr:`user`), or none when ``anonymous``.

        Responses stream: ``async with client.stream("GET", "/events") as r`` sees each chunk as
        the plugin sends it, and leaving the block disconnects (the plugin's handler is cancelled).
        """
        headers = {}
        if not anonymous:
            token = new_id()
            self._auth.tokens[token] = (user or self.user).id
            headers["Authorization"] = f"Bearer {token}"
        client = httpx.AsyncClient(transport=StreamingASGITransport(self.front), headers=headers, timeout=timeout,
                                   base_url=f"{SITE_URL}/plugins/{self.plugin_id}")
        self._clients.append(client)
        return client

    # What the plugin did

    def posts(self, channel: pb.Channel | None = None) -> list[pb.Post]:
        """Saved posts (not deleted), oldest first; only ``channel``'s when given."""
        posts = [p for p in self.store.posts.posts.values() if not p.delete_at]
        return sorted((p for p in posts if channel is None or p.channel_id == channel.id), key=lambda p: p.create_at)

    def ephemeral_posts(self, user: pb.User | None = None) -> list[pb.Post]:
        """Ephemeral posts the plugin sent (to ``user`` only, when given), oldest first."""
        return [post for user_id, post in self.store.posts.ephemeral if user is None or user_id == user.id]

    def kv_get(self, key: str) -> bytes | None:
        """The plugin's KV value under ``key`` (None when absent or expired)."""
        return self.store.kv.get(self.plugin_id, key)

    def kv_get_json(self, key: str, default: Any = None) -> Any:
        """The JSON value under ``key`` (as ``self.api.kv_set_json`` stored it), or ``default``."""
        value = self.kv_get(key)
        return default if value is None else json.loads(value)

    def kv_set(self, key: str, value: bytes) -> None:
        """Put ``value`` in the plugin's KV store (to prepare a test)."""
        self.store.kv.set(self.plugin_id, key, value)

    def kv_set_json(self, key: str, value: Any) -> None:
        """Put ``value`` as JSON in the plugin's KV store (readable with ``self.api.kv_get_json``)."""
        self.kv_set(key, json.dumps(value).encode())

    def kv_keys(self) -> list[str]:
        """Every live key of the plugin, sorted."""
        return self.store.kv.list(self.plugin_id, 0, 1_000_000)

    @property
    def logs(self) -> list[LogLine]:
        """Everything the plugin logged so far (stderr lines and ``Log*`` calls), oldest first."""
        return list(self._capture.lines)

    async def wait_for_log(self, text: str, timeout: float = 10.0) -> LogLine:
        """The first log line containing ``text``; waits for it, since stderr lines arrive asynchronously.
        Raises AssertionError, quoting the last lines, if none comes within ``timeout`` seconds."""
        return await self._capture.wait_for(text, timeout)

    @property
    def commands(self) -> list[str]:
        """The slash-command triggers the plugin registered, sorted (``["hello"]``)."""
        return sorted(command.trigger for owner, command in self.store.commands.registered.values()
                      if owner == self.plugin_id)

    # Users and configuration

    def create_user(self, username: str) -> pb.User:
        """A new user, member of :attr:`team` and :attr:`channel`."""
        user = self.store.directory.create_user(pb.User(username=username, email=f"{username}@localhost",
                                                        roles="system_user"))
        self.store.directory.create_team_member(self.team.id, user.id)
        self.store.directory.add_channel_member(self.channel.id, user.id)
        return user

    @property
    def configuration(self) -> dict[str, Any]:
        """The configuration the plugin loads: setting defaults overlaid by saved values (lower-case keys)."""
        return self.store.configs.get(self.plugin_id)

    async def configure(self, settings: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Save settings as an admin would in the System Console, then run OnConfigurationChange.

        Keys name settings of plugin.json's ``settings_schema`` (``configure(greeting="Hi")`` sets
        ``Greeting``); other saved values are kept. Raises :class:`~mmplugin.host.HookAppError`
        when the plugin refuses the configuration.
        """
        changes = self._setting_keys({**(settings or {}), **more})
        saved = {**self.store.configs.saved.get(self.plugin_id, {}), **changes}
        self._configuring = True
        try:
            self.store.configs.save(self.plugin_id, saved)
        finally:
            self._configuring = False
        await self.hooks.on_configuration_change()

    def _saved_by_plugin(self, plugin_id: str) -> None:
        # SavePluginConfig from the plugin itself: the server then runs OnConfigurationChange.
        if not self._configuring:
            self.env.configuration_changed(plugin_id)

    def _setting_keys(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        known = {fold_key(s.key): s.key.lower() for s in self.manifest.settings}
        keyed = {}
        for key, value in settings.items():
            if fold_key(key) not in known:
                names = ", ".join(s.key for s in self.manifest.settings) or "none"
                raise ValueError(f"{key!r} is not a setting of plugin {self.plugin_id!r} (settings_schema: {names})")
            keyed[known[fold_key(key)]] = value
        return keyed

    def _post(self, post: pb.Post | str) -> pb.Post:
        if isinstance(post, str):
            return pb.Post(message=post, channel_id=self.channel.id, user_id=self.user.id)
        return post


__all__ = ["SITE_URL", "PluginHost", "PostResult"]
