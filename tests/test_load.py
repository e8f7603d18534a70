"""Load on one real plugin process through the host's adapter: 1,000 hook calls and 200 ServeHTTP
streams, all open at the same time (each handler waits until every one of them has arrived), all
answered without an error. Correctness under concurrency, not speed: nothing here is timed."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

from host_support import FAST
from plugin_process import write_plugin

from mmplugin.host.supervisor import PluginSupervisor
from mmplugin.manifest import load_manifest
from mmplugin.proto import pb

HOOK_CALLS = 1000
STREAMS = 200
BODY = 256 * 1024  # per stream, sent in 64 KiB chunks and echoed back

LOAD = f"""
    import asyncio

    import mmplugin
    from mmplugin.http import StreamingResponse
    from mmplugin.proto import pb


    class Gate:
        '''Opens once `count` callers are waiting in it: proof that they all ran at the same time.'''

        def __init__(self, count):
            self.count = count
            self.arrived = 0
            self.open = asyncio.Event()

        async def wait(self):
            self.arrived += 1
            if self.arrived >= self.count:
                self.open.set()
            await asyncio.wait_for(self.open.wait(), 60)


    POSTS = Gate({HOOK_CALLS})
    STREAMS = Gate({STREAMS})


    class Load(mmplugin.Plugin):
        hook_timeout = 90.0

        async def message_will_be_posted(self, plugin_context, post):
            await POSTS.wait()
            return pb.Post(message=post.message + " seen")

        async def serve_http(self, plugin_context, request):
            await STREAMS.wait()
            return StreamingResponse(request.stream(), flush=False)


    mmplugin.run(Load)
"""


class Collect:
    """A ServeHTTP response sink that keeps the status and a digest of the body."""

    def __init__(self) -> None:
        self.status = 0
        self.digest = hashlib.sha256()
        self.length = 0

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status

    async def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.length += len(data)


async def body(seed: int) -> AsyncIterator[bytes]:
    block = bytes([seed % 256]) * (64 * 1024)
    for _ in range(BODY // len(block)):
        yield block


async def test_1000_hook_calls_and_200_http_streams_at_once(tmp_path: Path) -> None:
    directory = write_plugin(tmp_path / "load", LOAD)
    sup = PluginSupervisor(directory, load_manifest(directory), "127.0.0.1:9", FAST)
    await sup.start()
    try:
        hooks = sup.hooks
        assert hooks is not None
        hooks.timeout = 90.0
        posts = [hooks.message_will_be_posted(pb.Post(message=f"post {n}")) for n in range(HOOK_CALLS)]
        sinks = [Collect() for _ in range(STREAMS)]
        streams = [hooks.serve_http(pb.ServeHttpRequestInit(method="POST", url=f"/echo/{n}", content_length=BODY),
                                    body(n), sinks[n]) for n in range(STREAMS)]
        results = await asyncio.gather(*posts, *streams)
    finally:
        await sup.stop()
    assert results[:HOOK_CALLS] == [(pb.Post(message=f"post {n} seen"), "") for n in range(HOOK_CALLS)]
    assert results[HOOK_CALLS:] == [200] * STREAMS
    for n, sink in enumerate(sinks):
        assert sink.length == BODY
        assert sink.digest.hexdigest() == hashlib.sha256(bytes([n % 256]) * BODY).hexdigest()
    timings = sup.timings.snapshot()
    assert (timings["com.example.test", "MessageWillBePosted"].count,
            timings["com.example.test", "MessageWillBePosted"].errors) == (HOOK_CALLS, 0)
    assert (timings["com.example.test", "ServeHTTP"].count, timings["com.example.test", "ServeHTTP"].errors) == (
        STREAMS, 0)
