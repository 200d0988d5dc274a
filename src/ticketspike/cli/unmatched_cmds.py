"""``unmatched`` and ``re-resolve``: records kept aside because no customer was found.

``unmatched`` lists what a store holds aside, with each record's reason (which lookups
were tried). After the mapping is fixed (a ``customers`` entry, an organization's external
id, a contact's company), ``re-resolve`` asks each source again and stores and counts what
now resolves, exactly as if it had just been delivered.
"""

from __future__ import annotations

import argparse
from datetime import timezone
from typing import Any

import attrs

from .common import (
    EXIT_OK,
    add_config_args,
    add_format_arg,
    add_store_arg,
    config_from_args,
    print_json,
)
from .store_arg import existing_store, require_store

__all__ = ["register"]


def register(subparsers: Any) -> None:
    listing = subparsers.add_parser(
        "unmatched",
        help="list records kept aside because no customer was found",
        description="List the conversations and tickets a store keeps aside because no "
        "mapping tied them to a customer, with the reason for each.",
    )
    _store_arg(listing)
    listing.add_argument("--source", help="only this source's records")
    add_format_arg(listing)
    listing.set_defaults(handler=_unmatched)

    again = subparsers.add_parser(
        "re-resolve",
        help="map kept-aside records again and count those that now find their customer",
        description="Ask each source again about the records it kept aside (after a mapping "
        "was added) and store and count those that now resolve.",
    )
    _store_arg(again)
    add_config_args(again)
    add_format_arg(again)
    again.set_defaults(handler=_re_resolve)


def _store_arg(parser: argparse.ArgumentParser) -> None:
    add_store_arg(parser)


def _require_store(path: str) -> None:
    require_store(path)


def _unmatched(args: argparse.Namespace) -> int:
    store = existing_store(args.store)
    try:
        records = store.unmatched(source=args.source)
    finally:
        store.close()
    if args.format == "json":
        print_json([r.to_json() for r in records])
        return EXIT_OK
    if not records:
        print("No records kept aside: every delivery found its customer.")
        return EXIT_OK
    for r in records:
        seen = r.last_seen.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        tries = f", {r.attempts} tries" if r.attempts > 1 else ""
        # repr() keeps hostile ids on one line and visibly quoted.
        print(f"{r.source} {r.record_id!r} (last {seen}{tries}): {r.reason}")
    print(
        f"{len(records)} record(s) without a customer; add the mapping, then run "
        f"`ticketspike re-resolve --store {args.store}`."
    )
    return EXIT_OK


def _re_resolve(args: argparse.Namespace) -> int:
    from ..engine import Engine

    _require_store(args.store)
    config = config_from_args(args)
    with Engine.from_config(config, store=args.store, accounts=args.accounts) as engine:
        report = engine.re_resolve()
    if args.format == "json":
        print_json(attrs.asdict(report))
        return EXIT_OK
    print(
        f"Re-resolved {report.tried} record(s): {report.resolved} found their customer and "
        f"were counted, {report.still_unmatched} still kept aside."
    )
    if report.skipped_sources:
        names = ", ".join(report.skipped_sources)
        print(f"Not asked (source not configured or cannot re-resolve): {names}.")
    return EXIT_OK
