"""A Starlette app mounted unchanged as a plugin's HTTP handler (``/plugins/com.example.starlette/``).

- ``GET /`` says who is asking (the host sets ``Mattermost-User-Id`` for logged-in users);
- ``POST /notes`` stores a JSON note in the plugin's KV store, ``GET /notes/{key}`` reads it back;
- ``GET /countdown`` streams server-sent events, each flushed to the browser as it is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

import mmplugin
from mmplugin.http import ASGIApp


class StarlettePlugin(mmplugin.Plugin):
    def asgi_app(self) -> ASGIApp:
        async def whoami(request: Request) -> Response:
            user_id = request.headers.get("mattermost-user-id")
            return PlainTextResponse(f"hello {user_id}" if user_id else "hello stranger")

        async def save_note(request: Request) -> Response:
            note = await request.json()
            await self.api.kv_set_json(f"note:{note['key']}", note)
            return JSONResponse({"saved": note["key"], "url": str(request.url_for("note", key=note["key"]))})

        async def read_note(request: Request) -> Response:
            note = await self.api.kv_get_json(f"note:{request.path_params['key']}")
            return JSONResponse(note) if note is not None else PlainTextResponse("no such note", status_code=404)

        async def countdown(request: Request) -> Response:
            async def events() -> AsyncIterator[str]:
                for n in range(int(request.query_params.get("from", "3")), 0, -1):
                    yield f"data: {n}\n\n"
                    await asyncio.sleep(0.05)
            return StreamingResponse(events(), media_type="text/event-stream")

        return Starlette(routes=[
            Route("/", whoami),
            Route("/notes", save_note, methods=["POST"]),
            Route("/notes/{key}", read_note, name="note"),
            Route("/countdown", countdown),
        ])


if __name__ == "__main__":
    mmplugin.run(StarlettePlugin)
