"""Google's protobuf (upb) classes for the project's protos, compiled at run time (tests, benchmarks).

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
from mmplugin_proto.message_pool import default_message_pool

PROTOS = Path(__file__).resolve().parent.parent / "protos"


def google_message_classes() -> Callable[[type], Any]:
    """Compile protos/ into a fresh descriptor pool; return ``betterproto2 class -> Google class``."""
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", "--include_imports",
             f"--descriptor_set_out={out}", *files],
            check=True, cwd=PROTOS, capture_output=True, text=True,
        )
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set.file:
        pool.Add(file)

    def google_class(cls: type) -> Any:
        full_name = default_message_pool.type_to_url[cls].rpartition("/")[2]
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))

    return google_class
