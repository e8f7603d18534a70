"""``mmplugin run`` as a real subprocess: progress, HTTP through the front, admin endpoints, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from host_support import alive, make_plugin, starts

from mmplugin.cli.run import _listen


async def _line_with(stream: asyncio.StreamReader, text: str, seen: list[str]) -> str:
    while True:
        raw = await asyncio.wait_for(stream.readline(), 30)
        if not raw:
            raise AssertionError(f"output ended before {text!r}: {seen}")
        line = raw.decode()
        seen.append(line)
        if text in line:
            return line


def test_the_front_socket_accepts_connections_before_the_server_runs() -> None:
    # `mmplugin run` prints "serving on" before uvicorn has started: a client that connects at once
    # must wait in the backlog, not be refused.
    sock = _listen(0)
    try:
        with socket.create_connection(sock.getsockname(), timeout=5):
            pass
    finally:
        sock.close()


async def test_run_serves_a_plugin_and_stops_on_sigint(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.cli", {"command": "hello", "append": " [cli]"})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(directory), "--port", "0", "--token", "tok",
        "--python", sys.executable, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        await _line_with(proc.stdout, "starting plugin com.example.cli", seen)
        serving = await _line_with(proc.stdout, "serving on", seen)
        url = serving.split()[2]
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            echo = await client.get("/plugins/com.example.cli/echo?x=1", headers={"Authorization": "Bearer tok"})
            assert echo.status_code == 200
            assert echo.json()["url"] == "/echo?x=1"
            assert len(echo.json()["headers"]["Mattermost-User-Id"][0]) == 26

            posted = await client.post("/_mmplugin/posts", json={"message": "hi"})
            assert posted.status_code == 201
            assert posted.json()["message"] == "hi [cli]"
            command = await client.post("/_mmplugin/commands", json={"command": "/hello there"})
            assert command.json()["results"] == [
                {"plugin_id": "com.example.cli", "response": {"text": "com.example.cli ran /hello there"},
                 "error": None}]
            plugins = (await client.get("/_mmplugin/plugins")).json()
            assert [(p["id"], p["state"]) for p in plugins] == [("com.example.cli", "running")]
            metrics = (await client.get("/metrics")).text
            assert 'mmplugin_hook_calls_total{hook="ExecuteCommand",plugin_id="com.example.cli"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines()[-2:] == ["stopping plugins ...", "stopped"]
    assert (directory / "deactivated").exists(), "OnDeactivate ran"
    assert starts(directory)
    assert all(not alive(pid) for pid in starts(directory))


async def test_run_reports_a_bad_plugin_in_one_line(tmp_path: Path) -> None:
    directory = make_plugin(tmp_path, "com.example.broken", {"handshake": "exit"})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(directory), "--port", "0", "--python", sys.executable,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    lines = err.decode().splitlines()
    errors = [line for line in lines if line.startswith("mmplugin: error:")]
    assert errors == ["mmplugin: error: plugin 'com.example.broken' exited before printing its handshake line "
                      "(exit status 3)"]
    assert not any(line.startswith("Traceback") for line in lines), "no traceback of the host itself"
    assert lines[1:] == ["  last stderr lines:", "    Traceback (most recent call last):",
                         "    ModuleNotFoundError: No module named 'missing'"]


async def test_run_rejects_a_bad_manifest(tmp_path: Path) -> None:
    (tmp_path / "plugin.json").write_text(json.dumps({"id": "x", "name": "too short an id"}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(tmp_path), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().startswith("mmplugin: error: ")
    assert "plugin.json: id:" in err.decode()
    assert len(err.decode().splitlines()) == 1


@pytest.mark.parametrize("kind", ["not a database", "in a missing directory"])
async def test_run_refuses_a_kv_database_it_cannot_use(tmp_path: Path, kind: str) -> None:
    directory = make_plugin(tmp_path, "com.example.kv")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 10)
    path = notes if kind == "not a database" else tmp_path / "missing" / "kv.sqlite"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(directory), "--port", "0", "--kv-db", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    reason = "file is not a database" if kind == "not a database" else "unable to open database file"
    assert err.decode().splitlines() == [f"mmplugin: error: cannot use {path} as the KV database: {reason}"]
    assert b"starting plugin" not in out  # refused before any plugin started
    assert notes.read_text() == "my notes, not a database\n" * 10
    assert not (tmp_path / "missing").exists()
