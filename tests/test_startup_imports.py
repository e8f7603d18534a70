"""What ``import mmplugin`` loads: the plugin runtime, not the API client or the codec compiler until used,
and not importlib.metadata (betterproto2's version comes from its dist-info)."""

from __future__ import annotations

import importlib.metadata

from fresh_python import run_python


def test_the_api_client_loads_on_first_use_and_its_name_works_before() -> None:
    code = ("import sys, mmplugin, mmplugin.http\n"
            "print('mmplugin.api' in sys.modules)\n"
            "print(mmplugin.api.NotFoundError.__module__, 'mmplugin.api' in sys.modules)\n"
            "try:\n"
            "    mmplugin.nope\n"
            "except AttributeError as exc:\n"
            "    print(exc)\n")
    assert run_python(code).splitlines() == ["False", "mmplugin.api.errors True",
                                             "module 'mmplugin' has no attribute 'nope'"]


def test_importing_mmplugin_leaves_importlib_metadata_alone() -> None:
    code = ("import sys, mmplugin, mmplugin.http, betterproto2; "
            "print('importlib.metadata' in sys.modules, betterproto2.__version__)")
    assert run_python(code).split() == ["False", importlib.metadata.version("betterproto2")]


def test_the_codec_compiler_loads_at_the_first_message() -> None:
    code = ("import sys, mmplugin, mmplugin.http, mmplugin.plugin.server\n"
            "from mmplugin.wire.codec import decode, encode\n"
            "from mmplugin.proto import pb\n"
            "print('mmplugin.wire.compiler' in sys.modules, 'mmplugin.wire.schema' in sys.modules)\n"
            "print(decode(pb.KvSetRequest, encode(pb.KvSetRequest(key='k'))).key)\n"
            "print('mmplugin.wire.compiler' in sys.modules)\n")
    assert run_python(code).splitlines() == ["False False", "k", "True"]


def test_no_collection_runs_while_mmplugin_loads_and_its_objects_are_frozen() -> None:
    code = ("import gc\n"
            "passes = sum(s['collections'] for s in gc.get_stats())\n"
            "import mmplugin, mmplugin.http\n"
            "print(sum(s['collections'] for s in gc.get_stats()) - passes, gc.isenabled(),\n"
            "      gc.get_freeze_count() > 10_000)\n")
    passes, enabled, frozen = run_python(code).split()
    # Loading mmplugin/__init__ itself, before the pause, may take one; without the pause some 50 run.
    assert int(passes) <= 1
    assert (enabled, frozen) == ("True", "True")


def test_a_collector_the_importer_turned_off_stays_off() -> None:
    assert run_python("import gc; gc.disable(); import mmplugin; print(gc.isenabled())").split() == ["False"]
