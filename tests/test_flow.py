"""Flow control is per stream (mmplugin.wire.flow): data nobody reads yet holds back its own stream
only. Before, grpclib credited the shared connection window only on read, so 4 MiB unread on one
stream stopped every hook on the connection until its deadline."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

from host_support import FAST
from plugin_process import write_plugin

from mmplugin.host.supervisor import PluginSupervisor
from mmplugin.manifest import load_manifest
from mmplugin.proto import pb
from mmplugin.wire.flow import LoopTurns

MIB = 1 << 20

PLUGIN = """
    import asyncio

    import mmplugin
    from mmplugin.http import Response, StreamingResponse
    from mmplugin.proto import pb

    RELEASE = asyncio.Event()


    async def blocks(size):
        for _ in range(size // 65536):
            yield b"d" * 65536


    HELD = []


    async def watched(size):
        # Counts, for each chunk, whether other work had a turn since the one before.
        turns = 0

        async def tick():
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(tick())
        seen = None
        try:
            for _ in range(size // 65536):
                HELD.append(turns == seen)
                seen = turns
                yield b"w" * 65536
        finally:
            ticker.cancel()


    class Flow(mmplugin.Plugin):
        async def serve_http(self, plugin_context, request):
            if request.path == "/upload":  # reads its body only once released
                await RELEASE.wait()
                return Response(b"%d" % len(await request.body()))
            if request.path == "/echo":
                return StreamingResponse(request.stream(), flush=False)
            if request.path == "/watched":
                return StreamingResponse(watched(int(request.query["size"])), flush=False)
            if request.path == "/held":
                return Response(b"%d of %d" % (sum(HELD), len(HELD)))
            return StreamingResponse(blocks(int(request.query["size"])), flush=False)

        async def message_will_be_posted(self, plugin_context, post):
            return pb.Post(message=post.message + " ok")

        async def on_web_socket_connect(self, web_conn_id, user_id):
            RELEASE.set()


    mmplugin.run(Flow)
"""


class Sink:
    """A ServeHTTP response sink whose writes wait until ``release`` is set (a client not reading)."""

    def __init__(self, *, reading: bool = False) -> None:
        self.release = asyncio.Event()
        if reading:
            self.release.set()
        self.status = 0
        self.received = 0

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status

    async def write(self, data: bytes) -> None:
        await self.release.wait()
        self.received += len(data)


class Body(Sink):
    """A reading sink that keeps the body."""

    def __init__(self) -> None:
        super().__init__(reading=True)
        self.body = b""

    async def write(self, data: bytes) -> None:
        self.body += data
        await super().write(data)


async def upload(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // (64 * 1024)):
        yield b"u" * (64 * 1024)


async def test_unread_streams_in_either_direction_do_not_hold_back_hooks(tmp_path: Path) -> None:
    directory = write_plugin(tmp_path / "flow", PLUGIN)
    config = dataclasses.replace(FAST, hook_timeout=5.0)
    sup = PluginSupervisor(directory, load_manifest(directory), "127.0.0.1:9", config)
    await sup.start()
    try:
        hooks = sup.hooks
        assert hooks is not None
        # Plugin side: two 8 MiB uploads the handler has not started reading.
        readers = [Sink(reading=True), Sink(reading=True)]
        uploads = [asyncio.ensure_future(hooks.serve_http(
            pb.ServeHttpRequestInit(method="POST", url="/upload", content_length=8 * MIB), upload(8 * MIB), sink))
            for sink in readers]
        # Host side: two 16 MiB downloads whose HTTP client does not read.
        slow = [Sink(), Sink()]
        downloads = [asyncio.ensure_future(hooks.serve_http(
            pb.ServeHttpRequestInit(method="GET", url="/download?size=16777216"), None, sink)) for sink in slow]
        await asyncio.sleep(1.0)  # time for the windows to fill
        posted = await asyncio.gather(*(hooks.message_will_be_posted(pb.Post(message=f"m{n}")) for n in range(20)))
        assert posted == [(pb.Post(message=f"m{n} ok"), "") for n in range(20)]
        assert not any(task.done() for task in (*uploads, *downloads))
        await hooks.invoke("OnWebSocketConnect")
        for sink in slow:
            sink.release.set()
        assert await asyncio.gather(*uploads, *downloads) == [200] * 4
        assert [sink.received for sink in slow] == [16 * MIB] * 2
        assert [sink.received for sink in readers] == [len(b"8388608")] * 2
    finally:
        await sup.stop()


async def test_a_body_source_that_never_waits_still_leaves_the_loop_its_turns(tmp_path: Path) -> None:
    # A body iterator that never awaits (a buffered body) must not keep the event loop to itself
    # until the stream's 4 MiB window is full: each sender (host: request, plugin: response)
    # leaves a turn per 64 KiB chunk, so relays, hooks and other streams go on meanwhile.
    directory = write_plugin(tmp_path / "flow", PLUGIN)
    sup = PluginSupervisor(directory, load_manifest(directory), "127.0.0.1:9", FAST)
    await sup.start()
    turns = 0
    seen: list[int] = []

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async def eager(size: int) -> AsyncIterator[bytes]:
        for _ in range(size // (64 * 1024)):
            seen.append(turns)
            yield b"e" * (64 * 1024)

    ticker = asyncio.ensure_future(other_work())
    try:
        assert sup.hooks is not None
        sink = Sink(reading=True)
        init = pb.ServeHttpRequestInit(method="POST", url="/echo", content_length=16 * MIB)
        assert await sup.hooks.serve_http(init, eager(16 * MIB), sink) == 200
        assert sink.received == 16 * MIB
        held = [n for n, (before, after) in enumerate(itertools.pairwise(seen)) if after == before]
        assert not held, f"chunks sent without a turn for other work in between: {held[:10]}..."
        # The same on the plugin side, for a response body that never waits.
        download = pb.ServeHttpRequestInit(method="GET", url=f"/watched?size={16 * MIB}")
        assert await sup.hooks.serve_http(download, None, sink) == 200
        answer = Body()
        assert await sup.hooks.serve_http(pb.ServeHttpRequestInit(method="GET", url="/held"), None, answer) == 200
        assert answer.body == b"0 of 256"
    finally:
        ticker.cancel()
        await sup.stop()


async def test_a_sender_yields_once_per_threshold_of_bytes_not_per_message() -> None:
    turns = LoopTurns(100)
    loop = asyncio.get_running_loop()
    yielded = []
    for size in (40, 40, 30, 99, 1, 0):
        ran: list[bool] = []
        loop.call_soon(ran.append, True)  # runs only if sent() gives the loop a turn
        await turns.sent(size)
        yielded.append(bool(ran))
    assert yielded == [False, False, True, False, True, False]
