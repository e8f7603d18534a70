"""`mmplugin bundle PATH [-o DIR]`: progress while it works, then the archive's path and size."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from mmplugin.author import bundle as bundle_module
from mmplugin.author.bundle import BundleError
from mmplugin.author.scaffold import create_plugin
from mmplugin.cli import main
from mmplugin.cli.output import format_size


def test_bundle_shows_its_steps_and_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Vendoring runs pip (tested in test_bundle.py); an empty vendor tree keeps this test fast.
    monkeypatch.setattr(bundle_module, "vendor_dependencies", lambda requirements, target: target.mkdir())
    project = create_plugin("Weather Bot", tmp_path / "weather")
    monkeypatch.chdir(tmp_path)
    assert main(["bundle", "weather", "-o", "out"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    archive = tmp_path / "out" / "com.example.weather-bot-0.1.0.tar.gz"
    lines = out.splitlines()
    assert lines[:3] == ["bundling com.example.weather-bot 0.1.0 from weather",
                         "  resolving pure-Python dependencies for com.example.weather-bot",
                         "  copying mmplugin into the bundle"]
    assert lines[3].startswith("  packing ")
    assert lines[4:] == [f"built out/{archive.name} ({format_size(archive.stat().st_size)})"]
    with tarfile.open(archive) as tar:
        assert "com.example.weather-bot/plugin.py" in tar.getnames()
    assert not (project.directory / "dist").exists()


@pytest.mark.parametrize(("size", "text"), [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KiB"),
                                            (5 * 1024 * 1024, "5.0 MiB")])
def test_sizes_read_naturally(size: int, text: str) -> None:
    assert format_size(size) == text


def test_bundle_errors_are_one_line_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"mmplugin: error: {tmp_path / 'nope'} does not exist",
        "hint: give the plugin's directory, the one holding plugin.json"]

    assert main(["bundle", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"mmplugin: error: {tmp_path / 'plugin.json'}: no manifest (expected plugin.json in the plugin directory)",
        "hint: create a plugin project with: mmplugin new NAME"]

    (tmp_path / "plugin.json").write_text('{"id": "com.example.x", "version": "one"}')
    assert main(["bundle", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"mmplugin: error: {tmp_path / 'plugin.json'}: version: 'one' is not a semantic version like 1.2.3"]

    def refuse(requirements: list[str], target: Path) -> None:
        raise BundleError("could not vendor the dependencies: numpy has no pure-Python wheel")

    monkeypatch.setattr(bundle_module, "vendor_dependencies", refuse)
    project = create_plugin("Weather Bot", tmp_path / "weather")
    assert main(["bundle", str(project.directory)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"bundling com.example.weather-bot 0.1.0 from {project.directory}"
    assert err == "mmplugin: error: could not vendor the dependencies: numpy has no pure-Python wheel\n"


def test_an_output_path_that_cannot_hold_the_bundle_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    vendored: list[Path] = []
    monkeypatch.setattr(bundle_module, "vendor_dependencies",
                        lambda requirements, target: (vendored.append(target), target.mkdir()))
    project = create_plugin("Weather Bot", tmp_path / "weather")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    for out_dir in (a_file, a_file / "sub"):
        assert main(["bundle", str(project.directory), "-o", str(out_dir)]) == 1
        assert capsys.readouterr().err == (f"mmplugin: error: cannot write the bundle into {out_dir}: "
                                           f"{a_file} is not a directory\n")
    assert vendored == []  # refused before any work
    assert a_file.read_text() == "mine\n"

    # Found only when writing: the archive's name is taken by a directory. Nothing else is left behind.
    out_dir = tmp_path / "out"
    (out_dir / "com.example.weather-bot-0.1.0.tar.gz").mkdir(parents=True)
    assert main(["bundle", str(project.directory), "-o", str(out_dir)]) == 1
    assert capsys.readouterr().err.startswith(
        f"mmplugin: error: cannot write {out_dir / 'com.example.weather-bot-0.1.0.tar.gz'}: ")
    assert [p.name for p in out_dir.iterdir()] == ["com.example.weather-bot-0.1.0.tar.gz"]
