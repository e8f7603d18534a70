"""A small client for the Mattermost REST endpoints that install and manage plugins.

:func:`connect` follows the rules plugin authors know from the starter template (SEMANTICS §8):
the local-mode unix socket (``MM_LOCALSOCKETPATH``, default ``/var/tmp/mattermost_local.socket``)
when it exists, needing no credentials; otherwise ``MM_SERVICESETTINGS_SITEURL`` with
``MM_ADMIN_TOKEN``, or ``MM_ADMIN_USERNAME`` and ``MM_ADMIN_PASSWORD`` to log in. Every failure is a
:class:`DeployError` whose message is one line saying what went wrong and what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

DEFAULT_LOCAL_SOCKET = "/var/tmp/mattermost_local.socket"
UPLOADS_DISABLED_ID = "app.plugin.upload_disabled.app_error"
_TIMEOUT = httpx.Timeout(30.0, write=300.0)


class DeployError(Exception):
    """A deploy step failed; ``str()`` is one line meant for the person at the terminal."""


def connect(env: Mapping[str, str] | None = None) -> ServerClient:
    """A client for the server that ``env`` (default: the process environment) points at."""
    env = os.environ if env is None else env
    socket_path = env.get("MM_LOCALSOCKETPATH") or DEFAULT_LOCAL_SOCKET
    if Path(socket_path).exists():
        transport = httpx.HTTPTransport(uds=socket_path)
        return ServerClient(httpx.Client(transport=transport, base_url="http://localhost", timeout=_TIMEOUT),
                            where=f"local socket {socket_path}")
    site = env.get("MM_SERVICESETTINGS_SITEURL", "").rstrip("/")
    if not site:
        raise DeployError(
            "no Mattermost server to talk to: set MM_SERVICESETTINGS_SITEURL and MM_ADMIN_TOKEN "
            f"(or MM_ADMIN_USERNAME/MM_ADMIN_PASSWORD), or enable local mode ({socket_path} does not exist)"
        )
    scheme, _, rest = site.partition("://")
    if scheme.lower() not in ("http", "https") or not rest:
        raise DeployError(f"MM_SERVICESETTINGS_SITEURL is {site!r}, not a server address like https://chat.example.com")
    client = ServerClient(httpx.Client(base_url=site, timeout=_TIMEOUT), where=site)
    token = env.get("MM_ADMIN_TOKEN")
    if token:
        client.http.headers["Authorization"] = f"Bearer {token}"
    elif env.get("MM_ADMIN_USERNAME") and env.get("MM_ADMIN_PASSWORD"):
        client.login(env["MM_ADMIN_USERNAME"], env["MM_ADMIN_PASSWORD"])
    else:
        raise DeployError(f"no credentials for {site}: set MM_ADMIN_TOKEN, or MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD")
    return client


class ServerClient:
    """Plugin management calls against one server; use :func:`connect` to make one."""

    def __init__(self, http: httpx.Client, where: str) -> None:
        self.http = http
        self.where = where

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def login(self, username: str, password: str) -> None:
        """Log in with a username and password and use the session token from then on."""
        response = self._request("POST", "/api/v4/users/login", what="log in",
                                 json={"login_id": username, "password": password})
        self.http.headers["Authorization"] = f"Bearer {response.headers.get('Token', '')}"

    def upload(self, bundle: Path) -> dict[str, Any]:
        """Upload ``bundle`` with ``force=true`` (replacing an installed version); returns its manifest."""
        size = bundle.stat().st_size
        with bundle.open("rb") as body:
            files = {"plugin": (bundle.name, body, "application/gzip")}
            response = self._request("POST", "/api/v4/plugins", what=f"upload {bundle.name}",
                                     files=files, data={"force": "true"}, bundle_size=size)
        result: dict[str, Any] = response.json()
        return result

    def enable(self, plugin_id: str) -> None:
        self._request("POST", f"/api/v4/plugins/{plugin_id}/enable", what=f"enable {plugin_id}")

    def disable(self, plugin_id: str) -> None:
        self._request("POST", f"/api/v4/plugins/{plugin_id}/disable", what=f"disable {plugin_id}")

    def remove(self, plugin_id: str) -> None:
        self._request("DELETE", f"/api/v4/plugins/{plugin_id}", what=f"remove {plugin_id}")

    def logs(self, plugin_id: str, *, per_page: int = 10000) -> list[str]:
        """The server log lines (newest page) that carry ``plugin_id``."""
        response = self._request("GET", "/api/v4/logs", what="read the server logs",
                                 params={"page": 0, "logs_per_page": per_page})
        return [line for line in response.json() if _is_from_plugin(line, plugin_id)]

    def _request(self, method: str, path: str, *, what: str, bundle_size: int | None = None,
                 **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise DeployError(f"cannot {what}: the server at {self.where} is unreachable ({exc})") from None
        if response.is_success:
            return response
        raise DeployError(f"cannot {what}: {_explain(response, bundle_size)}")


def _explain(response: httpx.Response, bundle_size: int | None) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    app_id = body.get("id", "") if isinstance(body, dict) else ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    status = response.status_code
    if app_id == UPLOADS_DISABLED_ID or (status == 501 and "upload" in message.lower()):
        return "plugin uploads are disabled on the server; set PluginSettings.EnableUploads = true"
    if status == 413:
        size = f"the bundle is {bundle_size / 1024 / 1024:.1f} MiB, " if bundle_size is not None else ""
        return f"{size}larger than the server accepts (FileSettings.MaxFileSize)"
    if status == 401:
        return "the server refused the credentials (HTTP 401); check MM_ADMIN_TOKEN or the username/password"
    if status == 403:
        return "the account lacks the manage_system permission (HTTP 403)"
    detail = f"{message} ({app_id})" if message and app_id else message or response.text[:200].strip()
    return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"


def _is_from_plugin(line: str, plugin_id: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return plugin_id in line
    return isinstance(record, dict) and record.get("plugin_id") == plugin_id
