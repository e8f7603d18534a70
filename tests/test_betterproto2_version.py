"""betterproto2 gets its version from the dist-info folder, without importing importlib.metadata
(that ``import mmplugin`` leaves it unloaded is in ``test_startup_imports.py``)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

import betterproto2
import pytest

from mmplugin import _betterproto2_version as version


def _package_dir() -> Path:
    """Where the installed betterproto2 package is."""
    spec = importlib.util.find_spec("betterproto2")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).parent


def test_the_version_is_the_one_importlib_metadata_reads() -> None:
    assert version.installed_version(str(_package_dir().parent)) == importlib.metadata.version("betterproto2")
    assert betterproto2.__version__ == importlib.metadata.version("betterproto2")


def _betterproto2_own_check() -> object:
    """betterproto2's own ``_version`` module, loaded from its file under another name."""
    own = importlib.util.spec_from_file_location("_own_version", _package_dir() / "_version.py")
    assert own is not None
    assert own.loader is not None
    module = importlib.util.module_from_spec(own)
    own.loader.exec_module(module)
    return module


@pytest.mark.parametrize("compiler", ["0.10.0", "0.10.1", "0.10.99", "0.9.1", "0.11.0", "1.10.0"])
def test_the_compiler_check_agrees_with_betterproto2(compiler: str) -> None:
    own = _betterproto2_own_check()
    library = own.__version__  # type: ignore[attr-defined]

    def outcome(check: object) -> str:
        try:
            check(compiler)  # type: ignore[operator]
        except ImportError:
            return "refused"
        return "accepted"

    ours = outcome(lambda compiler_version: version.check_compiler_version(library, compiler_version))
    assert ours == outcome(own.check_compiler_version)  # type: ignore[attr-defined]
    assert ours == ("accepted" if compiler.startswith("0.10.") else "refused")


def test_a_refused_compiler_is_named() -> None:
    with pytest.raises(ImportError, match=r"betterproto2_compiler 0\.9\.1.*betterproto2 0\.10\.0"):
        version.check_compiler_version("0.10.0", "0.9.1")


def _dist_info(site: Path, name: str, metadata: str | None) -> None:
    folder = site / name
    folder.mkdir()
    if metadata is not None:
        (folder / "METADATA").write_text(metadata)


def test_the_version_comes_from_the_metadata_header(tmp_path: Path) -> None:
    _dist_info(tmp_path, "betterproto2-0.10.0.dist-info",
               "Metadata-Version: 2.4\nName: betterproto2\nVersion: 0.10.0\n\nVersion: 9.9.9 in the text\n")
    _dist_info(tmp_path, "betterproto2_compiler-0.10.1.dist-info", "Version: 0.10.1\n")
    assert version.installed_version(str(tmp_path)) == "0.10.0"


@pytest.mark.parametrize("layout", ["none", "two", "no METADATA", "no Version", "no folder"])
def test_without_exactly_one_readable_version_betterproto2_reads_its_own(tmp_path: Path, layout: str) -> None:
    if layout == "two":
        _dist_info(tmp_path, "betterproto2-0.10.0.dist-info", "Version: 0.10.0\n")
        _dist_info(tmp_path, "betterproto2-0.9.1.dist-info", "Version: 0.9.1\n")
    elif layout == "no METADATA":
        _dist_info(tmp_path, "betterproto2-0.10.0.dist-info", None)
    elif layout == "no Version":
        _dist_info(tmp_path, "betterproto2-0.10.0.dist-info", "Name: betterproto2\n\nVersion: 0.10.0\n")
    site = tmp_path / "missing" if layout == "no folder" else tmp_path
    assert version.installed_version(str(site)) is None


def test_nothing_is_registered_once_betterproto2_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, version.MODULE, raising=False)
    version.install()
    assert version.MODULE not in sys.modules
