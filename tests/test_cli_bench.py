"""`mmplugin bench` on the command line (the suite itself: tests/test_bench_smoke.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_bench_refuses_an_unknown_stack_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "mmplugin.cli", "bench", "--stack", "nope", "--out",
                             str(tmp_path)], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("mmplugin: error: unknown or unavailable stacks: nope (available: ")
    assert lines[1].startswith("hint: ")
    assert "Traceback" not in result.stderr


def test_bench_help_names_the_extra() -> None:
    result = subprocess.run([sys.executable, "-m", "mmplugin.cli", "bench", "--help"], capture_output=True,
                            text=True, check=True, timeout=60)
    assert "pip install -e '.[bench]'" in result.stdout
    assert "mmplugin bench --quick" in result.stdout


def test_bench_refuses_an_output_directory_it_cannot_make(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    result = subprocess.run([sys.executable, "-m", "mmplugin.cli", "bench", "--quick", "--stack", "limit", "--out",
                             str(a_file / "results")], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"mmplugin: error: cannot write the results into {a_file / 'results'}: Not a directory",
        "hint: see docs/bench.md"]
    assert a_file.read_text() == "mine\n"
