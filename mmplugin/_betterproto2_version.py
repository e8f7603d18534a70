"""betterproto2's version, read without importing ``importlib.metadata``.

betterproto2 0.10 asks ``importlib.metadata.version("betterproto2")`` for its own version when it
is imported, and importing ``importlib.metadata`` (which brings email, zipfile, csv and pathlib) is
about a seventh of a plugin's start-up. The same version is in the ``METADATA`` file of the
distribution's ``.dist-info`` folder beside the package, where installers put it; :func:`install`
reads it from there and registers a ``betterproto2._version`` module holding the same two names
(``__version__``, and ``check_compiler_version``, which generated modules call at import) before
betterproto2 loads. Where that file is not found (an unusual layout) or betterproto2 is already
imported, nothing changes and betterproto2 reads its version itself.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import types

DISTRIBUTION = "betterproto2"
MODULE = "betterproto2._version"


def check_compiler_version(library_version: str, compiler_version: str) -> None:
    """Raise ImportError unless generated code's compiler matches the library in major.minor.

    betterproto2's own rule: library x.y.z works with compiler a.b.c exactly when a == x and b == y.
    """
    if _major_minor(library_version) != _major_minor(compiler_version):
        raise ImportError(
            f"Unsupported version: the proto files were compiled with betterproto2_compiler "
            f"{compiler_version}, which does not work with betterproto2 {library_version} (library "
            "x.y.z matches compiler a.b.c only when a=x and b=y). Install matching versions and "
            "recompile the proto files.")


def installed_version(site_dir: str) -> str | None:
    """The ``Version`` of the one ``betterproto2-*.dist-info`` in ``site_dir``, or None if not exactly one."""
    try:
        names = [name for name in os.listdir(site_dir)
                 if name.startswith(DISTRIBUTION + "-") and name.endswith(".dist-info")]
    except OSError:
        return None
    if len(names) != 1:
        return None
    try:
        with open(os.path.join(site_dir, names[0], "METADATA"), encoding="utf-8") as metadata:
            for line in metadata:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                if key.strip().lower() == "version":
                    return value.strip() or None
    except OSError:
        return None
    return None


def install() -> None:
    """Register ``betterproto2._version`` from the dist-info, if betterproto2 is not loaded yet."""
    if DISTRIBUTION in sys.modules or MODULE in sys.modules:
        return
    spec = importlib.util.find_spec(DISTRIBUTION)
    if spec is None or not spec.submodule_search_locations:
        return
    package_dir = next(iter(spec.submodule_search_locations))
    version = installed_version(os.path.dirname(os.path.abspath(package_dir)))
    if version is None:
        return
    module = types.ModuleType(MODULE, __doc__)
    module.__version__ = version  # type: ignore[attr-defined]
    module.check_compiler_version = functools.partial(check_compiler_version, version)  # type: ignore[attr-defined]
    sys.modules[MODULE] = module


def _major_minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])
