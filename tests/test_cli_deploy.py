"""`mmplugin deploy|enable|disable|remove` against the fake server, over TCP and the local-mode socket."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_mattermost import Behaviour, FakeMattermost, serve_tcp, serve_unix

from mmplugin.author import bundle as bundle_module
from mmplugin.author.scaffold import create_plugin
from mmplugin.cli import main


@pytest.fixture
def tcp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[FakeMattermost, str]]:
    fake = FakeMattermost()
    server, url = serve_tcp(fake)
    monkeypatch.setenv("MM_LOCALSOCKETPATH", str(tmp_path / "absent.socket"))
    monkeypatch.setenv("MM_SERVICESETTINGS_SITEURL", url)
    monkeypatch.setenv("MM_ADMIN_TOKEN", "admin-token")
    yield fake, url
    server.shutdown()
    server.server_close()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "com.example.hello-0.1.0.tar.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(10 * 1024 - 2))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_deploy_a_bundle_uploads_with_force_then_enables(tcp: tuple[FakeMattermost, str], bundle: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = tcp
    status, out, err = _run(capsys, "deploy", str(bundle))
    assert (status, err) == (0, [])
    assert out == [f"uploading com.example.hello-0.1.0.tar.gz (10.0 KiB) to {url}",
                   "installed com.example.hello 0.1.0",
                   "enabled com.example.hello"]
    upload, enable = fake.received
    assert upload.form["plugin"] == (bundle.name, bundle.read_bytes())
    assert upload.form["force"] == (None, b"true")
    assert upload.headers["authorization"] == "Bearer admin-token"
    assert (enable.method, enable.path) == ("POST", "/api/v4/plugins/com.example.hello/enable")


def test_deploy_a_directory_bundles_it_first_over_the_local_socket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Vendoring runs pip (tested in test_bundle.py and test_cli_bundle.py); here an empty vendor tree.
    monkeypatch.setattr(bundle_module, "vendor_dependencies", lambda requirements, target: target.mkdir())
    project = create_plugin("Weather Bot", tmp_path / "weather")
    fake = FakeMattermost(Behaviour(token=None))
    socket_path = tmp_path / "mm.socket"
    server = serve_unix(fake, str(socket_path))
    monkeypatch.setenv("MM_LOCALSOCKETPATH", str(socket_path))
    monkeypatch.delenv("MM_SERVICESETTINGS_SITEURL", raising=False)
    try:
        status, out, err = _run(capsys, "deploy", str(project.directory))
    finally:
        server.shutdown()
        server.server_close()
    assert (status, err) == (0, [])
    archive = project.directory / "dist" / "com.example.weather-bot-0.1.0.tar.gz"
    assert out[0].startswith("bundling ")
    assert "  resolving pure-Python dependencies for com.example.weather-bot" in out
    assert out[-3].startswith(f"uploading {archive.name} (")
    assert out[-3].endswith(f"to local socket {socket_path}")
    assert out[-2:] == ["installed com.example.hello 0.1.0", "enabled com.example.hello"]  # as the fake answers
    upload = fake.received[0]
    assert upload.form["plugin"] == (archive.name, archive.read_bytes())
    assert "authorization" not in upload.headers
    with tarfile.open(archive) as tar:
        assert "com.example.weather-bot/plugin.py" in tar.getnames()


@pytest.mark.parametrize(("command", "method", "path", "said"), [
    ("enable", "POST", "/api/v4/plugins/com.example.hello/enable", "enabled"),
    ("disable", "POST", "/api/v4/plugins/com.example.hello/disable", "disabled"),
    ("remove", "DELETE", "/api/v4/plugins/com.example.hello", "removed"),
])
def test_manage_commands_log_in_with_username_and_password(
        tcp: tuple[FakeMattermost, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str, method: str, path: str, said: str) -> None:
    fake, url = tcp
    monkeypatch.delenv("MM_ADMIN_TOKEN")
    monkeypatch.setenv("MM_ADMIN_USERNAME", "admin")
    monkeypatch.setenv("MM_ADMIN_PASSWORD", "secret")
    assert _run(capsys, command, "com.example.hello") == (0, [f"{said} com.example.hello on {url}"], [])
    login, call = fake.received
    assert login.path == "/api/v4/users/login"
    assert (call.method, call.path, call.headers["authorization"]) == (method, path, "Bearer session-token")


def test_server_failures_are_one_line(tcp: tuple[FakeMattermost, str], bundle: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake, _ = tcp
    fake.behaviour.upload_status, fake.behaviour.upload_error_id = 501, "app.plugin.upload_disabled.app_error"
    status, _, err = _run(capsys, "deploy", str(bundle))
    assert status == 1
    assert err == [f"mmplugin: error: cannot upload {bundle.name}: plugin uploads are disabled on the server; "
                   "set PluginSettings.EnableUploads = true"]
    assert len(fake.received) == 1, "no enable after a failed upload"

    monkeypatch.setenv("MM_ADMIN_TOKEN", "wrong")
    status, _, err = _run(capsys, "disable", "com.example.hello")
    assert (status, len(err)) == (1, 1)
    assert err[0].startswith("mmplugin: error: cannot disable com.example.hello: the server refused the credentials")

    monkeypatch.delenv("MM_SERVICESETTINGS_SITEURL")
    status, _, err = _run(capsys, "enable", "com.example.hello")
    assert (status, len(err)) == (1, 1)
    assert err[0].startswith("mmplugin: error: no Mattermost server to talk to: set MM_SERVICESETTINGS_SITEURL")


def test_deploy_refuses_what_is_not_a_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "deploy", str(tmp_path / "nope")) == (
        1, [], [f"mmplugin: error: {tmp_path / 'nope'} does not exist",
                "hint: give a plugin directory or a .tar.gz bundle"])
    (tmp_path / "plugin.zip").write_bytes(b"PK")
    assert _run(capsys, "deploy", str(tmp_path / "plugin.zip")) == (
        1, [], [f"mmplugin: error: {tmp_path / 'plugin.zip'} is neither a plugin directory nor a .tar.gz bundle",
                "hint: build a bundle with: mmplugin bundle PLUGIN_DIR"])


def test_no_bundling_for_a_server_that_is_not_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    project = create_plugin("Weather Bot", tmp_path / "weather")
    monkeypatch.setenv("MM_LOCALSOCKETPATH", str(tmp_path / "absent.socket"))
    monkeypatch.delenv("MM_SERVICESETTINGS_SITEURL", raising=False)
    status, out, err = _run(capsys, "deploy", str(project.directory))
    assert (status, out, len(err)) == (1, [], 1)
    assert "no Mattermost server to talk to" in err[0]
    assert not (project.directory / "dist").exists()


@pytest.mark.parametrize("site", ["chat.example.com", "ftp://chat.example.com", "https://"])
def test_a_site_url_that_is_no_server_address_is_named(site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MM_LOCALSOCKETPATH", str(tmp_path / "absent.socket"))
    monkeypatch.setenv("MM_SERVICESETTINGS_SITEURL", site)
    monkeypatch.setenv("MM_ADMIN_TOKEN", "token")
    assert _run(capsys, "enable", "com.example.weather-bot") == (
        1, [], [f"mmplugin: error: MM_SERVICESETTINGS_SITEURL is {site.rstrip('/')!r}, not a server address "
                "like https://chat.example.com"])
