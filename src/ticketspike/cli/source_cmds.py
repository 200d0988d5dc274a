"""``ticketspike sources``: each ticket source's delivery rhythm and whether it went quiet.

Reads the store only (``--at`` judges at another instant). Signature failures are counted by
the serving process in memory, so this command shows them only through ``/api/health``.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from .common import EXIT_OK, add_format_arg, config_from_args, print_json
from .store_arg import add_store_arg, existing_store, require_store

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sources",
        help="each ticket source's last delivery, usual gap, and whether it went quiet",
        description="List the ticket sources a store has seen: last delivery, the gap its "
        "learned rhythm expects, after how much silence it counts as quiet, and since when "
        "it is quiet (with the warning's time) or ok.",
    )
    add_store_arg(parser)
    parser.add_argument("--config", metavar="FILE", help="ticketspike.yaml (quiet_sources:)")
    parser.add_argument("--at", metavar="ISO", help="judge at this instant (default: now)")
    add_format_arg(parser)
    parser.set_defaults(handler=_sources)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _sources(args: argparse.Namespace) -> int:
    from ..model import parse_time
    from ..source_health import source_policy_from_section
    from ..source_watch import describe_duration, safe_source_name, source_report

    require_store(args.store)
    config = config_from_args(args)
    policy = source_policy_from_section(config.section("quiet_sources"))
    at = parse_time(args.at, where="--at", field="") if args.at else datetime.now(timezone.utc)
    store = existing_store(args.store)
    try:
        verdicts = source_report(store, policy, at=at)
    finally:
        store.close()
    if args.format == "json":
        print_json({"at": at.isoformat(), "sources": [v.to_json() for v in verdicts]})
        return EXIT_OK
    if not verdicts:
        print("No ticket source has delivered to this store yet.")
        return EXIT_OK
    rows = [("SOURCE", "STATUS", "LAST DELIVERY", "EXPECTED GAP", "QUIET AFTER", "QUIET SINCE")]
    for v in verdicts:
        if v.warned_ts is not None:
            since = f"{_when(v.quiet_since_ts)} (warned {_when(v.warned_ts)})"
        elif v.alarming:
            since = f"{_when(v.last_delivery)} (warning at the next tick)"
        else:
            since = "ok" if v.status == "ok" else "-"
        known = v.status not in ("learning", "disabled")
        rows.append(
            (
                safe_source_name(v.source),
                v.status,
                _when(v.last_delivery),
                describe_duration(v.expected_gap) if known else "-",
                describe_duration(v.warn_after) if known else "-",
                since,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    quiet = [v for v in verdicts if v.alarming]
    print(
        f"{len(verdicts)} source(s), {len(quiet)} quiet"
        + (": " + ", ".join(safe_source_name(v.source) for v in quiet) if quiet else "")
        + "."
    )
    return EXIT_OK
