"""Google protobuf and grpcio modules for the baseline, compiled from the repository's protos/ at run time.

The ``_pb2`` files are never committed: :func:`compile_protos` runs ``grpc_tools.protoc`` into a
temporary directory, whose path the driver hands to its plugin in ``MMPLUGIN_BENCH_PB2``;
:func:`use_compiled` puts it on ``sys.path`` (the generated modules import each other top-level).
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
from pathlib import Path

PROTOS = Path(__file__).resolve().parents[2] / "protos"
PB2_ENV = "MMPLUGIN_BENCH_PB2"


def compile_protos(out: Path) -> Path:
    """Compile every .proto under protos/ (messages and grpcio stubs) into ``out``."""
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    done = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"--python_out={out}",
         f"--grpc_python_out={out}", *files],
        cwd=PROTOS, capture_output=True, text=True, check=False,
    )
    if done.returncode:
        raise RuntimeError(f"grpc_tools.protoc failed on protos/: {done.stderr.strip()}")
    compileall.compile_dir(out, quiet=2)  # imported from bytecode, like mmplugin's modules in the run
    return out


def use_compiled() -> None:
    """Make the modules compiled for this run importable (``hooks_pb2_grpc``, ``goplugin.health_pb2``...)."""
    directory = os.environ.get(PB2_ENV)
    if not directory:
        raise RuntimeError(f"{PB2_ENV} is not set: the baseline's driver compiles protos/ and sets it")
    sys.path.insert(0, directory)
