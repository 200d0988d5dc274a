"""Read commands: ``summary``, ``banner``, ``dashboard``, ``metrics``.

The same typed reads the HTTP API and the dashboard pages show (:mod:`ticketspike.views`),
from a store on the command line: JSON is each value's ``to_json()`` (the API's shapes), text
is one line per fact, passed through :func:`~ticketspike.builtin.text.one_line` so hostile ids
and names cannot drive the terminal.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from ..builtin.text import one_line
from ..engine import Engine
from ..errors import InputError
from ..model import parse_time
from ..views import PERIODS, HistoryRow, duration_text
from .common import EXIT_OK, add_config_args, add_format_arg, config_from_args, print_json
from .store_arg import add_store_arg, require_store

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    summary = subparsers.add_parser(
        "summary", help="a customer's recent tickets, baseline and rate"
    )
    summary.add_argument("customer", metavar="CUSTOMER")
    summary.add_argument("--limit", type=int, default=20, help="recent tickets to show (20)")
    _common(summary)
    summary.set_defaults(handler=_summary)

    banner = subparsers.add_parser("banner", help="a customer's spike banner")
    banner.add_argument("customer", metavar="CUSTOMER")
    _common(banner)
    banner.set_defaults(handler=_banner)

    board = subparsers.add_parser("dashboard", help="the active escalations, one card each")
    _common(board)
    board.set_defaults(handler=_dashboard)

    metrics = subparsers.add_parser(
        "metrics", help="detection lag, time to acknowledge and to resolution"
    )
    metrics.add_argument("--period", choices=PERIODS, default="week", help="group by (week)")
    _common(metrics)
    metrics.set_defaults(handler=_metrics)


def _common(parser: argparse.ArgumentParser) -> None:
    add_store_arg(parser)
    parser.add_argument("--at", metavar="ISO", help="as of this instant (default: now)")
    add_config_args(parser)
    add_format_arg(parser)


def _engine(args: argparse.Namespace) -> tuple[Engine, datetime]:
    require_store(args.store)
    engine = Engine.from_config(config_from_args(args), store=args.store, accounts=args.accounts)
    at = parse_time(args.at, where="--at", field="--at") if args.at else engine.clock()
    return engine, at


def _summary(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 10_000:
        raise InputError("expected a whole number from 1 to 10000", where="--limit")
    engine, at = _engine(args)
    with engine:
        view = engine.summary(args.customer, at=at, limit=args.limit)
    if args.format == "json":
        print_json(view.to_json())
        return EXIT_OK
    spike = f"SPIKE ({view.severity})" if view.is_spike else "no spike"
    mult = "no baseline" if view.multiplier is None else f"{view.multiplier}x"
    print(
        f"{one_line(view.customer_id)}: {spike}, {view.ticket_count} tickets in "
        f"{view.period_hours:g} h ({mult}; baseline {view.baseline}/day)"
    )
    if view.themes:
        print(f"themes: {one_line(', '.join(view.themes))}")
    for t in view.recent_tickets:
        print(
            f"  {t.created_at.isoformat()}  {one_line(t.ticket_id, limit=40):<12} "
            f"{t.priority.value} {t.category.value:<15} {one_line(t.subject, limit=100)}"
        )
    return EXIT_OK


def _banner(args: argparse.Namespace) -> int:
    engine, at = _engine(args)
    with engine:
        view = engine.banner(args.customer, at=at)
    if args.format == "json":
        print_json(view.to_json())
        return EXIT_OK
    name = one_line(view.customer_name)
    if view.active:
        print(
            f"SUPPORT SPIKE ({view.severity}) {name}: {view.ticket_count} tickets in the last "
            f"{view.period_hours:g} h, {view.trend} (before: {view.previous_count}) "
            f"- {view.quick_action}"
        )
    else:
        print(f"{name}: no active spike ({view.ticket_count} tickets in {view.period_hours:g} h)")
    return EXIT_OK


def _dashboard(args: argparse.Namespace) -> int:
    engine, at = _engine(args)
    with engine:
        view = engine.dashboard(at=at)
    if args.format == "json":
        print_json(view.to_json())
        return EXIT_OK
    if not view.escalations:
        print("No active escalation.")
    for card in view.escalations:
        ack = f"acked by {one_line(card.acknowledged_by)}" if card.acknowledged_by else "not acked"
        p = card.progress
        print(
            f"{one_line(card.customer_name)} [{card.severity}] {one_line(card.episode_id)}: "
            f"detected {card.since_detection} ago, {ack}, actions {p.actions_done}/"
            f"{p.actions_total} done, tickets {p.tickets_resolved}/{p.tickets_total} resolved"
        )
    return EXIT_OK


def _metrics(args: argparse.Namespace) -> int:
    engine, at = _engine(args)
    with engine:
        view = engine.success_metrics(at=at, period=args.period)
    if args.format == "json":
        print_json(view.to_json())
        return EXIT_OK

    def row(r: HistoryRow) -> str:
        return (
            f"  {one_line(r.label, limit=40):<20} {r.episodes:>4} escalations  "
            f"lag {duration_text(r.detection_lag):<14} ack {duration_text(r.to_acknowledge):<14} "
            f"resolve {duration_text(r.to_resolution)}"
        )

    print(f"medians; {view.within_detection_goal} of {view.overall.episodes} within 2 h")
    print(row(view.overall))
    print(f"per {view.period}:")
    for r in view.by_period:
        print(row(r))
    print("per CSM:")
    for r in view.by_csm:
        print(row(r))
    return EXIT_OK
