"""`mmplugin new`: names, refusals, a valid manifest, and a project whose own tests pass out of the box."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmplugin.author.scaffold import Names, ScaffoldError, create_plugin
from mmplugin.manifest import ManifestError, load_manifest

BIN = Path(sys.executable).parent


def _processes_in(directory: Path) -> list[int]:
    """Pids of live processes whose working directory is ``directory`` (plugins run there)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")) == directory:
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize(("name", "slug", "plugin_id", "class_name"), [
    ("Weather Bot", "weather-bot", "com.example.weather-bot", "WeatherBotPlugin"),
    ("my-plugin", "my-plugin", "com.example.my-plugin", "MyPlugin"),
    ("  Café   Über_Alles ", "cafe-uber-alles", "com.example.cafe-uber-alles", "CafeUberAllesPlugin"),
    ("2fa", "2fa", "com.example.2fa", "My2faPlugin"),
])
def test_names_derive_from_the_human_name(name: str, slug: str, plugin_id: str, class_name: str) -> None:
    assert Names.derive(name) == Names(" ".join(name.split()), slug, plugin_id, class_name)
    assert Names.derive(name, "com.acme.x").plugin_id == "com.acme.x"


@pytest.mark.parametrize(("name", "problem"), [("!!!", "use letters or digits"), ('say "hi"', "double quotes")])
def test_unusable_names_are_refused(name: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=problem):
        Names.derive(name)


def test_the_manifest_is_valid_and_carries_settings(tmp_path: Path) -> None:
    project = create_plugin("Weather Bot", tmp_path / "empty-but-existing")
    manifest = load_manifest(project.directory)
    assert (manifest.id, manifest.name, manifest.version) == ("com.example.weather-bot", "Weather Bot", "0.1.0")
    assert (manifest.executable, manifest.runtime, manifest.is_python) == ("plugin.py", "python", True)
    assert manifest.min_server_version
    assert [(s.key, s.type) for s in manifest.settings] == [("Greeting", "text"), ("BlockedWord", "text")]
    assert manifest.default_configuration() == {"greeting": "Hello", "blockedword": ""}
    assert sorted(project.files) == sorted(["plugin.json", "plugin.py", "tests/test_plugin.py", "README.md",
                                            "requirements.txt", "pyproject.toml"])
    assert all((project.directory / f).is_file() for f in project.files)


def test_existing_content_and_bad_ids_are_refused_before_writing(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="exists and is not empty"):
        create_plugin("Weather Bot", tmp_path / "taken")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    with pytest.raises(ManifestError, match=r"plugin\.json: id: 'no spaces!' must be 3-190 characters"):
        create_plugin("Weather Bot", tmp_path / "fresh", plugin_id="no spaces!")
    assert not (tmp_path / "fresh").exists()


def test_a_place_that_cannot_hold_the_project_is_refused_naming_why(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for target in (a_file / "weather", a_file / "deeper" / "weather"):
        with pytest.raises(ScaffoldError, match=f"^cannot create {target}: {a_file} is not a directory "
                                                r"\(nothing was written\)$"):
            create_plugin("Weather Bot", target)
    assert a_file.read_text() == "mine"


def test_the_project_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []
    real_write = Path.write_text

    def fail_on_the_third_file(path: Path, *args: object, **kwargs: object) -> int:
        written.append(path)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        return real_write(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", fail_on_the_third_file)
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "weather", tmp_path / "empty"):
        written.clear()
        with pytest.raises(ScaffoldError, match=f"^cannot create {target}: No space left on device"):
            create_plugin("Weather Bot", target)
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no staging directory left behind
    assert list((tmp_path / "empty").iterdir()) == []
    monkeypatch.undo()
    project = create_plugin("Weather Bot", tmp_path / "empty")  # an empty directory is filled
    assert (project.directory / "plugin.json").is_file()
    assert oct((project.directory).stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_new_project_passes_its_own_tests(tmp_path: Path) -> None:
    new = subprocess.run([sys.executable, "-m", "mmplugin.cli", "new", "Weather Bot"], cwd=tmp_path,
                         capture_output=True, text=True, check=False, timeout=60)
    assert (new.returncode, new.stderr) == (0, "")
    assert new.stdout.splitlines()[0] == ("created weather-bot/ for plugin com.example.weather-bot "
                                          "(WeatherBotPlugin in plugin.py):")
    assert "  cd weather-bot" in new.stdout.splitlines()
    project = tmp_path / "weather-bot"

    # The generated project on its own: its pyproject.toml, the installed pytest plugin, no outer config.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
                           cwd=project, env=env, capture_output=True, text=True, check=False, timeout=240)
    if Path("/proc/self/cwd").exists():
        assert _processes_in(project.resolve()) == [], "the fixture left plugin processes behind"
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    lint = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--isolated", "--line-length", "120",
                           "--select", "E,F,W,I,B,UP,SIM", "."], cwd=project, capture_output=True, text=True,
                          check=False, timeout=60)
    assert lint.returncode == 0, lint.stdout
