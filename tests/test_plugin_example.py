"""examples/hello, the README's main job: `mmplugin run examples/hello` serving it on localhost.

A real plugin process under the real host: slash command registered through the API, hooks fired
through the admin endpoints, HTTP through the front (text, a streamed echo, server-sent events).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello"
PREFIX = "/plugins/com.example.hello"


async def _line_with(stream: asyncio.StreamReader, text: str) -> str:
    while True:
        raw = await asyncio.wait_for(stream.readline(), 60)
        if not raw:
            raise AssertionError(f"mmplugin run stopped before printing {text!r}")
        if text in raw.decode():
            return raw.decode()


async def test_hello_under_mmplugin_run() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(HELLO), "--port", "0", "--token", "tok",
        "--python", sys.executable, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        url = (await _line_with(proc.stdout, "serving on")).split()[2]
        auth = {"Authorization": "Bearer tok"}
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            hello = await client.get(f"{PREFIX}/hello", headers=auth)
            assert (hello.status_code, hello.text) == (200, "Hello, admin!")
            anonymous = await client.get(f"{PREFIX}/hello", headers={"Mattermost-User-Id": "spoofed"})
            assert anonymous.status_code == 401

            body = os.urandom(1024 * 1024 + 7)
            echo = await client.post(f"{PREFIX}/echo", content=body, headers=auth)
            assert echo.status_code == 200
            assert echo.content == body

            async with client.stream("GET", f"{PREFIX}/ticks?n=3", headers=auth) as events:
                assert events.headers["content-type"] == "text/event-stream"
                lines = [line async for line in events.aiter_lines() if line]
            assert lines == ["data: tick 0", "data: tick 1", "data: tick 2"]

            rejected = await client.post("/_mmplugin/posts", json={"message": "buy spam now"})
            assert rejected.status_code == 400
            assert "not allowed" in rejected.text
            shouted = await client.post("/_mmplugin/posts", json={"message": "shout: quiet please"})
            assert shouted.json()["message"] == "QUIET PLEASE"
            command = await client.post("/_mmplugin/commands", json={"command": "/hello Ann"})
            assert command.json()["results"] == [
                {"plugin_id": "com.example.hello",
                 "response": {"response_type": "ephemeral", "text": "Hello, Ann!"}, "error": None}]
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "hello plugin activated" in err.decode()
