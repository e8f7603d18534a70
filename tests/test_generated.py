"""generated/ is what the pinned compiler makes of protos/, and ships inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fresh_python import run_python

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "generated" / "regenerate.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, (
        "generated/ is stale; run `python generated/regenerate.py`:\n" + result.stdout + result.stderr
    )


def test_generated_messages_import_from_the_installed_package() -> None:
    out = run_python("from mmplugin.proto import pb, wkt, health, goplugin; print(pb.Post.__module__)")
    assert out.strip() == "mmplugin_proto.mattermost.pluginapi.v1"


def test_the_api_module_creates_a_class_and_the_classes_it_names_on_first_use() -> None:
    out = run_python("""
        import pickle, typing
        import mmplugin
        from mmplugin.proto import pb, message_class, wkt

        def created():
            return {name for name in vars(pb) if name in pb.__all__}

        at_start = created()
        print(len(at_start) < 100, "Post" in at_start, "GetUserRequest" in at_start,
              any(name in vars(wkt) for name in wkt.__all__))
        post = pb.Post(message="hi", participants=[pb.User(username="ann")])
        hints = typing.get_type_hints(pb.Post)  # every type a field names is there to resolve
        print(hints["metadata"], hints["participants"])
        print({"Post", "User", "PostMetadata"} <= created(), "GetUserRequest" in created())
        print(pickle.loads(pickle.dumps(post)) == post, pb.Post.__qualname__, pb.Post.__module__)
        print(message_class("mattermost.pluginapi.v1.ServeHTTPRequest") is pb.ServeHttpRequest,
              message_class("google.protobuf.Struct") is wkt.Struct)
        try:
            pb.Nope
        except AttributeError as exc:
            print(exc)
        try:
            message_class("mattermost.pluginapi.v1.Nope")
        except KeyError as exc:
            print(exc)
    """).splitlines()
    assert out == [
        "True False False False",
        "mmplugin_proto.mattermost.pluginapi.v1.PostMetadata | None "
        "list[mmplugin_proto.mattermost.pluginapi.v1.User]",
        "True False",
        "True Post mmplugin_proto.mattermost.pluginapi.v1",
        "True True",
        "module 'mmplugin_proto.mattermost.pluginapi.v1' has no attribute 'Nope'",
        "\"no generated message class for 'mattermost.pluginapi.v1.Nope'\"",
    ]


def test_threads_naming_classes_at_once_get_one_class_each() -> None:
    out = run_python("""
        import sys, threading, typing
        from mmplugin.proto import pb

        sys.setswitchinterval(1e-6)  # threads swap often, in the middle of creating a class
        barrier = threading.Barrier(4)
        seen, failures = [], []

        def name_all(names):
            barrier.wait()
            try:
                classes = {name: getattr(pb, name) for name in names}
                for cls in classes.values():  # what a named class names is there too
                    typing.get_type_hints(cls)
                seen.append(classes)
            except Exception as exc:  # a class created twice is refused by the message pool
                failures.append(repr(exc))

        orders = [pb.__all__, pb.__all__[::-1]] * 2
        threads = [threading.Thread(target=name_all, args=(order,)) for order in orders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(failures, len(seen), all(s == seen[0] for s in seen))
    """)
    assert out.strip() == "[] 4 True"


@pytest.mark.parametrize("module", ["pb", "wkt"])
def test_the_lazy_module_defines_what_the_compiler_wrote(module: str) -> None:
    # The .pyi is the compiler's text: run it as the module would be, and compare every class.
    out = run_python(f"""
        import dataclasses, enum, re
        from pathlib import Path
        from mmplugin.proto import all_message_classes, {module} as module

        def shape(cls):
            if issubclass(cls, enum.Enum):
                return [(m.name, m.value) for m in cls]
            if dataclasses.is_dataclass(cls):
                # unwrap lambdas differ by qualname: compare what they return
                return [(f.name, f.type, re.sub(" at 0x[0-9a-f]+|<function [^ ]*", "", repr(f.metadata)),
                         f.metadata["betterproto"].unwrap and f.metadata["betterproto"].unwrap().__name__)
                        for f in dataclasses.fields(cls)]
            return sorted(name for name in vars(cls) if not name.startswith("__"))

        lazy = {{name: shape(getattr(module, name)) for name in module.__all__}}
        from betterproto2.message_pool import MessagePool

        text = Path(module.__file__).with_suffix(".pyi").read_text()
        text = re.sub(r"from \\.+message_pool import default_message_pool", "", text)  # a pool of its own
        namespace = {{"__name__": module.__name__, "__package__": module.__name__,
                      "default_message_pool": MessagePool()}}
        exec(compile(text, "stub", "exec"), namespace)
        eager = {{name: shape(namespace[name]) for name in module.__all__}}
        print(len(lazy), lazy == eager, len(all_message_classes()))
    """)
    count, same, registered = out.split()
    assert int(count) == {"pb": 654, "wkt": 14}[module]
    assert same == "True"
    assert int(registered) == 667


def test_a_missing_part_file_is_named(tmp_path: Path) -> None:
    # A damaged install: the module still imports, and naming a class of the lost part says which file.
    shutil.copytree(ROOT / "generated" / "mmplugin_proto", tmp_path / "mmplugin_proto",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "mmplugin_proto" / "mattermost" / "pluginapi" / "v1" / "_classes_00.py").unlink()
    code = """
        from mmplugin_proto.mattermost.pluginapi import v1
        first = next(name for name, part in v1._PARTS.items() if part == 0)
        later = next(name for name, part in v1._PARTS.items() if part == 1 and not v1._NEEDS[name])
        print(getattr(v1, later).__name__ == later)
        try:
            getattr(v1, first)
        except ImportError as exc:
            print(exc)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=False)
    assert result.returncode == 0, result.stderr
    available, error = result.stdout.splitlines()
    assert available == "True"
    assert error.startswith("mmplugin_proto.mattermost.pluginapi.v1._classes_00: the part file holding ")
    assert error.endswith(" is missing")
