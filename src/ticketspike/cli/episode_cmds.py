"""Episode commands: ``episodes``, ``ack``, ``snooze``, ``resolve``.

What a CSM does from the Slack alert, for hosts (and people) without Slack: each command acts
through the engine's episode API on a store, so it is recorded (who, when, outcome) and shows
in the episode's history exactly like a click. Every act is idempotent; running a command
twice changes nothing the second time. Output passes through
:func:`~ticketspike.builtin.text.one_line`, so hostile ids cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import getpass

from ..builtin.text import one_line
from ..engine import Engine
from ..episode_acts import parse_duration
from .common import (
    EXIT_OK,
    add_config_args,
    add_format_arg,
    add_store_arg,
    config_from_args,
    print_json,
)
from .store_arg import require_store

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = subparsers.add_parser(
        "episodes",
        help="list spike episodes with acknowledgement, snooze and war room",
        description="List the spike episodes recorded in a store; with EPISODE, its history.",
    )
    listing.add_argument(
        "episode", nargs="?", metavar="EPISODE", help="show this episode's history"
    )
    listing.add_argument("--active", action="store_true", help="only episodes still open")
    _common(listing)
    listing.set_defaults(handler=_episodes)

    ack = subparsers.add_parser("ack", help="acknowledge an episode (stops the escalation chain)")
    ack.add_argument("episode", metavar="EPISODE")
    _common(ack, by=True)
    ack.set_defaults(handler=_ack)

    snooze = subparsers.add_parser(
        "snooze", help="silence a customer's alerts for a while (a recorded silence)"
    )
    snooze.add_argument("customer", metavar="CUSTOMER")
    snooze.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="30m, 4h, 1d..."
    )
    _common(snooze, by=True)
    snooze.set_defaults(handler=_snooze)

    resolve = subparsers.add_parser("resolve", help="resolve an episode now")
    resolve.add_argument("episode", metavar="EPISODE")
    _common(resolve, by=True)
    resolve.set_defaults(handler=_resolve)


def _common(parser: argparse.ArgumentParser, *, by: bool = False) -> None:
    add_store_arg(parser)
    add_config_args(parser)
    add_format_arg(parser)
    if by:
        parser.add_argument(
            "--by", metavar="NAME", help="who acts (default: the login name)", default=None
        )


def _engine(args: argparse.Namespace) -> Engine:
    require_store(args.store)
    return Engine.from_config(config_from_args(args), store=args.store, accounts=args.accounts)


def _by(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _episodes(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        if args.episode:
            history = engine.episode_history(args.episode)
            if args.format == "json":
                print_json(history)
                return EXIT_OK
            for item in history:
                who = f" by {one_line(item['by'])}" if item.get("by") else ""
                extra = item.get("summary") or item.get("outcome") or item.get("severity") or ""
                print(
                    f"{item['at']}  {item['type']:<10} {item['what']:<20}{who}  {one_line(extra)}"
                )
            return EXIT_OK
        views = [engine.episode_view(e) for e in engine.store.episodes(active_only=args.active)]
        if args.format == "json":
            print_json(views)
            return EXIT_OK
        if not views:
            print("No episodes.")
        for v in views:
            ack = (
                f"acked by {one_line(v['acknowledged_by'])}"
                if v["acknowledged_by"]
                else "not acked"
            )
            snoozed = f", snoozed until {v['snoozed_until']}" if v["snoozed_until"] else ""
            room = f", war room {one_line(v['war_room'].get('name', ''))}" if v["war_room"] else ""
            print(
                f"{one_line(v['episode_id'])}  {v['status']:<8} {v['severity']:<8} "
                f"{one_line(v['customer_id'])}  opened {v['opened_at']}  {ack}{snoozed}{room}"
            )
        return EXIT_OK


def _show(args: argparse.Namespace, data: dict[str, object], text: str) -> int:
    if args.format == "json":
        print_json(data)
    else:
        print(text)
    return EXIT_OK


def _ack(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        record = engine.acknowledge(args.episode, by=_by(args))
        return _show(
            args,
            record.to_json(),
            f"{one_line(args.episode)} acknowledged by {one_line(record.by)} "
            f"at {record.at.isoformat()}",
        )


def _snooze(args: argparse.Namespace) -> int:
    duration = parse_duration(args.duration, field="--for")
    with _engine(args) as engine:
        until = engine.clock() + duration
        record = engine.snooze(args.customer, until=until, by=_by(args))
        return _show(
            args,
            record.to_json(),
            f"{one_line(args.customer)} snoozed until {record.data['until']} "
            f"by {one_line(record.by)}",
        )


def _resolve(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        record = engine.resolve_episode(args.episode, by=_by(args))
        what = "resolved" if record.outcome == "done" else "was already resolved"
        return _show(args, record.to_json(), f"{one_line(args.episode)} {what}")
