"""The ``mmplugin`` command line: write, test, run and ship plugins.

``new`` creates a project (:mod:`mmplugin.cli.new`), ``run`` hosts plugins locally
(:mod:`mmplugin.cli.run`), ``bundle`` builds the archive (:mod:`mmplugin.cli.bundle`), ``deploy``
installs it on a server (:mod:`mmplugin.cli.deploy`), ``enable``/``disable``/``remove`` manage it
(:mod:`mmplugin.cli.manage`) and ``logs`` reads its server log (:mod:`mmplugin.cli.logs`). The
options and help texts are in :mod:`mmplugin.cli.parser`; terminal output in
:mod:`mmplugin.cli.output`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from mmplugin.cli.output import EXIT_FAILURE, EXIT_INTERRUPTED, CliError, debugging, report
from mmplugin.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mmplugin`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    module, _, name = args.handler.partition(":")
    handler: Callable[..., int] = getattr(importlib.import_module(module), name)
    try:
        return handler(args)
    except CliError as exc:
        report(exc)
    except KeyboardInterrupt:
        print("mmplugin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debugging():
            raise
        report(CliError(f"unexpected {type(exc).__name__}: {exc}",
                        hint="this is a bug in mmplugin; set MMPLUGIN_TRACEBACK=1 to see where, and report it"))
    return EXIT_FAILURE


__all__ = ["build_parser", "main"]
