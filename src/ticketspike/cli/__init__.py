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
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InputError, Stopped, TicketspikeError
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
    "ticketspike.cli.view_cmds",  # summary, banner, dashboard, metrics
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ticketspike")
    except PackageNotFoundError:
        return "unknown"


def _plugins(args: argparse.Namespace) -> int:
    from ..plugins import ROLE_HOOKS, Plugins
    from ..roles import PluginConfig
    from .common import print_json

    # Tolerant: a plugin that fails to load is listed with its error, so this command can
    # diagnose it instead of failing with it.
    options: dict[str, Any] = {"tolerant": True}
    if args.trace:
        options["trace"] = sys.stderr
    plugins = Plugins.from_env(**options)
    if plugins.trace is not None:
        # Listing calls no hook; ask each role once (with no config) so the trace shows
        # what every plugin registers.
        for hook in ROLE_HOOKS:
            try:
                plugins.collect(hook, PluginConfig())
            except TicketspikeError as exc:
                print(f"[ticketspike] {hook}: {exc}", file=sys.stderr)
    infos = [i for i in plugins.infos() if args.all or not i.builtin]
    if args.format == "json":
        listed = [i.to_json() for i in infos]
        listed += [{"name": b.plugin, "broken": True, "error": str(b)} for b in plugins.broken]
        print_json(listed)
        return EXIT_OK
    if not infos and not plugins.broken:
        print("No plugin distributions installed (built-ins: ticketspike plugins --all).")
        return EXIT_OK
    for info in infos:
        version = f" {info.version}" if info.version else ""
        dist = info.distribution or "(registered in process)"
        roles = ", ".join(info.roles) or "no roles"
        print(f"{info.name}: {dist}{version} - {roles}")
    for broken in plugins.broken:
        print(f"{broken.plugin}: BROKEN - {broken}")
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


def _json_logs(args: argparse.Namespace) -> bool:
    """``$TICKETSPIKE_LOG_FORMAT=json`` (or ``serve --log-format json``): log records and the
    command's own error lines go out as JSON lines. Text (the default) leaves logging alone."""
    from ..logformat import configure_logging, log_format_from_env

    try:
        chosen = log_format_from_env(getattr(args, "log_format", None))
    except InputError as exc:
        print(f"ticketspike: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT) from None
    if chosen != "json":
        return False
    if args.command != "serve":  # serve configures logging with its own --log-level
        configure_logging("json", level="WARNING")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_INPUT
    as_json = _json_logs(args)

    def say(message: str) -> None:
        if as_json:
            logging.getLogger("ticketspike.cli").error(message)
        else:
            print(f"ticketspike: {message}", file=sys.stderr)

    try:
        return handler(args)
    except Stopped as exc:  # SIGTERM/SIGINT during `run` (cli/shutdown.py)
        say(str(exc))
        return exc.exit_code
    except InputError as exc:
        say(f"error: {exc}")
        return EXIT_INPUT
    except TicketspikeError as exc:
        say(f"error: {exc}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
