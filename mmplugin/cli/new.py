"""``mmplugin new NAME``: create a plugin project and say what to do next."""

from __future__ import annotations

import argparse
import shlex

from mmplugin.author.scaffold import ScaffoldError, create_plugin
from mmplugin.cli.output import EXIT_OK, CliError, display_path, say
from mmplugin.manifest import ManifestError


def new_command(args: argparse.Namespace) -> int:
    try:
        project = create_plugin(args.name, args.directory, args.plugin_id)
    except ManifestError as exc:
        raise CliError(str(exc), hint="choose an id like com.acme.weather with --id") from None
    except ScaffoldError as exc:
        raise CliError(str(exc)) from None
    where = display_path(project.directory)
    say(f"created {where}/ for plugin {project.names.plugin_id} ({project.names.class_name} in plugin.py):")
    for relative in project.files:
        say(f"  {relative}")
    say("next:")
    say(f"  cd {shlex.quote(where)}")
    say("  pytest               run its tests (needs: pip install 'mmplugin[testing]')")
    say("  mmplugin run .       serve it on http://127.0.0.1:8065 with an in-memory Mattermost")
    say("  mmplugin deploy .    bundle it, upload it to your server and enable it")
    return EXIT_OK


__all__ = ["new_command"]
