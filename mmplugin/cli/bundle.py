"""``mmplugin bundle PATH``: build the plugin's ``.tar.gz``, showing each step."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmplugin.author.bundle import BundleError, build_bundle
from mmplugin.cli.output import EXIT_OK, CliError, display_path, format_size, say
from mmplugin.manifest import MANIFEST_NAME, ManifestError, load_manifest


def bundle_command(args: argparse.Namespace) -> int:
    archive = build(Path(args.path), Path(args.output) if args.output else None)
    say(f"built {display_path(archive)} ({format_size(archive.stat().st_size)})")
    return EXIT_OK


def build(plugin_dir: Path, out_dir: Path | None = None) -> Path:
    """Bundle ``plugin_dir`` with progress lines; errors become :class:`CliError`."""
    if not plugin_dir.is_dir():
        what = "is not a directory" if plugin_dir.exists() else "does not exist"
        raise CliError(f"{plugin_dir} {what}", hint="give the plugin's directory, the one holding plugin.json")
    try:
        manifest = load_manifest(plugin_dir)
        say(f"bundling {manifest.id} {manifest.version} from {display_path(plugin_dir)}")
        return build_bundle(plugin_dir, out_dir, progress=lambda line: say(f"  {line}"))
    except ManifestError as exc:
        hint = "" if (plugin_dir / MANIFEST_NAME).exists() else "create a plugin project with: mmplugin new NAME"
        raise CliError(str(exc), hint=hint) from None
    except BundleError as exc:
        raise CliError(str(exc)) from None


__all__ = ["build", "bundle_command"]
