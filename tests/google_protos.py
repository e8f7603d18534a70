"""Google's protobuf (upb) classes for .proto files, compiled at run time (tests, benchmarks).

Only test and benchmark code imports this: protobuf and grpcio-tools are test extras, never
runtime dependencies.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PROTOS = Path(__file__).resolve().parent.parent / "protos"


def proto_full_name(cls: type) -> str:
    """The protobuf full name of a betterproto2 generated class (from its package's message pool)."""
    pool = sys.modules[cls.__module__].default_message_pool
    url: str = pool.type_to_url[cls]
    return url.rpartition("/")[2]


def google_message_classes(proto_dir: Path = PROTOS) -> Callable[[type], Any]:
    """Compile every .proto below ``proto_dir`` into a fresh descriptor pool.

    Returns a function mapping a betterproto2 class generated from the same files to Google's class.
    """
    files = sorted(str(p.relative_to(proto_dir)) for p in proto_dir.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", "--include_imports",
             f"--descriptor_set_out={out}", *files],
            check=True, cwd=proto_dir, capture_output=True, text=True,
        )
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set.file:
        pool.Add(file)

    def google_class(cls: type) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(proto_full_name(cls)))

    return google_class
