"""The `mmplugin` command line as a whole: help with examples, exit statuses, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmplugin.cli import main
from mmplugin.cli import manage as manage_module

COMMANDS = ("new", "run", "bundle", "deploy", "enable", "disable", "remove", "logs")


def test_main_help_lists_commands_examples_and_exit_statuses() -> None:
    result = subprocess.run([sys.executable, "-m", "mmplugin.cli", "--help"], capture_output=True, text=True,
                            check=False, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    help_text = result.stdout
    for command in COMMANDS:
        assert f"\n    {command} " in help_text
    assert '  mmplugin new "Weather Bot"' in help_text
    assert "$MM_SERVICESETTINGS_SITEURL with $MM_ADMIN_TOKEN" in help_text
    assert "0 success; 1 failure" in help_text
    assert "2 usage error; 130 interrupted." in help_text


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_examples_in_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert f"examples:\n  mmplugin {command} " in help_text
    assert "exit status:" in help_text
    assert ("connecting to a server:" in help_text) == (command in ("deploy", "enable", "disable", "remove", "logs"))
    assert "--max-polls" not in help_text


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["enable"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "mmplugin enable: error: the following arguments are " \
                                                       "required: ID"


def test_an_unexpected_failure_is_one_line_and_a_hint(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(manage_module, "manage_command", broken)
    monkeypatch.delenv("MMPLUGIN_TRACEBACK", raising=False)
    assert main(["enable", "com.example.hello"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "mmplugin: error: unexpected RuntimeError: the disk caught fire",
        "hint: this is a bug in mmplugin; set MMPLUGIN_TRACEBACK=1 to see where, and report it"]
    monkeypatch.setenv("MMPLUGIN_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="the disk caught fire"):
        main(["enable", "com.example.hello"])


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "99999"], "argument --port: 99999 is not a TCP port (0 to 65535; 0 picks a free one)"),
    (["--port", "-1"], "argument --port: -1 is not a TCP port (0 to 65535; 0 picks a free one)"),
    (["--port", "http"], "argument --port: not a port number: 'http'"),
    (["--hook-timeout", "0"], "argument --hook-timeout: 0 is not a positive, finite number of seconds"),
    (["--hook-timeout", "nan"], "argument --hook-timeout: nan is not a positive, finite number of seconds"),
    (["--handshake-timeout", "-5"], "argument --handshake-timeout: -5 is not a positive, finite number of seconds"),
    (["--handshake-timeout", "inf"], "argument --handshake-timeout: inf is not a positive, finite number of seconds"),
    (["--hook-timeout", "soon"], "argument --hook-timeout: not a number of seconds: 'soon'"),
])
def test_run_refuses_a_bad_port_or_timeout_before_starting_anything(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "examples/hello", *args])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"mmplugin run: error: {message}"


def test_run_refuses_a_plugin_directory_given_twice(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "examples/hello", "./examples/hello/", "--port", "0"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "mmplugin: error: plugin directory examples/hello is given twice (examples/hello and ./examples/hello/)",
        "hint: give each plugin once"]
