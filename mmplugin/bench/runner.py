"""Run the suite: one driver process per stack, the stacks taking turns case by case, then the report.

Every case runs ``repetitions`` times; within each repetition every stack runs it once, in an order
rotated per repetition, so a burst of load on a shared machine hits all stacks alike and the
ratios stay meaningful. Every driver command has a timeout, so a run always ends.
"""

from __future__ import annotations

import asyncio
import compileall
import datetime
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import mmplugin_proto

import mmplugin
from mmplugin.bench.machine import describe_machine, load_average
from mmplugin.bench.markdown import render_markdown
from mmplugin.bench.plan import FULL, QUICK, WORKLOADS_BY_NAME, Profile, Raw, Stack, available_stacks, cases
from mmplugin.bench.report import build_report, validate_report

#: Seconds a driver gets to compile, launch its plugin and report ready.
START_TIMEOUT = 120.0
#: Seconds a driver gets to stop its plugin and exit after its stdin closes, then after SIGTERM.
STOP_TIMEOUT = 15.0
#: Largest answer line a driver may send (latency samples of one repetition).
ANSWER_LIMIT = 64 * 1024 * 1024


class BenchError(RuntimeError):
    """A driver failed or timed out; the message names the stack, the command and the driver's log."""


def benchmarks_dir() -> Path:
    """The repository's benchmarks/ folder (drivers and plugins live there, not in the package)."""
    folder = Path(mmplugin.__file__).resolve().parent.parent / "benchmarks"
    if not (folder / "driver.py").is_file():
        raise BenchError(f"benchmark drivers not found at {folder}: run `mmplugin bench` from a source "
                         "checkout (pip install -e '.[bench]'); the benchmarks/ folder is not in the wheel")
    return folder


#: The installed packages the stacks' plugins import, byte-compiled with our own trees (those not
#: installed are skipped).
DEPENDENCIES = ("grpclib", "h2", "hpack", "hyperframe", "multidict", "betterproto2", "typing_extensions",
                "uvloop", "grpc", "google.protobuf")


def precompile(bench_dir: Path) -> list[str]:
    """Byte-compile the Python code the stacks import, as ``pip install`` does for installed packages.

    Imports then read bytecode, not source: with ``PYTHONDONTWRITEBYTECODE`` set, or from an editable
    install, every fresh plugin process would otherwise compile our modules (the generated messages
    are 20,000 lines) while the baseline's site-packages come compiled. The dependencies are
    compiled too (a no-op when their bytecode is current): a source file touched after installation
    would otherwise be compiled again by every start of the stacks that import it. Returns the
    folders and files that could not be compiled (read-only, say), for the report's notes.
    """
    failed = []
    for folder in (Path(mmplugin.__file__).parent, Path(mmplugin_proto.__file__).parent, bench_dir):
        if not compileall.compile_dir(folder, quiet=2):
            failed.append(str(folder))
    for name in DEPENDENCIES:
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:  # a parent package (google) that is not installed
            continue
        if spec is None or spec.origin is None:
            continue
        locations = list(spec.submodule_search_locations or [])
        for place in locations or [spec.origin]:
            compiled = (compileall.compile_dir(place, quiet=2) if locations
                        else compileall.compile_file(place, quiet=2))
            if not compiled:
                failed.append(place)
    return failed


class DriverProcess:
    """One stack's driver: JSON commands in on stdin, JSON answers out on stdout, its log in a file."""

    def __init__(self, stack: Stack, process: asyncio.subprocess.Process, log_path: Path,
                 log: IO[bytes]) -> None:
        self.stack = stack
        self._process = process
        self.log_path = log_path
        self._log = log

    @classmethod
    async def start(cls, stack: Stack, bench_dir: Path, log_path: Path) -> DriverProcess:
        path = [str(bench_dir), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        log = log_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(bench_dir / stack.driver), "--loop", stack.loop, cwd=bench_dir, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, limit=ANSWER_LIMIT)
        driver = cls(stack, process, log_path, log)
        try:
            await driver._answer("start", START_TIMEOUT)
        except BaseException:
            await driver.close()
            raise
        return driver

    async def _answer(self, what: str, timeout: float) -> dict[str, Any]:
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise BenchError(f"{self.stack.name}: {what} took longer than {timeout:g} s "
                             f"(driver log: {self.log_path})") from None
        if not line:
            raise BenchError(f"{self.stack.name}: driver exited during {what} (driver log: {self.log_path})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise BenchError(f"{self.stack.name}: {what} failed: {answer.get('error')} "
                             f"(driver log: {self.log_path})")
        result: dict[str, Any] = answer["result"]
        return result

    async def run(self, command: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command).encode() + b"\n")
        await self._process.stdin.drain()
        return await self._answer(f"command {json.dumps(command)}", timeout)

    async def close(self) -> None:
        """Close the driver's stdin (it stops its plugin and exits); SIGTERM it if it does not in time
        (it cancels what it runs and still stops its plugin), SIGKILL as the last resort."""
        if self._process.stdin is not None and not self._process.stdin.is_closing():
            self._process.stdin.close()
        for last_resort in (self._process.terminate, self._process.kill):
            try:
                await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT)
                break
            except asyncio.TimeoutError:
                last_resort()
        await self._process.wait()
        self._log.close()


@dataclass(frozen=True)
class BenchOutput:
    """Where a run wrote its results, and the report itself."""

    report: dict[str, Any]
    json_path: Path
    markdown_path: Path
    plot_path: Path | None


async def _measure(profile: Profile, stacks: Sequence[Stack], log_dir: Path,
                   progress: Callable[[str], None]) -> dict[tuple[str, str], list[Raw]]:
    bench_dir = benchmarks_dir()
    drivers: dict[str, DriverProcess] = {}
    raw: dict[tuple[str, str], list[Raw]] = {}
    try:
        progress(f"starting {', '.join(stack.name for stack in stacks)}")
        launched = await asyncio.gather(*(DriverProcess.start(stack, bench_dir, log_dir / f"{stack.name}.log")
                                          for stack in stacks), return_exceptions=True)
        drivers.update((d.stack.name, d) for d in launched if isinstance(d, DriverProcess))
        for failure in launched:
            if isinstance(failure, BaseException):
                raise failure
        for case in cases(profile):
            ran = [stack for stack in stacks if WORKLOADS_BY_NAME[case.workload].applies(stack)]
            started = time.perf_counter()
            for repetition in range(profile.repetitions):
                turn = repetition % len(ran)
                for stack in ran[turn:] + ran[:turn]:
                    answer = await drivers[stack.name].run(case.command, profile.command_timeout)
                    raw.setdefault((case.name, stack.name), []).append(answer)
            progress(f"{case.workload}: {case.name} ({time.perf_counter() - started:.1f} s)")
    finally:
        await asyncio.gather(*(driver.close() for driver in drivers.values()))
    return raw


def run_bench(quick: bool = False, out_dir: str | Path = "bench-results", *, profile: Profile | None = None,
              stacks: Sequence[str] | None = None,
              progress: Callable[[str], None] | None = None) -> BenchOutput:
    """Run the benchmark suite and write ``bench.json``, ``bench.md`` and ``bench.png`` into ``out_dir``.

    ``quick`` picks the short profile (under 2 minutes on 2 cores) instead of the full one; a
    ``profile`` overrides both. ``stacks`` limits the run to the named stacks (default: every stack
    this interpreter can run; the uvloop stack needs uvloop installed). ``progress`` receives one
    line per finished case (default: stderr). Drivers' logs go to ``out_dir/logs/``. The plot is
    skipped, with a note, when matplotlib is not installed. Raises :class:`BenchError` when a
    stack fails and :class:`~mmplugin.bench.report.ReportError` if the report came out invalid.
    """
    chosen = profile or (QUICK if quick else FULL)
    known = available_stacks()
    if stacks is not None:
        unknown = sorted(set(stacks) - {stack.name for stack in known})
        if unknown:
            raise BenchError(f"unknown or unavailable stacks: {', '.join(unknown)} "
                             f"(available: {', '.join(stack.name for stack in known)})")
    selected = [stack for stack in known if stacks is None or stack.name in stacks]
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(out_dir)
    log_dir = out / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot write the results into {out}: {exc.strerror or exc}") from None

    notes = []
    if "mmplugin-uvloop" not in {stack.name for stack in known}:
        notes.append("uvloop is not installed: the mmplugin-uvloop stack did not run")
    machine = describe_machine()
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    notes += [f"could not byte-compile {folder}: its imports include compiling source"
              for folder in precompile(benchmarks_dir())]
    raw = asyncio.run(_measure(chosen, selected, log_dir, say))
    machine["load_average_end"] = load_average()
    report = build_report(profile=chosen, stacks=selected, cases=cases(chosen), raw=raw, machine=machine,
                          created=created, duration_s=time.perf_counter() - started, notes=notes)
    plot_path: Path | None = out / "bench.png"
    try:
        from mmplugin.bench.plot import plot_report
    except ImportError:
        report["notes"].append("matplotlib is not installed: no plot")
        plot_path = None
    validate_report(report)
    json_path = out / "bench.json"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown_path = out / "bench.md"
    markdown_path.write_text(render_markdown(report), encoding="utf-8")
    if plot_path is not None:
        plot_report(report, plot_path)
    return BenchOutput(report, json_path, markdown_path, plot_path)
