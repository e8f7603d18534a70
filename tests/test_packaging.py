"""mmplugin ships as one pure-Python wheel and runs on a pure-Python dependency tree."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import mmplugin

ROOT = Path(__file__).resolve().parent.parent
NATIVE = {"so", "pyd", "dylib", "dll"}  # extension modules and shared libraries, as name parts

# Compiled modules a runtime dependency may ship because nothing needs them, and why.
OPTIONAL_COMPILED = {
    "multidict._multidict": "a speed-up: multidict imports multidict._multidict_py instead on PyPy or "
                            "with MULTIDICT_NO_EXTENSIONS=1 (test_runs_with_multidict_in_pure_python)",
    "multidict._testcapi": "multidict's own test helper for its C API: no multidict module imports it, "
                           "and test_runs_with_multidict_in_pure_python sees no compiled module loaded",
}


def _is_native(filename: str) -> bool:
    """``_x.cpython-311-x86_64-linux-gnu.so``, ``_x.pyd``, ``libx.so.1`` and the like."""
    return bool(NATIVE & set(filename.rsplit("/", 1)[-1].split(".")[1:]))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
         str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("*.whl")
    return built


def _wheel_metadata(wheel: Path, name: str) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        (path,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}")]
        headers = HeaderParser().parsestr(archive.read(path).decode())
    return {key: headers.get_all(key) or [] for key in headers}


def test_the_wheel_is_pure_python(wheel: Path) -> None:
    assert wheel.name == f"mmplugin-{mmplugin.__version__}-py3-none-any.whl"
    info = _wheel_metadata(wheel, "WHEEL")
    assert info["Tag"] == ["py3-none-any"]
    assert info["Root-Is-Purelib"] == ["true"]


def test_the_wheel_holds_both_packages_and_nothing_compiled(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"mmplugin", "mmplugin_proto"}
    assert "mmplugin/wire/codec.py" in names
    assert "mmplugin_proto/mattermost/pluginapi/v1/__init__.py" in names
    assert "mmplugin_proto/py.typed" in names
    compiled = [n for n in names if _is_native(n) or n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    assert not compiled, f"compiled files in the wheel: {compiled}"


def test_the_wheel_requires_python_3_10(wheel: Path) -> None:
    assert _wheel_metadata(wheel, "METADATA")["Requires-Python"] == [">=3.10"]


def _runtime_distributions(name: str, extras: frozenset[str] = frozenset(),
                           seen: set[str] | None = None) -> Iterator[importlib.metadata.Distribution]:
    """``name`` and, recursively, every installed distribution its runtime requirements pull in."""
    seen = set() if seen is None else seen
    dist = importlib.metadata.distribution(name)
    key = canonicalize_name(dist.metadata["Name"])
    if key in seen:
        return
    seen.add(key)
    yield dist
    for line in dist.requires or []:
        requirement = Requirement(line)
        active = requirement.marker is None or any(
            requirement.marker.evaluate({"extra": extra}) for extra in extras | {""}
        )
        if active:
            yield from _runtime_distributions(requirement.name, frozenset(requirement.extras), seen)


def _compiled_modules(dist: importlib.metadata.Distribution) -> list[str]:
    """Dotted names of the compiled modules and libraries among the distribution's installed files."""
    return [".".join([*f.parent.parts, f.name.split(".")[0]]) for f in dist.files or [] if _is_native(f.name)]


def test_the_runtime_dependencies_need_no_compiled_code() -> None:
    closure = {d.metadata["Name"]: d for d in _runtime_distributions("mmplugin")}
    assert {"grpclib", "betterproto2", "h2", "multidict"} <= closure.keys()
    offending = [
        f"{name} ships the compiled module {module} and no pure-Python fallback"
        for name, dist in sorted(closure.items())
        for module in _compiled_modules(dist)
        if module not in OPTIONAL_COMPILED
    ]
    assert not offending, "\n".join(offending)


PROBE = """
import json, sys, sysconfig
from importlib.machinery import EXTENSION_SUFFIXES

# betterproto2 imports pydantic (compiled) when it happens to be installed, as FastAPI brings it
# into the test extras; it is no runtime dependency, so the probe runs as if it were absent.
sys.modules["pydantic"] = None

import multidict
from grpclib.metadata import decode_metadata, encode_metadata
from mmplugin.proto import pb, wkt
from mmplugin.wire.codec import decode, encode

post = pb.Post(id="p1", message="héllo", props=wkt.Struct(fields={"k": wkt.Value(string_value="v")}))
assert decode(pb.Post, encode(post)) == post
metadata = decode_metadata(encode_metadata([("x-id", "1"), ("x-id", "2"), ("x-bin", b"\\x00\\xff")]))
assert metadata.getall("x-id") == ["1", "2"] and metadata["x-bin"] == b"\\x00\\xff"

site = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
compiled = sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").endswith(tuple(EXTENSION_SUFFIXES))
    and any(module.__file__.startswith(path) for path in site)
)
print(json.dumps({"multidict": type(metadata).__module__, "compiled": compiled}))
"""


def _probe(**env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k != "MULTIDICT_NO_EXTENSIONS"} | env
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd="/",
                            env=environ, check=False)
    assert result.returncode == 0, result.stderr
    outcome: dict[str, object] = json.loads(result.stdout)
    return outcome


def test_runs_with_multidict_in_pure_python() -> None:
    assert _probe(MULTIDICT_NO_EXTENSIONS="1") == {"multidict": "multidict._multidict_py", "compiled": []}


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="multidict is pure Python off CPython")
def test_multidict_uses_its_extension_by_default() -> None:
    # The control for the test above: without the variable the extension is what loads.
    assert _probe() == {"multidict": "multidict._multidict", "compiled": ["multidict._multidict"]}
