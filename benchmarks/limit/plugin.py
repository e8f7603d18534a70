"""The limit stack's plugin: a plain asyncio server of frames (:mod:`limit.frames`), nothing else.

Launched like a plugin (cookie, handshake line); answers each call with the bytes the host set up,
echoes streams, sends downloads, and times API runs against the host's frame server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import workload

from limit.frames import FrameClient, Kind, listener, serve_connection


class ApiRunner:
    def __init__(self) -> None:
        self._client: FrameClient | None = None

    async def __call__(self, payload: bytes) -> bytes:
        from measure import measure_calls

        order = json.loads(payload)
        if self._client is None:
            self._client = await FrameClient.connect(os.environ[workload.API_TARGET_ENV])
        client, request, index = self._client, bytes.fromhex(order["request"]), order["index"]
        timed = await measure_calls(lambda: client.call(Kind.CALL, request, index),
                                    order["calls"], order["warmup"], 1)
        return json.dumps(timed.as_json()).encode()


async def serve() -> None:
    replies: list[bytes] = []
    api_run = ApiRunner()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, replies, api_run)

    sock = listener()
    server = await asyncio.start_server(connection, sock=sock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(workload.handshake_line(sock.getsockname()[1]))
    sys.stdout.flush()
    await stop.wait()
    server.close()


if __name__ == "__main__":
    workload.check_cookie()
    asyncio.run(serve())
