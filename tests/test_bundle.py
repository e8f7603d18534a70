"""`mmplugin bundle`: a reproducible, safe archive that runs with only its vendored tree."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mmplugin.author.bundle import LAUNCHER, BundleError, build_bundle

PROBE = """\
import sys
import mmplugin, betterproto2, grpclib, multidict
from mmplugin.proto import pb, wkt
print(mmplugin.__file__)
print(grpclib.__file__)
print(betterproto2.__version__, "importlib.metadata" in sys.modules)
print(pb.Post(props=wkt.Struct()).props is not None, pb.Post.__module__)
"""


def _plugin(root: Path, requirements: str = "") -> Path:
    root.mkdir()
    manifest = {"id": "com.example.bundled", "name": "Bundled", "version": "0.3.0",
                "server": {"executable": "plugin.py", "runtime": "python"}}
    (root / "plugin.json").write_text(json.dumps(manifest))
    (root / "plugin.py").write_text(PROBE)
    (root / "assets").mkdir()
    (root / "assets" / "icon.svg").write_text("<svg/>")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "junk.pyc").write_bytes(b"x")
    if requirements:
        (root / "requirements.txt").write_text(requirements)
    return root


def test_bundle_is_reproducible_safe_and_self_contained(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path / "plugin")
    first = build_bundle(plugin, tmp_path / "a")
    second = build_bundle(plugin, tmp_path / "b")
    assert first.name == "com.example.bundled-0.3.0.tar.gz"
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_mode & 0o777 == 0o644

    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert all(n == "com.example.bundled" or n.startswith("com.example.bundled/") for n in names)
        assert not any(n.startswith("/") or ".." in n.split("/") for n in names)
        assert not any("__pycache__" in n for n in names)
        assert not any(n.endswith(".pyi") for n in names)  # stubs are for type checkers, not the server
        assert {m.mtime for m in tar.getmembers()} == {315532800}
        manifest = json.load(tar.extractfile("com.example.bundled/plugin.json"))  # type: ignore[arg-type]
        tar.extractall(tmp_path / "out", filter="data") if sys.version_info >= (3, 12) else tar.extractall(
            tmp_path / "out")
    assert manifest["server"]["executable"] == LAUNCHER
    assert "com.example.bundled/assets/icon.svg" in names
    assert "com.example.bundled/vendor/grpclib/__init__.py" in names
    assert "com.example.bundled/vendor/mmplugin_proto/mattermost/pluginapi/v1/__init__.py" in names

    # -S: no site-packages, so every import must come from the bundle's vendor tree.
    unpacked = tmp_path / "out" / "com.example.bundled"
    result = subprocess.run([sys.executable, "-S", LAUNCHER], cwd=unpacked, capture_output=True, text=True,
                            check=True, env={"PATH": "/usr/bin:/bin"})
    mm_file, grpclib_file, version_line, classes_line = result.stdout.splitlines()
    assert Path(mm_file).is_relative_to(unpacked / "vendor")
    assert Path(grpclib_file).is_relative_to(unpacked / "vendor")
    # betterproto2's version comes from its vendored .dist-info; the lazy classes load from the parts.
    assert version_line == f"{importlib.metadata.version('betterproto2')} False"
    assert classes_line == "True mmplugin_proto.mattermost.pluginapi.v1"


def test_a_compiled_only_dependency_is_refused_by_name(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path / "plugin", requirements="grpcio==1.85.3\n")
    with pytest.raises(BundleError, match=r"grpcio has no pure-Python wheel"):
        build_bundle(plugin, tmp_path / "dist")
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_missing_entry_script_is_named(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path / "plugin")
    (plugin / "plugin.py").unlink()
    with pytest.raises(BundleError, match=r"server\.executable: 'plugin\.py' does not exist"):
        build_bundle(plugin)
