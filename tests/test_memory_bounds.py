"""1 GiB bodies stream with bounded memory: the memory benchmarks, run whole as tests.

Each script moves 1 GiB through real processes, checks the echo byte for byte, samples peak RSS
(``VmHWM``) and exits 1 when a process grows by 64 MiB or more. No timing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")


def run(script: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--size", "1G"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_1_gib_servehttp_echo_keeps_the_plugin_under_64_mib_of_growth() -> None:
    out = run("http_memory.py")
    assert "echoed 1024 MiB (status 200, byte-exact True)" in out
    assert ": PASS" in out


def test_a_1_gib_body_through_the_http_front_keeps_host_and_plugin_under_64_mib_of_growth() -> None:
    out = run("front_memory.py")
    assert "echoed 1024 MiB through the front (status 200, byte-exact True)" in out
    assert out.count("growth") == 2
    assert out.rstrip().endswith("PASS")
