"""The ``mmplugin`` argument parser: every command, its options, examples and exit statuses.

Each command names its handler as ``"module:function"``; :func:`mmplugin.cli.main` imports it only
when the command runs, so ``--help`` and the light commands never import the host.
"""

from __future__ import annotations

import argparse
import math

from mmplugin import __version__

SERVER_ENVIRONMENT = """\
connecting to a server:
  the local-mode socket $MM_LOCALSOCKETPATH (default /var/tmp/mattermost_local.socket) when it
  exists, no credentials needed; otherwise $MM_SERVICESETTINGS_SITEURL with $MM_ADMIN_TOKEN, or
  with $MM_ADMIN_USERNAME and $MM_ADMIN_PASSWORD."""

EXIT_STATUS = """\
exit status:
  0 success; 1 failure, reported on stderr as "mmplugin: error: ..." (plus "hint: ..." when
  there is something to try); 2 usage error; 130 interrupted."""

MAIN_EPILOG = f"""\
examples:
  mmplugin new "Weather Bot"          create ./weather-bot: plugin, settings, tests, README
  cd weather-bot && pytest            test it: the plugin runs as a process under a local host
  mmplugin run .                      serve it on http://127.0.0.1:8065 with an in-memory Mattermost
  mmplugin bundle .                   build dist/com.example.weather-bot-0.1.0.tar.gz
  mmplugin deploy .                   bundle it, upload it to a server and enable it
  mmplugin logs com.example.weather-bot --follow

{SERVER_ENVIRONMENT}

{EXIT_STATUS}

"mmplugin COMMAND --help" shows a command's options and examples."""


def _port(text: str) -> int:
    """``--port``: 0 (pick a free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0 to 65535; 0 picks a free one)")
    return port


def _seconds(text: str) -> float:
    """A timeout or interval: a positive, finite number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite number of seconds")
    return seconds


def _command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: str, *,
             summary: str, description: str, examples: str, server: bool = False) -> argparse.ArgumentParser:
    epilog = f"examples:\n{examples}\n\n" + (f"{SERVER_ENVIRONMENT}\n\n" if server else "") + EXIT_STATUS
    parser = commands.add_parser(name, help=summary, description=description, epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmplugin", description="Write, test, run and ship Mattermost server plugins in pure Python.",
        epilog=MAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mmplugin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new = _command(commands, "new", "mmplugin.cli.new:new_command", summary="create a plugin project",
                   description="Create a plugin project that runs and passes its own tests: plugin.json with "
                               "settings, plugin.py, tests/test_plugin.py, README.md, requirements.txt and "
                               "pyproject.toml (pytest settings). An existing non-empty directory is refused.",
                   examples='  mmplugin new "Weather Bot"\n'
                            "  mmplugin new weather --id com.acme.weather --dir plugins/weather")
    new.add_argument("name", metavar="NAME", help='human name of the plugin, e.g. "Weather Bot"')
    new.add_argument("--id", dest="plugin_id", metavar="ID",
                     help="plugin id (default com.example.<name as a slug>)")
    new.add_argument("--dir", dest="directory", metavar="DIR", help="directory to create (default ./<slug>)")

    run = _command(commands, "run", "mmplugin.cli.run:run_command",
                   summary="host plugins locally with an in-memory Mattermost API",
                   description="Start the plugins in PATH... against an in-memory PluginAPI and serve "
                               "their HTTP routes on 127.0.0.1. Ctrl-C stops everything.",
                   examples="  mmplugin run .\n"
                            "  mmplugin run plugins/hello plugins/weather --port 8070 -v\n"
                            "  mmplugin run . --config settings.json --kv-db kv.sqlite")
    run.add_argument("paths", nargs="+", metavar="PATH", help="plugin directory (holding plugin.json)")
    run.add_argument("--port", type=_port, default=8065, help="HTTP port on 127.0.0.1 (default 8065; 0 picks one)")
    run.add_argument("-v", "--verbose", action="store_true", help="log every hook call and HTTP request")
    run.add_argument("--config", metavar="FILE",
                     help='JSON file of plugin settings: {"<plugin id>": {"<setting key>": value}}')
    run.add_argument("--kv-db", metavar="FILE", help="keep the plugins' KV store in this SQLite file")
    run.add_argument("--token", help="access token for the local admin user (default: a new random one)")
    run.add_argument("--python", metavar="INTERPRETER",
                     help="run plugins with this interpreter (default: the plugin's venv, else this one)")
    run.add_argument("--hook-timeout", type=_seconds, default=30.0, metavar="SECONDS", help="hook deadline (30)")
    run.add_argument("--handshake-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                     help="how long a plugin may take to start (10)")

    bundle = _command(commands, "bundle", "mmplugin.cli.bundle:bundle_command",
                      summary="build the .tar.gz a server installs",
                      description="Build <id>-<version>.tar.gz from the plugin in PATH: its files, its "
                                  "requirements.txt and mmplugin vendored as pure-Python packages, runnable "
                                  "on any server. The same inputs give the same bytes.",
                      examples="  mmplugin bundle .\n  mmplugin bundle plugins/weather -o /tmp/bundles")
    bundle.add_argument("path", metavar="PATH", help="plugin directory (holding plugin.json)")
    bundle.add_argument("-o", "--output", metavar="DIR", help="where to write the bundle (default PATH/dist)")

    deploy = _command(commands, "deploy", "mmplugin.cli.deploy:deploy_command",
                      summary="install a plugin on a server and enable it",
                      description="Upload a bundle to the server (replacing an installed version) and "
                                  "enable the plugin. Given a plugin directory, bundle it first.",
                      examples="  mmplugin deploy .\n"
                               "  mmplugin deploy dist/com.example.weather-bot-0.1.0.tar.gz\n"
                               "  MM_SERVICESETTINGS_SITEURL=https://chat.example.com MM_ADMIN_TOKEN=... "
                               "mmplugin deploy .",
                      server=True)
    deploy.add_argument("path", metavar="PATH_OR_BUNDLE", help="plugin directory, or a .tar.gz bundle")

    for name, summary in (("enable", "enable an installed plugin"), ("disable", "disable a plugin"),
                          ("remove", "uninstall a plugin")):
        manage = _command(commands, name, "mmplugin.cli.manage:manage_command", summary=summary,
                          description=f"{summary[0].upper()}{summary[1:]} on the server.",
                          examples=f"  mmplugin {name} com.example.weather-bot", server=True)
        manage.add_argument("plugin_id", metavar="ID", help="plugin id, as in plugin.json")

    logs = _command(commands, "logs", "mmplugin.cli.logs:logs_command", summary="show a plugin's server log",
                    description="Print the server log lines of plugin ID (from the server's latest log page). "
                                "With --follow, keep printing new lines every 2 s until Ctrl-C.",
                    examples="  mmplugin logs com.example.weather-bot\n"
                             "  mmplugin logs com.example.weather-bot --follow\n"
                             "  mmplugin logs com.example.weather-bot --json | jq .msg",
                    server=True)
    logs.add_argument("plugin_id", metavar="ID", help="plugin id, as in plugin.json")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.add_argument("--json", action="store_true", help="print the server's JSON lines unchanged")
    logs.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    logs.add_argument("--max-polls", type=int, default=None, help=argparse.SUPPRESS)

    bench = _command(commands, "bench", "mmplugin.cli.bench:bench_command",
                     summary="benchmark mmplugin against grpcio and the raw-socket limit",
                     description="Run the benchmark suite (hook latency, ServeHTTP throughput, API calls, cold "
                                 "start, codec) for mmplugin, upstream's grpcio stack and a raw asyncio socket "
                                 "in one run, and write bench.json, bench.md and bench.png. Needs a source "
                                 "checkout with the bench extra: pip install -e '.[bench]'. See docs/bench.md.",
                     examples="  mmplugin bench --quick             under 2 minutes on 2 cores\n"
                              "  mmplugin bench --out results       the full run, under 15 minutes")
    bench.add_argument("--quick", action="store_true", help="the short profile instead of the full one")
    bench.add_argument("--out", default="bench-results", metavar="DIR", help="output directory (bench-results)")
    bench.add_argument("--stack", action="append", metavar="NAME",
                       help="run only this stack (repeatable): mmplugin, mmplugin-uvloop, grpcio, limit")
    return parser


__all__ = ["build_parser"]
