"""``ticketspike classify`` and ``ticketspike themes``: the text analysis, from a file.

``classify`` shows what category each ticket gets and how sure that is, so
an operator can check the classifier against their own tickets before
trusting its routing. ``themes`` shows what one customer's current window is
about, contrasted with that customer's baseline, exactly as an alert would.
Ticket text is never printed: only ids, categories, numbers and theme
phrases, which are rebuilt from plain words.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..model import EventKind, Ticket, TicketEvent, check_customer_id, parse_time
from ..plugin_runners import analyze_with_fallback, classify_with_fallback
from ..plugins import Plugins
from ..signals import Classification, Theme
from ..ticketfile import iter_ticket_events
from .common import (
    EXIT_OK,
    Progress,
    add_config_arg,
    add_format_arg,
    config_from_args,
    count,
    print_json,
)

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["register"]

# Plugin analyzers may call a remote model; a command should not hang on one.
_BUDGET_SECONDS = 10.0
# Fewer baseline tickets than this and the customer is contrasted with everyone.
_MIN_OWN_BASELINE = 10


def register(subparsers: Any) -> None:
    classify = subparsers.add_parser(
        "classify",
        help="print each ticket's category and the classifier's confidence",
        description="Categorize tickets (tags first, then the text classifier). "
        "Categories the source gave are kept.",
    )
    classify.add_argument("tickets", metavar="TICKETS.jsonl", help="ticket JSON Lines file")
    add_config_arg(classify)
    classify.add_argument(
        "--all", action="store_true", help="also list tickets whose source gave a category"
    )
    add_format_arg(classify)
    classify.set_defaults(handler=_classify)

    themes = subparsers.add_parser(
        "themes",
        help="print the themes of one customer's current window",
        description="Themes unusually frequent in a customer's window (the hours before --at) "
        "compared with the days before it.",
    )
    themes.add_argument("tickets", metavar="TICKETS.jsonl", help="ticket JSON Lines file")
    themes.add_argument("--customer", metavar="ID", required=True, help="customer id")
    themes.add_argument(
        "--at", metavar="ISO", help="end of the window (default: the newest ticket's time)"
    )
    themes.add_argument("--limit", type=int, default=None, metavar="N", help="at most N themes")
    add_config_arg(themes)
    add_format_arg(themes)
    themes.set_defaults(handler=_themes)


def _latest_tickets(events: Sequence[TicketEvent]) -> list[Ticket]:
    """One ticket per identity, as last updated, in order of first appearance."""
    latest: dict[tuple[str, str], Ticket] = {}
    for event in events:
        if event.kind is EventKind.RESOLVED and event.ticket.key in latest:
            continue
        latest[event.ticket.key] = event.ticket
    return list(latest.values())


def _read(path: str, config: Config) -> list[TicketEvent]:
    """Every event of the file, with a progress line while it is read."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    progress = Progress(f"reading {os.path.basename(path)}", total=size, unit="bytes")
    events = list(
        iter_ticket_events(
            path,
            strict_categories=config.strict_categories,
            on_line=(lambda _n, read: progress.update(read)) if progress.enabled else None,
        )
    )
    progress.close(size)
    return events


def _classify(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    events = _read(args.tickets, config)
    classifiers = Plugins.from_env().classifiers(config.plugins)
    rows: list[tuple[Ticket, Classification]] = []
    tickets = [t for t in _latest_tickets(events) if args.all or not t.category_given]
    progress = Progress("classifying", total=len(tickets), unit="tickets")
    for n, ticket in enumerate(tickets, 1):
        answer = classify_with_fallback(classifiers, ticket, budget_seconds=_BUDGET_SECONDS)
        rows.append((ticket, answer))
        progress.update(n)
    progress.close(len(tickets))
    if args.format == "json":
        print_json(
            [
                {
                    "ticketId": t.ticket_id,
                    "customerId": t.customer_id,
                    "category": a.category.value,
                    "confidence": round(a.confidence, 4),
                    "given": t.category_given,
                    "reason": a.reason,
                }
                for t, a in rows
            ]
        )
        return EXIT_OK
    if not rows:
        print("No tickets without a category (use --all to list every ticket).")
        return EXIT_OK
    width = max(len(t.ticket_id) for t, _a in rows)
    for ticket, answer in rows:
        print(
            f"{ticket.ticket_id:<{width}}  {answer.category.value:<15} "
            f"{answer.confidence:5.2f}  {answer.reason}"
        )
    counts: dict[str, int] = {}
    for _t, answer in rows:
        counts[answer.category.value] = counts.get(answer.category.value, 0) + 1
    summary = ", ".join(f"{n} {c}" for c, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"\n{count(len(rows), 'ticket')}: {summary}")
    return EXIT_OK


def _themes(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.limit is not None and args.limit < 1:
        raise InputError("expected a whole number >= 1", field="--limit")
    customer_id = check_customer_id(args.customer, field="--customer")
    events = _read(args.tickets, config)
    tickets = [t for t in _latest_tickets(events) if t.customer_id == customer_id]
    if not tickets:
        raise InputError(f"no tickets for customer {customer_id!r}", where=args.tickets)
    if args.at is not None:
        at = parse_time(args.at, where="--at", field="")
    else:
        at = max(e.at for e in events)
    window_hours = config.detection.window_hours
    start = at - timedelta(hours=window_hours)
    baseline_start = start - timedelta(days=config.detection.baseline_days)
    customer = [t for t in tickets if not t.internal]
    window = [t for t in customer if start < t.created_at <= at]
    baseline = [t for t in customer if baseline_start < t.created_at <= start]
    baseline_of = "customer"
    if len(baseline) < _MIN_OWN_BASELINE:
        # A new customer has too little history to contrast with; what every
        # customer in the file wrote in the same period stands in for it.
        others = [
            t
            for t in _latest_tickets(events)
            if not t.internal and baseline_start < t.created_at <= start
        ]
        if len(others) > len(baseline):
            baseline, baseline_of = others, "all customers"

    analyzers = Plugins.from_env().theme_analyzers(config.plugins)
    limit = args.limit if args.limit is not None else _configured_limit(analyzers)
    themes = (
        analyze_with_fallback(
            analyzers, window, baseline, limit=limit, budget_seconds=_BUDGET_SECONDS
        )
        if window
        else []
    )
    if args.format == "json":
        print_json(
            {
                "customer_id": customer_id,
                "at": at.isoformat(),
                "period_start": start.isoformat(),
                "period_end": at.isoformat(),
                "window_tickets": len(window),
                "baseline_start": baseline_start.isoformat(),
                "baseline_tickets": len(baseline),
                "baseline_of": baseline_of,
                "themes": [_theme_json(t) for t in themes],
            }
        )
        return EXIT_OK
    print(
        _header(
            customer_id,
            at,
            window_hours,
            len(window),
            len(baseline),
            config.detection.baseline_days,
            baseline_of,
        )
    )
    if not themes:
        print("  no theme stands out" if window else "  no tickets in the window")
        return EXIT_OK
    for number, theme in enumerate(themes, 1):
        area = f"; area: {theme.area}" if theme.area else ""
        examples = ", ".join(theme.ticket_ids)
        tickets_word = "ticket" if theme.count == 1 else "tickets"
        print(
            f"  {number}. {theme.phrase} ({theme.count} {tickets_word}{area})"
            + (f"  e.g. {examples}" if examples else "")
        )
    return EXIT_OK


def _configured_limit(analyzers: Sequence[Any]) -> int:
    for analyzer in reversed(analyzers):
        settings = getattr(analyzer, "settings", None)
        limit = getattr(settings, "limit", None)
        if isinstance(limit, int):
            return limit
    return 5


def _header(
    customer: str, at: datetime, hours: int, n_window: int, n_base: int, days: int, baseline_of: str
) -> str:
    whose = "" if baseline_of == "customer" else f" (from {baseline_of})"
    return (
        f"Themes for {customer}: {count(n_window, 'ticket')} in the {hours} h to "
        f"{at.isoformat()}, against {n_base:,} in the {days} days before{whose}"
    )


def _theme_json(theme: Theme) -> dict[str, Any]:
    return {
        "phrase": theme.phrase,
        "count": theme.count,
        "area": theme.area,
        "ticket_ids": list(theme.ticket_ids),
        "score": theme.score,
    }
