"""Rebuild ``generated/mmplugin_proto`` from ``protos/`` with the pinned betterproto2 compiler.

Usage (from the repository root, with the test extras installed)::

    python generated/regenerate.py          # rewrite generated/mmplugin_proto
    python generated/regenerate.py --check  # exit 1, naming the files, when it is stale

The output replaces the old tree only once it has been generated completely, so a failed run
leaves the committed code untouched. The ``mattermost.pluginapi.v1`` and ``google.protobuf``
modules are then made lazy (``generated/lazify.py``): their classes are created on first use, and
the compiler's own text becomes each module's ``.pyi``.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lazify import lazify

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE = ROOT / "generated" / "mmplugin_proto"
OPTIONS = "server_generation=async,client_generation=async"
#: Modules whose classes are created on first use (see generated/lazify.py).
LAZY = ["mattermost/pluginapi/v1/__init__.py", "google/protobuf/__init__.py"]
#: What the lazy module adds to the compiler's text, declared for type checkers.
LAZY_STUB = '''

def load_message(proto_name: str) -> type: ...
def load_all() -> None: ...
'''


def proto_files() -> list[str]:
    """Every .proto below protos/, relative to it, in a stable order."""
    return sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))


def generate(out: Path) -> None:
    """Compile every proto into ``out`` (which must exist)."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"--python_betterproto2_out={OPTIONS}:{out}",
        *(str(PROTOS / name) for name in proto_files()),
    ]
    # The compiler formats its output with ruff; running outside the repository keeps the
    # project's ruff settings from changing the generated text.
    result = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"protoc failed:\n{result.stderr.strip()}")
    for name in LAZY:
        module = out / name
        compiled = module.read_text()
        module.with_suffix(".pyi").write_text(compiled + LAZY_STUB)
        dotted = "mmplugin_proto." + str(Path(name).parent).replace("/", ".")
        for file_name, text in lazify(compiled, dotted).items():
            (module.parent / file_name).write_text(text)


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on either side included)."""
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}

    fa, fb = files(a), files(b)
    changed = [f for f in fa & fb if not filecmp.cmp(a / f, b / f, shallow=False)]
    return sorted(set(changed) | (fa ^ fb))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the tree is stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "mmplugin_proto"
        fresh.mkdir()
        generate(fresh)
        if args.check:
            stale = differences(fresh, PACKAGE) if PACKAGE.exists() else ["(missing)"]
            for name in stale:
                print(f"stale: generated/mmplugin_proto/{name}")
            return 1 if stale else 0
        backup = PACKAGE.with_name("mmplugin_proto.old")
        if PACKAGE.exists():
            PACKAGE.rename(backup)
        shutil.copytree(fresh, PACKAGE)
        shutil.rmtree(backup, ignore_errors=True)
    print(f"generated {len(proto_files())} protos into {PACKAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
