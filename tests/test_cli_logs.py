"""`mmplugin logs ID [--follow]`: each plugin line printed once, readable, until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_mattermost import FakeMattermost, serve_tcp
from hypothesis import given
from hypothesis import strategies as st

from mmplugin.cli import main
from mmplugin.cli.logs import new_lines, render

PLUGIN = "com.example.hello"


def _line(message: str, plugin_id: str = PLUGIN, **fields: object) -> str:
    return json.dumps({"timestamp": "2025-03-01 10:00:00.000 Z", "level": "info", "msg": message,
                       "caller": "app/plugin_api.go:1003", "plugin_id": plugin_id, **fields})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeMattermost]:
    """The fake server, with the environment (inherited by subprocesses) pointing at it."""
    fake = FakeMattermost()
    http, url = serve_tcp(fake)
    monkeypatch.setenv("MM_LOCALSOCKETPATH", str(tmp_path / "absent.socket"))
    monkeypatch.setenv("MM_SERVICESETTINGS_SITEURL", url)
    monkeypatch.setenv("MM_ADMIN_TOKEN", "admin-token")
    yield fake
    http.shutdown()
    http.server_close()


@pytest.mark.parametrize(("previous", "current", "new"), [
    ([], ["a", "b"], ["a", "b"]),
    (["a", "b"], ["a", "b"], []),
    (["a", "b"], ["a", "b", "c"], ["c"]),
    (["a", "b", "c"], ["b", "c", "d", "e"], ["d", "e"]),
    (["a", "b"], ["x", "y"], ["x", "y"]),
    (["a", "b"], [], []),
])
def test_new_lines_of_a_sliding_window(previous: list[str], current: list[str], new: list[str]) -> None:
    assert new_lines(previous, current) == new


@given(st.lists(st.integers(), unique=True, max_size=30), st.integers(0, 30), st.integers(0, 10))
def test_new_lines_finds_exactly_the_appended_lines(lines: list[int], dropped: int, added: int) -> None:
    # Server log lines carry timestamps, so a window's lines are distinct.
    text = [str(n) for n in lines]
    previous, appended = text[:len(text) - min(added, len(text))], text[len(text) - min(added, len(text)):]
    current = previous[min(dropped, len(previous)):] + appended
    assert new_lines(previous, current) == appended


def test_render_makes_json_lines_readable() -> None:
    assert render(_line("hook failed", hook="OnActivate", error="boom: it broke")) == (
        '2025-03-01 10:00:00.000 Z info  hook failed hook=OnActivate error="boom: it broke"')
    assert render("plain text line") == "plain text line"
    assert render(_line("x"), raw=True) == _line("x")


def test_logs_prints_the_plugins_lines(fake: FakeMattermost,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fake.behaviour.logs = [_line("one"), _line("other plugin", plugin_id="com.example.other"), _line("two")]
    assert main(["logs", PLUGIN]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" info  ")[1] for line in out] == ["one", "two"]
    assert main(["logs", PLUGIN, "--json"]) == 0
    assert capsys.readouterr().out.splitlines() == [_line("one"), _line("two")]

    fake.behaviour.logs = []
    assert main(["logs", PLUGIN]) == 0
    assert capsys.readouterr().err == f"no lines from {PLUGIN} in the server's latest log page\n"


def test_follow_prints_each_new_line_once(fake: FakeMattermost,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c = _line("a"), _line("b"), _line("c")
    fake.behaviour.log_pages = [[a], [a, b], [b, c]]  # the server's window slides as the log grows
    assert main(["logs", PLUGIN, "--follow", "--json", "--interval", "0", "--max-polls", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == [a, b, c]
    assert len([r for r in fake.received if r.path.startswith("/api/v4/logs")]) == 4


async def test_follow_ends_cleanly_on_ctrl_c(fake: FakeMattermost) -> None:
    fake.behaviour.logs = [_line("started")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "logs", PLUGIN, "--follow", "--interval", "0.2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert first.decode().rstrip("\n").endswith("info  started")
    fake.behaviour.logs = [_line("started"), _line("later")]
    second = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert second.decode().rstrip("\n").endswith("info  later")
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert (proc.returncode, out, err) == (0, b"", b"")
