"""The mmplugin stack's benchmark plugin: an ordinary ``mmplugin.Plugin``, run by ``mmplugin.run``.

- MessageWillBePosted looks at the text and one prop, then allows the post (returns None);
- ExecuteCommand ``/bench-api METHOD CALLS WARMUP USER_ID`` times PluginAPI calls through
  ``self.api`` and answers the samples as JSON (the API workload is timed inside the plugin);
- ServeHTTP (``serve_http``, streamed by ``mmplugin.http``): ``/echo`` streams the body back as it
  reads it, ``/download`` streams ``size`` bytes, ``/small`` answers 1 KiB.

``MMPLUGIN_BENCH_LOOP=uvloop`` runs it on uvloop. With ``MMPLUGIN_BENCH_PROFILE=FILE``, SIGUSR1
starts a cProfile of the process and SIGUSR2 writes it to FILE (``benchmarks/profile_hook.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import ClassVar

import workload

import mmplugin
from mmplugin import Plugin
from mmplugin.http import Request, Response, StreamingResponse
from mmplugin.proto import pb


class BenchPlugin(Plugin):
    hook_timeout: ClassVar[float] = 600.0

    async def message_will_be_posted(self, plugin_context: pb.PluginContext, post: pb.Post) -> None:
        prop = post.props.fields.get("from_webhook") if post.props is not None else None
        if not workload.allows(post.message, prop.string_value if prop is not None else ""):
            raise AssertionError("the benchmark post is always allowed")

    async def execute_command(self, plugin_context: pb.PluginContext,
                              args: pb.CommandArgs) -> pb.CommandResponse:
        from measure import measure_calls

        run = workload.ApiRun.parse(args.command)
        api = self.api
        calls = {
            "GetUser": lambda: api.get_user(user_id=run.user_id),
            "KVSet": lambda: api.kv_set(key=workload.KV_KEY, value=workload.KV_VALUE),
            "KVGet": lambda: api.kv_get(key=workload.KV_KEY),
        }
        timed = await measure_calls(calls[run.method], run.calls, run.warmup, 1)
        return pb.CommandResponse(text=json.dumps(timed.as_json()))

    async def serve_http(self, plugin_context: pb.PluginContext,
                         request: Request) -> Response | StreamingResponse:
        octets = {"Content-Type": "application/octet-stream"}
        if request.path == workload.ECHO_PATH:
            return StreamingResponse(request.stream(), headers=octets, flush=False)
        if request.path == workload.DOWNLOAD_PATH:
            size = workload.download_size(request.url)
            return StreamingResponse(_download(size), headers=octets, flush=False)
        if request.path == workload.SMALL_PATH:
            return Response(workload.SMALL_BODY, headers=octets)
        return Response(b"not found", status=404)


async def _download(size: int) -> AsyncIterator[bytes]:
    for piece in workload.pieces(size):
        yield piece


def _profile_on_signals(path: str) -> None:
    """SIGUSR1 starts a cProfile of this process, SIGUSR2 stops it and writes it to ``path``."""
    import cProfile
    import signal

    profiler = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, lambda *_: (profiler.disable(), profiler.dump_stats(path)))


if __name__ == "__main__":
    if os.environ.get("MMPLUGIN_BENCH_LOOP") == "uvloop":
        import asyncio

        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if os.environ.get("MMPLUGIN_BENCH_PROFILE"):
        _profile_on_signals(os.environ["MMPLUGIN_BENCH_PROFILE"])
    mmplugin.run(BenchPlugin)
