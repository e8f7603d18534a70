"""The soak benchmark's quick mode: half a minute of mixed load through ``mmplugin run`` without a
single failed request. Marked slow, so the default run (and CI) leaves it out: ``pytest -m slow``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


@pytest.mark.slow
def test_half_a_minute_of_soak_has_no_errors(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, str(SOAK), "--minutes", "0.5", "--json", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    result = json.loads(out.read_text())
    assert result["errors"] == 0, result["first_errors"]
    assert set(result["by_kind"]) == {"post", "command", "echo", "download", "events"}
    assert len(result["samples"]) >= 6
    assert {v["series"] for v in result["verdicts"]} == {"host_rss_kib", "host_fds", "plugin_rss_kib", "plugin_fds"}
    assert "requests" in run.stdout
