"""``ticketspike incidents``: the product incidents recorded in a store.

One line per incident (id, status, what the customers spike on, how many, since when), or
with ``--format json`` the full records. Output passes through
:func:`~ticketspike.builtin.text.one_line`, so hostile ids cannot drive the terminal.
"""

from __future__ import annotations

import argparse

from ..builtin.text import one_line
from .common import EXIT_OK, add_format_arg, print_json
from .store_arg import add_store_arg, existing_store

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = subparsers.add_parser(
        "incidents",
        help="list product incidents (many customers spiking together)",
        description="List the product incidents recorded in a store, first spike first.",
    )
    add_store_arg(listing)
    listing.add_argument("--open", action="store_true", help="only incidents still open")
    add_format_arg(listing)
    listing.set_defaults(handler=_incidents)


def _incidents(args: argparse.Namespace) -> int:
    store = existing_store(args.store)
    try:
        records = store.incidents(status="open" if args.open else None)
    finally:
        store.close()
    if args.format == "json":
        print_json([r.to_json() for r in records])
        return EXIT_OK
    if not records:
        print("No incidents.")
    for r in records:
        data = r.data
        customers = data.get("customer_ids") or []
        print(
            f"{one_line(r.incident_id)}  {r.status:<8} {one_line(str(data.get('key', '')))}  "
            f"{len(customers)} customers, {data.get('ticket_count', 0)} tickets  "
            f"since {r.first_spike.isoformat()}  latest {one_line(str(data.get('latest_spike')))}"
        )
    return EXIT_OK
