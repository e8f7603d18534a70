"""The ``mmplugin`` command line.

``mmplugin run PATH...`` hosts plugins locally: an in-memory PluginAPI, the plugins' processes and
an HTTP front on 127.0.0.1 (see :mod:`mmplugin.cli.run`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmplugin import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmplugin", description="Mattermost server plugins in pure Python.")
    parser.add_argument("--version", action="version", version=f"mmplugin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="host plugins locally with an in-memory Mattermost API",
                              description="Start the plugins in PATH... against an in-memory PluginAPI and serve "
                                          "their HTTP routes on 127.0.0.1. Ctrl-C stops everything.")
    run.add_argument("paths", nargs="+", metavar="PATH", help="plugin directory (holding plugin.json)")
    run.add_argument("--port", type=int, default=8065, help="HTTP port on 127.0.0.1 (default 8065; 0 picks one)")
    run.add_argument("-v", "--verbose", action="store_true", help="log every hook call and HTTP request")
    run.add_argument("--config", metavar="FILE",
                     help='JSON file of plugin settings: {"<plugin id>": {"<setting key>": value}}')
    run.add_argument("--kv-db", metavar="FILE", help="keep the plugins' KV store in this SQLite file")
    run.add_argument("--token", help="access token for the local admin user (default: a new random one)")
    run.add_argument("--python", metavar="INTERPRETER",
                     help="run plugins with this interpreter (default: the plugin's venv, else this one)")
    run.add_argument("--hook-timeout", type=float, default=30.0, metavar="SECONDS", help="hook deadline (30)")
    run.add_argument("--handshake-timeout", type=float, default=10.0, metavar="SECONDS",
                     help="how long a plugin may take to start (10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mmplugin`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    from mmplugin.cli.run import run_command

    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
