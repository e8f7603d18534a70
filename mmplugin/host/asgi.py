"""The ASGI vocabulary the host's HTTP front uses, and small helpers to answer with it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_JSON_BODY = 1024 * 1024


async def respond(send: Send, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
    """Send a complete response."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def respond_json(send: Send, status: int, document: Any) -> None:
    await respond(send, status, json.dumps(document, default=str).encode(), "application/json")


async def read_body(receive: Receive, limit: int = MAX_JSON_BODY) -> bytes | None:
    """The whole request body, or None if the client went away or sent more than ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send", "read_body", "respond", "respond_json"]
