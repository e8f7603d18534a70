"""Deploying to a Mattermost server: the exact REST requests, over TCP and the local-mode socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_mattermost import Behaviour, FakeMattermost, serve_tcp, serve_unix

from mmplugin.deploy import DeployError, connect


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "com.example.hello-0.1.0.tar.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 40)
    return path


@pytest.fixture
def tcp() -> Iterator[tuple[FakeMattermost, str]]:
    fake = FakeMattermost()
    server, url = serve_tcp(fake)
    yield fake, url
    server.shutdown()
    server.server_close()


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MM_SERVICESETTINGS_SITEURL": url, "MM_LOCALSOCKETPATH": str(tmp_path / "absent.socket"), **extra}


def test_upload_with_force_then_enable_over_tcp(tcp: tuple[FakeMattermost, str], bundle: Path,
                                                tmp_path: Path) -> None:
    fake, url = tcp
    with connect(_env(url, tmp_path, MM_ADMIN_TOKEN="admin-token")) as server:
        manifest = server.upload(bundle)
        server.enable(manifest["id"])
    upload, enable = fake.received
    assert (upload.method, upload.path) == ("POST", "/api/v4/plugins")
    assert upload.headers["authorization"] == "Bearer admin-token"
    assert upload.form["plugin"] == (bundle.name, bundle.read_bytes())
    assert upload.form["force"] == (None, b"true")
    assert (enable.method, enable.path) == ("POST", "/api/v4/plugins/com.example.hello/enable")


def test_local_socket_needs_no_credentials(tmp_path: Path, bundle: Path) -> None:
    fake = FakeMattermost(Behaviour(token=None))
    socket_path = str(tmp_path / "mm.socket")
    server = serve_unix(fake, socket_path)
    try:
        with connect({"MM_LOCALSOCKETPATH": socket_path}) as client:
            client.upload(bundle)
            client.disable("com.example.hello")
            client.remove("com.example.hello")
    finally:
        server.shutdown()
        server.server_close()
    assert [(r.method, r.path) for r in fake.received] == [
        ("POST", "/api/v4/plugins"),
        ("POST", "/api/v4/plugins/com.example.hello/disable"),
        ("DELETE", "/api/v4/plugins/com.example.hello"),
    ]
    assert all("authorization" not in r.headers for r in fake.received)


def test_username_and_password_log_in_first(tcp: tuple[FakeMattermost, str], tmp_path: Path) -> None:
    fake, url = tcp
    with connect(_env(url, tmp_path, MM_ADMIN_USERNAME="admin", MM_ADMIN_PASSWORD="secret")) as client:
        client.enable("com.example.hello")
    login, enable = fake.received
    assert login.json == {"login_id": "admin", "password": "secret"}
    assert enable.headers["authorization"] == "Bearer session-token"


@pytest.mark.parametrize(
    ("status", "error_id", "message"),
    [
        (501, "app.plugin.upload_disabled.app_error", "plugin uploads are disabled on the server"),
        (413, "api.context.too_large", "the bundle is 0.0 MiB, larger than the server accepts"),
        (500, "app.plugin.extract.app_error", "HTTP 500: refused (app.plugin.extract.app_error)"),
    ],
)
def test_upload_failures_are_one_clear_line(tcp: tuple[FakeMattermost, str], bundle: Path, tmp_path: Path,
                                            status: int, error_id: str, message: str) -> None:
    fake, url = tcp
    fake.behaviour.upload_status, fake.behaviour.upload_error_id = status, error_id
    with connect(_env(url, tmp_path, MM_ADMIN_TOKEN="admin-token")) as client, \
            pytest.raises(DeployError) as info:
        client.upload(bundle)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_token_and_unreachable_server(tcp: tuple[FakeMattermost, str], tmp_path: Path) -> None:
    _, url = tcp
    with connect(_env(url, tmp_path, MM_ADMIN_TOKEN="wrong")) as client, pytest.raises(DeployError, match="401"):
        client.enable("x.y.z")
    with connect(_env("http://127.0.0.1:9", tmp_path, MM_ADMIN_TOKEN="t")) as client, \
            pytest.raises(DeployError, match="unreachable"):
        client.enable("x.y.z")


def test_missing_configuration_is_explained(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="set MM_SERVICESETTINGS_SITEURL"):
        connect({"MM_LOCALSOCKETPATH": str(tmp_path / "none")})
    with pytest.raises(DeployError, match="no credentials"):
        connect(_env("http://127.0.0.1:9", tmp_path))


def test_logs_are_filtered_by_plugin(tcp: tuple[FakeMattermost, str], tmp_path: Path) -> None:
    fake, url = tcp
    ours = json.dumps({"level": "info", "msg": "hi", "plugin_id": "com.example.hello"})
    fake.behaviour.logs = [ours, json.dumps({"msg": "other", "plugin_id": "x"}), "plain server line"]
    with connect(_env(url, tmp_path, MM_ADMIN_TOKEN="admin-token")) as client:
        assert client.logs("com.example.hello") == [ours]
    assert fake.received[0].path == "/api/v4/logs?page=0&logs_per_page=10000"
