"""``mmplugin deploy PATH_OR_BUNDLE``: bundle if needed, upload with force, enable (SEMANTICS §8)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmplugin.cli.bundle import build
from mmplugin.cli.connection import server
from mmplugin.cli.output import EXIT_OK, CliError, format_size, say


def deploy_command(args: argparse.Namespace) -> int:
    target = Path(args.path)
    if not target.exists():
        raise CliError(f"{target} does not exist", hint="give a plugin directory or a .tar.gz bundle")
    if not target.is_dir() and not target.name.endswith(".tar.gz"):
        raise CliError(f"{target} is neither a plugin directory nor a .tar.gz bundle",
                       hint="build a bundle with: mmplugin bundle PLUGIN_DIR")
    with server() as client:  # connect first: no bundling for a server that cannot be reached
        bundle = build(target) if target.is_dir() else target
        say(f"uploading {bundle.name} ({format_size(bundle.stat().st_size)}) to {client.where}")
        manifest = client.upload(bundle)
        plugin_id = str(manifest.get("id", ""))
        if not plugin_id:
            raise CliError(f"the server accepted {bundle.name} but did not say which plugin it installed")
        say(f"installed {plugin_id} {manifest.get('version', '')}".rstrip())
        client.enable(plugin_id)
        say(f"enabled {plugin_id}")
    return EXIT_OK


__all__ = ["deploy_command"]
