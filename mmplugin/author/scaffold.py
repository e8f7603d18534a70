"""``mmplugin new``: a plugin project that runs, and passes its own tests, out of the box.

:func:`create_plugin` writes ``plugin.json`` (with a ``settings_schema``), ``plugin.py`` (a typed
:class:`~mmplugin.Plugin` subclass: configuration, a slash command, a post filter, an HTTP route),
``tests/test_plugin.py`` (with the ``plugin_host`` fixture of :mod:`mmplugin.testing`),
``README.md``, ``requirements.txt`` and ``pyproject.toml`` (pytest settings). The templates are in
``mmplugin/author/templates``.

Example::

    project = create_plugin("Weather Bot")      # ./weather-bot, id com.example.weather-bot
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import string
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mmplugin.author.paths import why_not_writable
from mmplugin.manifest import MANIFEST_NAME, parse_manifest

MIN_SERVER_VERSION = "10.5.0"
#: Generated file → template in ``mmplugin/author/templates`` (plugin.json is built from data).
TEMPLATES = {
    "plugin.py": "plugin.py.tmpl",
    "tests/test_plugin.py": "test_plugin.py.tmpl",
    "README.md": "README.md.tmpl",
    "requirements.txt": "requirements.txt.tmpl",
    "pyproject.toml": "pyproject.toml.tmpl",
}


class ScaffoldError(Exception):
    """The project cannot be created; the message says why and what to do instead."""


@dataclass(frozen=True)
class Names:
    """Everything a project is named after, derived from the human name."""

    name: str
    """As given: ``"Weather Bot"``."""
    slug: str
    """``weather-bot``: the directory and the slash command."""
    plugin_id: str
    """``com.example.weather-bot`` unless chosen."""
    class_name: str
    """``WeatherBotPlugin``."""

    @classmethod
    def derive(cls, name: str, plugin_id: str | None = None) -> Names:
        name = " ".join(name.split())
        if '"' in name or "\\" in name:
            raise ScaffoldError(f"the plugin name {name!r} cannot contain double quotes or backslashes")
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        words = re.findall(r"[A-Za-z0-9]+", ascii_name)
        if not words:
            raise ScaffoldError(f"cannot make a plugin name out of {name!r}: use letters or digits, "
                                "e.g. mmplugin new \"Weather Bot\"")
        slug = "-".join(word.lower() for word in words)
        camel = "".join(word[0].upper() + word[1:] for word in words)
        if not camel[0].isalpha():
            camel = "My" + camel
        if not camel.endswith("Plugin"):
            camel += "Plugin"
        return cls(name, slug, plugin_id or f"com.example.{slug}", camel)


@dataclass(frozen=True)
class Project:
    directory: Path
    names: Names
    files: tuple[str, ...]
    """Relative paths of the files written, in the order written."""


def manifest_document(names: Names) -> dict[str, Any]:
    """The ``plugin.json`` of a new project."""
    return {
        "id": names.plugin_id,
        "name": names.name,
        "description": f"{names.name}: a Mattermost server plugin written in Python with mmplugin.",
        "version": "0.1.0",
        "min_server_version": MIN_SERVER_VERSION,
        "server": {"executable": "plugin.py", "runtime": "python"},
        "settings_schema": {
            "header": f"Settings of {names.name}.",
            "settings": [
                {"key": "Greeting", "display_name": "Greeting", "type": "text", "default": "Hello",
                 "placeholder": "Hello", "help_text": f"How `/{names.slug}` greets people."},
                {"key": "BlockedWord", "display_name": "Blocked word", "type": "text", "default": "",
                 "help_text": "Posts containing this word are refused. Leave empty to allow every post."},
            ],
        },
    }


def create_plugin(name: str, directory: str | Path | None = None, plugin_id: str | None = None) -> Project:
    """Create the project for plugin ``name`` in ``directory`` (default ``./<slug>``).

    Refuses a directory that exists and is not empty, and an id the server would refuse; raises
    :class:`ScaffoldError` or :class:`~mmplugin.manifest.ManifestError` before writing anything.
    """
    names = Names.derive(name, plugin_id)
    target = Path(directory) if directory is not None else Path(names.slug)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "is a file" if not target.is_dir() else "exists and is not empty"
        raise ScaffoldError(f"{target} {what}; choose another directory with --dir (nothing was written)")
    document = manifest_document(names)
    parse_manifest(document, source=str(target / MANIFEST_NAME))
    contents = {MANIFEST_NAME: json.dumps(document, indent=4) + "\n"}
    values = {"name": names.name, "plugin_id": names.plugin_id, "trigger": names.slug,
              "class_name": names.class_name}
    templates = resources.files("mmplugin.author").joinpath("templates")
    for relative, template in TEMPLATES.items():
        contents[relative] = string.Template(templates.joinpath(template).read_text("utf-8")).substitute(values)
    _write_project(target, contents)
    return Project(target, names, tuple(contents))


def _write_project(target: Path, contents: dict[str, str]) -> None:
    """Write ``contents`` into a new directory beside ``target``, then move it into place whole."""
    reason = why_not_writable(target)
    if reason:
        raise ScaffoldError(f"cannot create {target}: {reason} (nothing was written)")
    staging = target.parent / f".{target.name}.{secrets.token_hex(4)}.new"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise ScaffoldError(f"cannot create {target}: {exc.strerror or exc} (nothing was written)") from None
    try:
        for relative, text in contents.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.replace(staging, target)  # also over an empty directory
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ScaffoldError(f"cannot create {target}: {exc.strerror or exc} (nothing was written)") from None


__all__ = ["MIN_SERVER_VERSION", "Names", "Project", "ScaffoldError", "create_plugin", "manifest_document"]
