"""``mmplugin enable|disable|remove ID``: one plugin-management call on the server."""

from __future__ import annotations

import argparse

from mmplugin.cli.connection import server
from mmplugin.cli.output import EXIT_OK, say

_DONE = {"enable": "enabled", "disable": "disabled", "remove": "removed"}


def manage_command(args: argparse.Namespace) -> int:
    with server() as client:
        getattr(client, args.command)(args.plugin_id)
        say(f"{_DONE[args.command]} {args.plugin_id} on {client.where}")
    return EXIT_OK


__all__ = ["manage_command"]
