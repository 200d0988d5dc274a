"""The ``ticketspike`` command line.

Each group of commands lives in its own module with a ``register(subparsers)``
function that adds its parsers and sets ``handler`` (a callable taking the
parsed arguments and returning an exit status). This module only assembles
them and turns errors into one line on stderr with the right exit status.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

from ..errors import InputError, TicketspikeError
from .common import EXIT_FAILURE, EXIT_INPUT, EXIT_OK, add_format_arg

__all__ = ["main", "build_parser"]

# Command modules, each with register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "ticketspike.cli.detect_cmds",  # scan, replay
    "ticketspike.cli.engine_cmds",  # demo, run, outbox, tickets, retry, backfill
    "ticketspike.cli.config_cmds",  # check-config
    "ticketspike.cli.text_cmds",  # classify, themes
    "ticketspike.cli.serve_cmd",  # serve
    "ticketspike.cli.episode_cmds",  # episodes, ack, snooze, resolve
    "ticketspike.cli.drafts_cmds",  # drafts list|show|approve|reject|resolve
    "ticketspike.cli.unmatched_cmds",  # unmatched, re-resolve
    "ticketspike.cli.records_cmds",  # tasks, health, history, webhooks
    "ticketspike.cli.source_cmds",  # sources
    "ticketspike.cli.incident_cmds",  # incidents
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ticketspike")
    except PackageNotFoundError:
        return "unknown"


def _plugins(args: argparse.Namespace) -> int:
    from ..plugins import Plugins
    from .common import print_json

    plugins = Plugins.from_env(trace=sys.stderr) if args.trace else Plugins.from_env()
    infos = [i for i in plugins.infos() if args.all or not i.builtin]
    if args.format == "json":
        print_json([i.to_json() for i in infos])
        return EXIT_OK
    if not infos:
        print("No plugin distributions installed (built-ins: ticketspike plugins --all).")
        return EXIT_OK
    for info in infos:
        version = f" {info.version}" if info.version else ""
        dist = info.distribution or "(registered in process)"
        roles = ", ".join(info.roles) or "no roles"
        print(f"{info.name}: {dist}{version} - {roles}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketspike",
        description="Detect support-ticket spikes per customer and plan escalations.",
    )
    parser.add_argument("--version", action="version", version=f"ticketspike {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = sub.add_parser("plugins", help="list installed plugin distributions and roles")
    plugins.add_argument("--all", action="store_true", help="include built-in plugins")
    plugins.add_argument("--trace", action="store_true", help="print hook calls to stderr")
    add_format_arg(plugins)
    plugins.set_defaults(handler=_plugins)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_INPUT
    try:
        return handler(args)
    except InputError as exc:
        print(f"ticketspike: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except TicketspikeError as exc:
        print(f"ticketspike: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("ticketspike: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
