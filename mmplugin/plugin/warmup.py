"""Prepare the implemented hooks' message classes and codec functions once the plugin is serving.

Without it a hook's first call pays for them: MessageWillBePosted's request names 13 classes
(Post and every class its fields name), created together, and each message class met gets its
encoder or decoder generated and compiled, some 15 ms on the first post. The plugin is reachable
as soon as its handshake line is out, so this runs after it, as a background task taking one
step at a time (a hook's classes, then one class's codec) with a loop turn between steps: a call
arriving meanwhile waits for one step at most, and finds the work of the steps before done.
Only implemented hooks are prepared (the host calls no other), and for each the codecs of every
message class its request and response can hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from mmplugin.hooks import Hook

_log = logging.getLogger("mmplugin")


async def warm_up(hooks: Iterable[Hook]) -> None:
    """Create ``hooks``' message classes and generate their codecs, yielding to the loop between steps.

    A failure is logged at debug level and ends the warm-up: the hook's first call meets the same
    problem and reports it properly.
    """
    from mmplugin.wire.compiler import prepare  # loaded after the handshake, like any codec use

    try:
        for hook in hooks:
            await asyncio.sleep(0)
            request, response = hook.request, hook.response
            for _ in prepare(request, "decode"):
                await asyncio.sleep(0)
            for _ in prepare(response, "encode"):
                await asyncio.sleep(0)
    except Exception as exc:
        _log.debug("preparing the hooks' message classes stopped: %s", exc)
