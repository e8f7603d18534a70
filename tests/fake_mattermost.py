"""A stand-in for the few Mattermost REST endpoints `mmplugin deploy` uses, over TCP or a unix socket."""

from __future__ import annotations

import email.parser
import email.policy
import json
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)
    json: Any = None


@dataclass
class Behaviour:
    token: str | None = "admin-token"
    upload_status: int = 201
    upload_error_id: str = ""
    users: dict[str, str] = field(default_factory=lambda: {"admin": "secret"})
    logs: list[str] = field(default_factory=list)
    log_pages: list[list[str]] = field(default_factory=list)
    """Answers of successive log reads (each taken once) before ``logs`` is answered for good."""


class FakeMattermost:
    """Records every request; answers as the server would for the plugin endpoints."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.received: list[Received] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "local"

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith("multipart/form-data"):
                    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        got.form[str(name)] = (part.get_filename(), part.get_payload(decode=True))
                elif raw:
                    got.json = json.loads(raw)
                fake.received.append(got)
                self._route(got)

            def _route(self, got: Received) -> None:
                b = fake.behaviour
                if got.path == "/api/v4/users/login":
                    if b.users.get(got.json.get("login_id")) == got.json.get("password"):
                        return self._answer(200, {"id": "u1"}, {"Token": "session-token"})
                    return self._answer(401, {"id": "api.user.login.invalid_credentials", "message": "bad"})
                allowed = {None} if b.token is None else {f"Bearer {b.token}", "Bearer session-token"}
                if got.headers.get("authorization") not in allowed:
                    return self._answer(401, {"id": "api.context.session_expired.app_error", "message": "expired"})
                if got.method == "POST" and got.path == "/api/v4/plugins":
                    if b.upload_status != 201:
                        return self._answer(b.upload_status, {"id": b.upload_error_id, "message": "refused"})
                    return self._answer(201, {"id": "com.example.hello", "version": "0.1.0"})
                if got.path.startswith("/api/v4/plugins/") and got.method in ("POST", "DELETE"):
                    return self._answer(200, {"status": "OK"})
                if got.method == "GET" and got.path.startswith("/api/v4/logs"):
                    return self._answer(200, b.log_pages.pop(0) if b.log_pages else b.logs)
                return self._answer(404, {"id": "api.context.404.app_error", "message": "not found"})

            do_GET = do_POST = do_DELETE = _handle

        return Handler


class _UnixHTTPServer(socketserver.UnixStreamServer):
    def get_request(self) -> Any:
        request, _ = super().get_request()
        return request, ("local", 0)


def serve_tcp(fake: FakeMattermost) -> tuple[HTTPServer, str]:
    server = HTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def serve_unix(fake: FakeMattermost, path: str) -> socketserver.UnixStreamServer:
    server = _UnixHTTPServer(path, fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
