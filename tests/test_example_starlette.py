"""examples/starlette_app: a Starlette app served unchanged through ServeHTTP under `mmplugin run`."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "starlette_app"
PREFIX = "/plugins/com.example.starlette"


async def test_starlette_app_under_mmplugin_run() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmplugin.cli", "run", str(EXAMPLE), "--port", "0", "--token", "tok",
        "--python", sys.executable, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        while "serving on" not in (line := (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()):
            assert line, "mmplugin run stopped before serving"
        url = line.split()[2]
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": "Bearer tok"}) as client:
            who = await client.get(f"{PREFIX}/")
            assert who.status_code == 200
            assert who.text.startswith("hello ")
            assert who.text != "hello stranger"
            saved = await client.post(f"{PREFIX}/notes", json={"key": "k1", "text": "remember"})
            assert saved.json() == {"saved": "k1", "url": f"{url}{PREFIX}/notes/k1"}
            note = await client.get(f"{PREFIX}/notes/k1")
            assert note.json() == {"key": "k1", "text": "remember"}
            assert (await client.get(f"{PREFIX}/notes/nope")).status_code == 404
            async with client.stream("GET", f"{PREFIX}/countdown?from=3") as events:
                data = [line async for line in events.aiter_lines() if line]
            assert data == ["data: 3", "data: 2", "data: 1"]
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
