"""generated/ is what the pinned compiler makes of protos/, and ships inside the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    code = "from mmplugin.proto import pb, wkt, health, goplugin; print(pb.Post.__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert result.stdout.strip() == "mmplugin_proto.mattermost.pluginapi.v1"
