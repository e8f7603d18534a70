"""The background preparation of the implemented hooks (mmplugin.plugin.warmup) and the compiler
walk it uses; the plugin process side is in test_plugin_hooks.py."""

from __future__ import annotations

import logging

import pytest
from fresh_python import run_python

from mmplugin.hooks import HOOKS_BY_NAME
from mmplugin.plugin.warmup import warm_up


class BrokenHook:
    name = "Broken"

    @property
    def request(self) -> type:
        raise RuntimeError("no such class")


async def test_a_failing_step_ends_the_warm_up_with_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="mmplugin"):
        await warm_up([BrokenHook(), HOOKS_BY_NAME["OnActivate"]])  # type: ignore[list-item]
    assert [r.getMessage() for r in caplog.records] == [
        "preparing the hooks' message classes stopped: no such class"]


def test_prepare_generates_each_reachable_class_once_and_skips_what_is_done() -> None:
    code = ("from mmplugin.proto import pb, wkt\n"
            "from mmplugin.wire.codec import decode\n"
            "from mmplugin.wire.compiler import prepare\n"
            "decode(wkt.Struct, b'')\n"
            "done = [c.__name__ for c in prepare(pb.MessageWillBePostedRequest, 'decode')]\n"
            "print(' '.join(done))\n"
            "print(len(list(prepare(pb.MessageWillBePostedRequest, 'decode'))))\n"
            "print(' '.join(c.__name__ for c in prepare(pb.MessageWillBePostedResponse, 'encode')))\n")
    decoders, again, encoders = run_python(code).splitlines()
    # Struct's decoder was made by the decode above; Value and ListValue, which it names, were not.
    assert sorted(decoders.split()) == sorted([
        "MessageWillBePostedRequest", "Post", "PostMetadata", "PostAcknowledgement", "PostPriority", "PostImage",
        "FileInfo", "Reaction", "PostEmbed", "Value", "ListValue", "User", "PluginContext", "RequestContext"])
    assert again == "0"
    assert encoders.split()[0] == "MessageWillBePostedResponse"
    assert {"Post", "Struct", "Value", "User"} <= set(encoders.split())
